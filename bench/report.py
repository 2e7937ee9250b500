"""bench/results/*.json → bench/RESULTS.md and bench/chart.png, and the ratios on stdout.

    python -m bench.report            # every preset's results that exist
    python -m bench.report quick      # one preset

Hand-written profiling notes in bench/NOTES.md are appended to RESULTS.md as they are.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from pathlib import Path

from bench import onnx_compare, profile
from bench.common import run_tag

# Measured at every N of a scaling series (compare runs at the same N count too).
SCALING_SYSTEMS = ("vista-auto", "single", "limit")

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
LOGS = HERE.parent / "build" / "bench" / "logs"
SYSTEM_NAMES = {
    "vista-auto": "vista_sql, optimizer's plan",
    "vista-lazy": "vista_sql, forced Lazy",
    "vista-eager": "vista_sql, forced Eager",
    "vista-staged": "vista_sql, forced Staged",
    "pyspark-peer": "hand-written PySpark (predict_batch_udf + MLlib)",
    "single": "single machine (Keras predict + scikit-learn)",
    "limit": "limit (one Keras pass + MLlib)",
}
ORDER = list(SYSTEM_NAMES)


# -- reading ----------------------------------------------------------------------------------


def load(presets: list[str] | None = None) -> list[dict]:
    files = sorted(RESULTS.glob("*.json"))
    loaded = []
    for file in files:
        if presets and file.stem not in presets:
            continue
        payload = json.loads(file.read_text())
        if "runs" not in payload:
            continue  # a series with its own table (incremental, paper scale), noted in NOTES.md
        for run in payload["runs"]:
            # Re-read the raw py-spy profiles, so summaries follow the current categories.
            key = (run["series"], run["system"], run["cnn"], run["k"], run["n"], run["budget"])
            directory = LOGS / f"{run_tag(*key)}.profile"
            if directory.is_dir() and any(directory.glob("*-*.txt")):
                run["child"]["profile"] = profile.summarise(directory)
        loaded.append(payload)
    return loaded


def breakdown(record: dict) -> dict:
    """Seconds of start-up, CNN (incl. decoding), training, and the rest of the process wall."""
    phases = record["child"].get("phases", [])
    startup = cnn = training = transfer = 0.0
    for p in phases:
        name, seconds = p["name"], p["seconds"]
        if p.get("bookkeeping"):
            continue
        if name.startswith(("start", "import", "build")):
            startup += seconds
        elif name.startswith(("stage ", "cnn", "decode")):
            cnn += seconds
        elif name.startswith("train"):
            training += seconds
        elif name.startswith("transfer"):
            transfer += seconds
    if transfer:  # vista: training (and planning) is the statement's time outside its CNN stages
        training += max(0.0, transfer - cnn)
    other = max(0.0, record["wall_seconds"] - startup - cnn - training)
    return {"startup": startup, "cnn": cnn, "training": training, "other": other}


def rates(record: dict) -> str:
    parts = []
    for p in record["child"].get("phases", []):
        if p.get("images_per_s") and not p["name"].startswith("decode"):
            label = p["name"].removeprefix("stage ").replace(" cnn: ", ": ")
            parts.append(f"{label} {p['images_per_s']:.1f}")
        elif p.get("images_per_s"):
            parts.append(f"decode {p['images_per_s']:.0f}")
    return "; ".join(parts)


def strategy(record: dict) -> str:
    if record["system"] == "vista-auto":
        return record["child"].get("strategy") or "?"
    return record["system"].removeprefix("vista-") if record["system"].startswith("vista") else ""


def compare_groups(runs: list[dict]) -> dict[tuple, dict[str, dict]]:
    groups: dict[tuple, dict[str, dict]] = {}
    for r in runs:
        if r["series"] == "compare":
            groups.setdefault((r["cnn"], r["k"], r["n"]), {})[r["system"]] = r
    return groups


def scaling_points(runs: list[dict], cnn: str, k: int) -> dict[str, dict[int, dict]]:
    points: dict[str, dict[int, dict]] = {}
    for r in runs:
        if r["series"] in ("compare", "scaling") and (r["cnn"], r["k"]) == (cnn, k):
            if r["system"] in SCALING_SYSTEMS and ok(r):
                points.setdefault(r["system"], {})[r["n"]] = r
    return points


# -- ratios -----------------------------------------------------------------------------------


def plan_run(group: dict, plan: str) -> dict | None:
    """The run of `plan`: the forced one, or the optimizer's when it chose that plan."""
    auto = group.get("vista-auto")
    if auto and auto["child"].get("strategy") == plan:
        return auto
    return group.get(f"vista-{plan}")


