"""One preset's section of bench/RESULTS.md (bench/results/{quick,full,onnx}.json: records with
"runs"), its figures' file names and their one-line captions."""

from __future__ import annotations

import re

from bench import onnx_compare
from bench.run_records import (
    FLAT_WITHIN,
    ORDER,
    SCALING_SYSTEMS,
    SINGLE_MACHINE_AT_MOST,
    SYSTEM_NAMES,
    breakdown,
    cold_targets,
    compare_groups,
    flatness,
    fmt,
    line_fit,
    marginal,
    memory_verdict,
    outcome,
    pct,
    per_image,
    rates,
    ratio,
    ratios,
    scaling_points,
    scaling_runs,
    scaling_series,
    strategy,
    verdict,
)


def cold_figure(preset: str, cnn: str, k: int, n: int) -> str:
    """Path of the figure, relative to bench/."""
    return f"charts/cold_{preset}_{cnn}_top{k}_n{n}.png"


def scaling_figure(preset: str, cnn: str, k: int) -> str:
    return f"charts/scaling_{preset}_{cnn}_top{k}.png"


def cold_caption(cnn: str, k: int, n: int, group: dict) -> str:
    auto = group.get("vista-auto")
    checks = "; ".join(
        f"{name.removeprefix('vista ')}: {fmt(value)} → {verdict(value, limit)}"
        for name, value, limit in cold_targets(cnn, group)
    )
    return f"Cold run, {cnn} top-{k}, N = {n}: vista_sql {outcome(auto)} s; {checks}."


def fit_text(fit: tuple[float, float] | None) -> str:
    return "—" if fit is None else f"{fit[0]:.0f} s + {fit[1]:.3f} s/image"


def scaling_caption(cnn: str, k: int, points: dict[str, dict[int, dict]]) -> str:
    vista = points.get("vista-auto", {})
    spread = flatness(per_image(vista))
    return (
        f"Fixed cost, {cnn} top-{k}, N = {', '.join(map(str, sorted(vista)))}: wall time fitted "
        f"as vista_sql {fit_text(line_fit(vista))}, single machine "
        f"{fit_text(line_fit(points.get('single', {})))}, limit "
        f"{fit_text(line_fit(points.get('limit', {})))}; vista's per-image cost spread "
        f"{fmt(pct(spread), 0)} % (target: within {pct(FLAT_WITHIN):.0f} %) → "
        f"{verdict(spread, FLAT_WITHIN)}."
    )


def figure_lines(path: str, caption: str) -> list[str]:
    """The figure, then its caption as text; the alt text is the caption's subject."""
    return [f"![{caption.split(':')[0]}]({path})", "", f"*{caption}*", ""]


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