def ok(r: dict | None) -> bool:
    return bool(r) and r["status"] in ("finish", "spill")


def ratio(a: dict | None, b: dict | None, key: str = "wall_seconds") -> float | None:
    if not (ok(a) and ok(b)):
        return None
    if key == "cnn":
        x, y = breakdown(a)["cnn"], breakdown(b)["cnn"]
    else:
        x, y = a[key], b[key]
    return x / y if y else None


def ratios(group: dict) -> list[tuple[str, float | None, str]]:
    auto, staged = group.get("vista-auto"), plan_run(group, "staged")
    rows = [
        ("vista / limit (process wall)", ratio(auto, group.get("limit")), "≤ 1.2"),
        ("vista / limit (CNN phases only)", ratio(auto, group.get("limit"), "cnn"), ""),
        ("vista / hand-written PySpark peer", ratio(auto, group.get("pyspark-peer")), "≤ 0.3"),
        ("vista / single-machine peer", ratio(auto, group.get("single")), "≤ 1.2"),
        ("staged / lazy", ratio(staged, plan_run(group, "lazy")), ""),
        ("staged / eager", ratio(staged, plan_run(group, "eager")), ""),
        ("vista CPU / limit CPU", ratio(auto, group.get("limit"), "cpu_seconds"), ""),
        ("vista CPU / PySpark peer CPU", ratio(auto, group.get("pyspark-peer"), "cpu_seconds"), ""),
        ("vista CPU / single-machine CPU", ratio(auto, group.get("single"), "cpu_seconds"), ""),
        (
            "vista peak memory / limit peak memory",
            ratio(auto, group.get("limit"), "peak_rss_mb"),
            "",
        ),
    ]
    return rows


def _wall_or_outcome(runs: list[dict], system: str, cnn: str, k: int, n: int) -> str:
    """A run's wall seconds, or how it ended when it did not finish (e.g. killed for memory)."""
    for r in runs:
        if r["series"] in ("compare", "scaling") and (r["system"], r["cnn"], r["k"], r["n"]) == (
            system,
            cnn,
            k,
            n,
        ):
            if ok(r):
                return fmt(r["wall_seconds"], 1)
            return f"{r['status']}: {r['child'].get('error', '?')}"
    return "—"


def per_image(points: dict[int, dict]) -> dict[int, float]:
    return {n: r["wall_seconds"] / n for n, r in sorted(points.items())}


def flatness(costs: dict[int, float]) -> float | None:
    if len(costs) < 2:
        return None
    values = list(costs.values())
    return max(values) / min(values) - 1


def marginal(points: dict[int, dict]) -> float | None:
    """Seconds per extra image: the slope of wall time over N (least squares)."""
    if len(points) < 2:
        return None
    ns = sorted(points)
    walls = [points[n]["wall_seconds"] for n in ns]
    mean_n, mean_w = statistics.fmean(ns), statistics.fmean(walls)
    var = sum((n - mean_n) ** 2 for n in ns)
    return sum((n - mean_n) * (w - mean_w) for n, w in zip(ns, walls, strict=True)) / var


def fmt(x: float | None, digits: int = 2) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


# -- writing ----------------------------------------------------------------------------------