def scaling_table(runs: list[dict], cnn: str, k: int) -> list[str]:
    points = scaling_points(runs, cnn, k)
    singles = scaling_runs(runs, cnn, k).get("single", {})
    ns = sorted(set().union(*(p.keys() for p in points.values())))
    lines = [
        "| N | vista wall s | vista s/image | vista CNN s/image | limit wall s | "
        "limit s/image | limit CNN s/image | single wall s | vista / limit | "
        "vista / single | load before vista |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for n in ns:
        v, one, lim = (points.get(system, {}).get(n) for system in SCALING_SYSTEMS)
        lines.append(
            f"| {n} | {fmt(v and v['wall_seconds'], 1)} | "
            f"{fmt(v and v['wall_seconds'] / n, 3)} | "
            f"{fmt(v and breakdown(v)['cnn'] / n, 3)} | "
            f"{fmt(lim and lim['wall_seconds'], 1)} | "
            f"{fmt(lim and lim['wall_seconds'] / n, 3)} | "
            f"{fmt(lim and breakdown(lim)['cnn'] / n, 3)} | "
            f"{outcome(singles.get(n))} | "
            f"{fmt(ratio(v, lim))} | {fmt(ratio(v, one))} | "
            f"{fmt(v and v['load_before'][0], 1)} |"
        )
    vista = points.get("vista-auto", {})
    cnn_costs = {n: breakdown(r)["cnn"] / n for n, r in vista.items()}
    return [
        *lines,
        "",
        f"Per-image cost spread (max/min − 1) over N: whole run "
        f"{fmt(pct(flatness(per_image(vista))), 0)} %, CNN stages only "
        f"{fmt(pct(flatness(cnn_costs)), 0)} % (target: within {pct(FLAT_WITHIN):.0f} %); "
        f"marginal cost {fmt(marginal(vista), 3)} s per extra image for vista_sql, "
        f"{fmt(marginal(points.get('limit', {})), 3)} s for the limit.",
        "",
    ]


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


def machine_lines(meta: dict, runs: list[dict]) -> list[str]:
    m = meta["machine"]
    loads = [r["load_before"][0] for r in runs] + [r["load_after"][0] for r in runs]
    return [
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
    ]


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


def section(payload: dict) -> list[str]:
    meta, runs = payload["meta"], payload["runs"]
    preset = meta["preset"]
    out = [f"## Preset `{preset}`", "", *machine_lines(meta, runs), ""]
    for (cnn, k, n), group in compare_groups(runs).items():
        layers = next(iter(group.values()))["layers"]
        out += [
            f"### {cnn} top-{k} layers ({', '.join(layers)}), N = {n} images",
            "",
            *figure_lines(cold_figure(preset, cnn, k, n), cold_caption(cnn, k, n, group)),
            *compare_table(group),
            "",
            "| ratio | value | target |",
            "| --- | ---: | --- |",
            *(f"| {name} | {fmt(v)} | {t} |" for name, v, t in ratios(group)),
            "",
        ]
    for cnn, k in scaling_series(runs):
        caption = scaling_caption(cnn, k, scaling_points(runs, cnn, k))
        out += [
            f"### Scaling: {cnn} top-{k}, per-image cost across N",
            "",
            *figure_lines(scaling_figure(preset, cnn, k), caption),
            *scaling_table(runs, cnn, k),
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
        for budget, met, text in memory_verdict(runs):
            status = {True: "met", False: "MISSED", None: "n/a"}[met]
            out.append(f"- {budget}: {text} → optimizer's plan completes: {status}")
        out.append("")
    out += onnx_compare.report_lines(runs)
    profiles = profile_table(runs)
    if profiles:
        out += ["### Where the time goes (py-spy)", "", *profiles]
    return out + targets(runs)


def targets(runs: list[dict]) -> list[str]:
    lines = ["### Targets", ""]
    groups = compare_groups(runs)
    for (cnn, k, n), group in groups.items():
        for name, value, limit in cold_targets(cnn, group):
            lines.append(f"- {cnn} top-{k}, N={n}: {name}: {fmt(value)} → {verdict(value, limit)}")
    for cnn, k in scaling_series(runs):
        points = scaling_points(runs, cnn, k)
        singles = scaling_runs(runs, cnn, k).get("single", {})
        vista = points.get("vista-auto", {})
        compared = {n for (c, kk, n) in groups if (c, kk) == (cnn, k)}
        for n in sorted(set(vista) - compared):
            value = ratio(vista[n], points.get("single", {}).get(n))
            result = verdict(value, SINGLE_MACHINE_AT_MOST)
            if value is None:
                result += f" (single-machine peer: {outcome(singles.get(n))})"
            lines.append(
                f"- {cnn} top-{k}, N={n}: vista ≤ 1.2× the single-machine peer: "
                f"{fmt(value)} → {result}"
            )
        spread = flatness(per_image(vista))
        lines.append(
            f"- {cnn} top-{k}: per-image cost flat within {pct(FLAT_WITHIN):.0f} % over N = "
            f"{', '.join(map(str, sorted(vista)))}: spread {fmt(pct(spread), 0)} % → "
            f"{verdict(spread, FLAT_WITHIN)}"
        )
    for budget, met, _ in memory_verdict(runs):
        status = {True: "met", False: "MISSED", None: "n/a (no plan completes)"}[met]
        lines.append(f"- memory pressure, {budget}: the optimizer's plan completes → {status}")
    return [*lines, ""] if len(lines) > 2 else []  # the onnx preset has no targets