def compare_table(group: dict) -> list[str]:
    lines = [
        "| system | plan | status | wall s | CPU s | peak RSS MB | start-up s | CNN s | "
        "training s | images/s per stage |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for system in ORDER:
        r = group.get(system)
        if not r:
            continue
        b = breakdown(r)
        lines.append(
            f"| {SYSTEM_NAMES[system]} | {strategy(r)} | {r['status']} | {r['wall_seconds']:.1f} | "
            f"{r['cpu_seconds']:.1f} | {r['peak_rss_mb']} | {b['startup']:.1f} | {b['cnn']:.1f} | "
            f"{b['training']:.1f} | {rates(r)} |"
        )
    return lines


def profile_table(runs: list[dict]) -> list[str]:
    """Share of py-spy wall-clock samples per category, driver process and PySpark workers."""
    lines = []
    for r in runs:
        summary = r["child"].get("profile")
        if not summary or not set(summary) <= {"driver", "workers"}:
            continue  # an older summary format
        run = f"{r['series']}: {r['system']} {r['cnn']} top-{r['k']} N={r['n']}"
        if r.get("budget"):
            run += f" ({r['budget']})"
        for role, categories in summary.items():
            total = sum(categories.values()) or 1
            shares = ", ".join(f"{name} {100 * n / total:.0f} %" for name, n in categories.items())
            lines.append(f"| {run} | {role} | {total / 20:.0f} | {shares} |")
    if not lines:
        return []
    return [
        "Where the Python processes' wall-clock time goes (py-spy, main threads, idle included; "
        "TensorFlow's native threads show as the Keras call waiting on them; worker seconds "
        "add up over the concurrent workers):",
        "",
        "| run | process | sampled s | shares |",
        "| --- | --- | ---: | --- |",
        *lines,
        "",
    ]


def memory_table(runs: list[dict]) -> list[str]:
    lines = [
        "| budget | limit by | system | plan | planned for | outcome | wall s | peak RSS MB "
        "| largest worker RSS / VMS MB | cached on disk MB | error |",
        "| --- | --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in runs:
        if r["series"] != "memory":
            continue
        child = r["child"]
        disk = child.get("cached_peak_disk_bytes")
        error = (child.get("error") or "").replace("|", "/")[:140]
        lines.append(
            f"| {r['budget']} | {limit_by(r)} | "
            f"{SYSTEM_NAMES[r['system']]} | {strategy(r) or '?'} | {planned_for(child)} | "
            f"**{r['status']}** | {r['wall_seconds']:.1f} | {r['peak_rss_mb']} | "
            f"{r.get('worker_rss_mb', '—')} / {r.get('worker_vms_mb', '—')} | "
            f"{fmt(disk / 2**20 if disk is not None else None, 0)} | {error} |"
        )
    return lines


def limit_by(record: dict) -> str:
    """cgroup or watchdog; records from before session 5 were all the watchdog's."""
    if record.get("limit_enforced_by"):
        return record["limit_enforced_by"]
    return "watchdog" if record.get("budget_container_gb") else "—"


def planned_for(child: dict) -> str:
    """From the run's EXPLAIN: concurrent TensorFlow tasks, batch, and the memory it planned in."""
    text = child.get("explain") or ""
    tasks = re.search(r"parallelism (\d+),.*inference batch (\d+)", text)
    total = re.search(r"memory per node: total ([\d.,]+ [KMG]?B)", text)
    container = "container limit" in text
    if not tasks:
        return "—"
    where = f" in {total.group(1)}" if total else ""
    return f"{tasks.group(1)} task(s), batch {tasks.group(2)}{where}" + (
        " (container limit)" if container else ""
    )


def memory_verdict(runs: list[dict]) -> list[tuple[str, bool | None, str]]:
    verdicts = []
    budgets = sorted({r["budget"] for r in runs if r["series"] == "memory"})
    for budget in budgets:
        here = {r["system"]: r for r in runs if r["series"] == "memory" and r["budget"] == budget}
        some = any(ok(r) for r in here.values())
        auto = here.get("vista-auto")
        if not some:
            verdicts.append((budget, None, "no plan completes"))
        else:
            outcome = ", ".join(
                f"{s.removeprefix('vista-')} {r['status']}" for s, r in here.items()
            )
            verdicts.append((budget, ok(auto), outcome))
    return verdicts


def write(payloads: list[dict]) -> str:
    out: list[str] = ["# Benchmark results", ""]
    out += [
        "Generated by `bench/report.py` from `bench/results/*.json` (raw per-run records, with "
        "every phase's timing, the plan vista_sql chose and the exact command). Wall time is "
        "the whole child process, start-up included (Spark, TensorFlow import, model build); "
        "CPU time is summed over the process tree (JVM, Python driver, PySpark workers); peak "
        "memory is the largest sum of resident set sizes of the tree at one 0.25 s poll "
        "(forked workers' shared pages count once per process, so it is an upper bound).",
        "",
    ]
    for payload in payloads:
        meta, runs = payload["meta"], payload["runs"]
        m = meta["machine"]
        loads = [r["load_before"][0] for r in runs] + [r["load_after"][0] for r in runs]
        out += [
            f"## Preset `{meta['preset']}`",
            "",
            *invocation_lines(meta),
            f"- Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, no GPU; "
            f"{m['platform']}; Python {m['python']}; {m['java']}; "
            + ", ".join(f"{k} {v}" for k, v in m["versions"].items())
            + ".",
            f"- Machine load (1-min load average before/after each run): "
            f"{min(loads):.1f} – {max(loads):.1f}"
            + (
                " — other jobs shared these 2 cores during the run, so absolute times are "
                "noisy; ratios of runs made back to back are more telling."
                if max(loads) > 2.5
                else "."
            )
            if loads
            else "- Machine load: no runs.",
            "",
        ]
        groups = compare_groups(runs)
        for (cnn, k, n), group in groups.items():
            layers = next(iter(group.values()))["layers"]
            out += [
                f"### {cnn} top-{k} layers ({', '.join(layers)}), N = {n} images",
                "",
                *compare_table(group),
                "",
                "| ratio | value | target |",
                "| --- | ---: | --- |",
                *(f"| {name} | {fmt(v)} | {t} |" for name, v, t in ratios(group)),
                "",
            ]
        cnns = sorted({(r["cnn"], r["k"]) for r in runs if r["series"] == "scaling"})
        for cnn, k in cnns:
            points = scaling_points(runs, cnn, k)
            ns = sorted(set().union(*(p.keys() for p in points.values())))
            out += [
                f"### Scaling: {cnn} top-{k}, per-image cost across N",
                "",
                "| N | vista wall s | vista s/image | vista CNN s/image | limit wall s | "
                "limit s/image | limit CNN s/image | single wall s | vista / limit | "
                "vista / single | load before vista |",
                "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            ]
            for n in ns:
                v, one, lim = (points.get(system, {}).get(n) for system in SCALING_SYSTEMS)
                out.append(
                    f"| {n} | {fmt(v and v['wall_seconds'], 1)} | "
                    f"{fmt(v and v['wall_seconds'] / n, 3)} | "
                    f"{fmt(v and breakdown(v)['cnn'] / n, 3)} | "
                    f"{fmt(lim and lim['wall_seconds'], 1)} | "
                    f"{fmt(lim and lim['wall_seconds'] / n, 3)} | "
                    f"{fmt(lim and breakdown(lim)['cnn'] / n, 3)} | "
                    f"{_wall_or_outcome(runs, 'single', cnn, k, n)} | "
                    f"{fmt(ratio(v, lim))} | {fmt(ratio(v, one))} | "
                    f"{fmt(v and v['load_before'][0], 1)} |"
                )
            vista = points.get("vista-auto", {})
            cnn_costs = {n: breakdown(r)["cnn"] / n for n, r in vista.items()}
            out += [
                "",
                f"Per-image cost spread (max/min − 1) over N: whole run "
                f"{fmt(_pct(flatness(per_image(vista))), 0)} %, CNN stages only "
                f"{fmt(_pct(flatness(cnn_costs)), 0)} % (target: within 10 %); marginal cost "
                f"{fmt(marginal(vista), 3)} s per extra image for vista_sql, "
                f"{fmt(marginal(points.get('limit', {})), 3)} s for the limit.",
                "",
            ]
        if any(r["series"] == "memory" for r in runs):
            out += [
                "### Memory pressure",
                "",
                "Outcome per plan under each budget: **finish** (no cached block on disk), "
                "**spill** (finished, but cached stage blocks went to disk), **crash** (the "
                "statement failed), **timeout** (killed at the per-run limit).",
                "",
                *memory_table(runs),
                "",
            ]
            for budget, verdict, text in memory_verdict(runs):
                status = {True: "met", False: "MISSED", None: "n/a"}[verdict]
                out.append(f"- {budget}: {text} → optimizer's plan completes: {status}")
            out.append("")
        out += onnx_compare.report_lines(runs)
        profiles = profile_table(runs)
        if profiles:
            out += ["### Where the time goes (py-spy)", "", *profiles]
        out += targets(runs)
    notes = HERE / "NOTES.md"
    if notes.exists():
        out += ["", notes.read_text().strip(), ""]
    return "\n".join(out) + "\n"


def invocation_lines(meta: dict) -> list[str]:
    """One line per `bench.run` invocation that added runs to this preset's results."""
    invocations = meta.get("invocations") or [meta]
    lines = []
    for inv in invocations:
        code = f"commit {inv.get('commit', '?')}"
        changed = inv.get("uncommitted") or []
        if changed and changed[0].startswith("("):
            code += " (uncommitted vista_sql changes in the work tree not recorded)"
        elif changed:
            code += f" + uncommitted changes to {len(changed)} vista_sql files (others' work)"
        lines.append(
            f"- `{inv.get('command', '?')}` (from the repository root): "
            f"{inv.get('started', '?')} → {inv.get('finished', 'interrupted')} UTC, "
            f"{inv.get('driver_seconds', '?')} s; {code}."
        )
    return lines


def _pct(x: float | None) -> float | None:
    return None if x is None else 100 * x


def targets(runs: list[dict]) -> list[str]:
    lines = ["### Targets", ""]
    for (cnn, k, n), group in compare_groups(runs).items():
        values = {name: v for name, v, _ in ratios(group)}
        checks = [
            ("vista ≤ 1.2× the limit", values["vista / limit (process wall)"], 1.2),
            ("vista ≤ 1.2× the single-machine peer", values["vista / single-machine peer"], 1.2),
        ]
        if cnn == "resnet50":
            checks.append(
                ("vista ≤ 0.3× the PySpark peer", values["vista / hand-written PySpark peer"], 0.3)
            )
        for name, value, limit in checks:
            verdict = "n/a" if value is None else ("met" if value <= limit else "MISSED")
            lines.append(f"- {cnn} top-{k}, N={n}: {name}: {fmt(value)} → {verdict}")
    for cnn, k in sorted({(r["cnn"], r["k"]) for r in runs if r["series"] == "scaling"}):
        points = scaling_points(runs, cnn, k)
        vista = points.get("vista-auto", {})
        compared = {n for (c, kk, n) in compare_groups(runs) if (c, kk) == (cnn, k)}
        for n in sorted(set(vista) - compared):
            single = points.get("single", {}).get(n)
            value = ratio(vista[n], single)
            if value is None:
                verdict = (
                    f"n/a (single-machine peer: {_wall_or_outcome(runs, 'single', cnn, k, n)})"
                )
            else:
                verdict = "met" if value <= 1.2 else "MISSED"
            lines.append(
                f"- {cnn} top-{k}, N={n}: vista ≤ 1.2× the single-machine peer: "
                f"{fmt(value)} → {verdict}"
            )
        spread = flatness(per_image(vista))
        verdict = "n/a" if spread is None else ("met" if spread <= 0.10 else "MISSED")
        lines.append(
            f"- {cnn} top-{k}: per-image cost flat within 10 % over N = "
            f"{', '.join(map(str, sorted(vista)))}: spread {fmt(_pct(spread), 0)} % → {verdict}"
        )
    for budget, verdict, _ in memory_verdict(runs):
        status = {True: "met", False: "MISSED", None: "n/a (no plan completes)"}[verdict]
        lines.append(f"- memory pressure, {budget}: the optimizer's plan completes → {status}")
    return [*lines, ""] if len(lines) > 2 else []  # the onnx preset has no targets


def chart(payloads: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [
        (p["meta"]["preset"], key, g)
        for p in payloads
        for key, g in compare_groups(p["runs"]).items()
    ]
    scaling = [
        (p["meta"]["preset"], cnn, k, scaling_points(p["runs"], cnn, k))
        for p in payloads
        for cnn, k in sorted({(r["cnn"], r["k"]) for r in p["runs"] if r["series"] == "scaling"})
    ]
    panels = len(groups) + (1 if scaling else 0)
    if not panels:
        return
    fig, axes = plt.subplots(1, panels, figsize=(6.5 * panels, 5), squeeze=False)
    colors = {"startup": "#bbbbbb", "cnn": "#4c72b0", "training": "#dd8452", "other": "#55a868"}
    for ax, (preset, (cnn, k, n), group) in zip(axes[0], groups, strict=False):
        systems = [s for s in ORDER if s in group]
        labels = [s.replace("vista-auto", f"vista ({strategy(group[s])})") for s in systems]
        bottom = [0.0] * len(systems)
        for part, color in colors.items():
            values = [breakdown(group[s])[part] for s in systems]
            ax.barh(labels, values, left=bottom, color=color, label=part)
            bottom = [a + b for a, b in zip(bottom, values, strict=True)]
        for y, s in enumerate(systems):
            r = group[s]
            note = f" {r['wall_seconds']:.0f} s" + ("" if ok(r) else f" ({r['status']})")
            ax.text(bottom[y], y, note, va="center", fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("wall seconds (process, start-up included)")
        ax.set_title(f"{cnn} top-{k}, N={n} ({preset})")
        ax.legend(loc="lower right", fontsize=8)
        ax.set_xlim(0, max(bottom) * 1.25)
    if scaling:
        ax = axes[0][-1]
        for preset, cnn, k, points in scaling:
            for system, style in (("vista-auto", "o-"), ("limit", "s--")):
                costs = per_image(points.get(system, {}))
                if costs:
                    ax.plot(
                        list(costs),
                        list(costs.values()),
                        style,
                        label=f"{system} {cnn} top-{k} ({preset})",
                    )
        ax.set_xscale("log", base=2)
        all_ns = sorted({n for _, _, _, pts in scaling for p in pts.values() for n in p})
        ax.set_xticks(all_ns, [str(n) for n in all_ns])
        ax.minorticks_off()
        ax.set_xlabel("images N")
        ax.set_ylabel("wall seconds per image")
        ax.set_ylim(bottom=0)
        ax.set_title("per-image cost across N")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def print_ratios(payloads: list[dict]) -> None:
    for payload in payloads:
        runs = payload["runs"]
        print(f"== ratios ({payload['meta']['preset']})")
        for (cnn, k, n), group in compare_groups(runs).items():
            for name, value, target in ratios(group):
                print(f"  {cnn} top-{k} N={n}: {name:<40} {fmt(value):>6}  {target}")
        for cnn, k in sorted({(r["cnn"], r["k"]) for r in runs if r["series"] == "scaling"}):
            vista = scaling_points(runs, cnn, k).get("vista-auto", {})
            costs = ", ".join(f"N={n}: {c:.3f} s" for n, c in per_image(vista).items())
            print(f"  {cnn} top-{k} per-image cost: {costs}")
        for budget, verdict, text in memory_verdict(runs):
            status = {True: "completes", False: "FAILS", None: "n/a"}[verdict]
            print(f"  memory {budget}: {text}; optimizer's plan {status}")
        for line in onnx_compare.summary(runs):
            print(line)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    payloads = load(argv or None)
    if not payloads:
        print("no results in bench/results/: run python -m bench.run quick first")
        return
    (HERE / "RESULTS.md").write_text(write(payloads))
    chart(payloads, HERE / "chart.png")
    print_ratios(payloads)
    print(f"wrote {HERE / 'RESULTS.md'} and {HERE / 'chart.png'}")


if __name__ == "__main__":
    main()
