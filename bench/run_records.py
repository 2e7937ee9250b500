"""What one preset's run records say: each run's time split, the ratios the targets are stated in,
and the scaling series' fits. Plain values: bench/preset_tables.py writes them as Markdown,
bench/charts.py draws them.
"""

from __future__ import annotations

import statistics

# Measured at every N of a scaling series (compare runs at the same N count too).
SCALING_SYSTEMS = ("vista-auto", "single", "limit")
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
SINGLE_MACHINE_AT_MOST = 1.2  # vista_sql's wall time over the single-machine peer's, at any N
# The cold targets of issue #19, as (name, the system vista_sql is compared with, at most).
COLD_TARGETS = (
    ("vista ≤ 1.2× the limit", "limit", 1.2),
    ("vista ≤ 1.2× the single-machine peer", "single", SINGLE_MACHINE_AT_MOST),
    ("vista ≤ 0.3× the PySpark peer", "pyspark-peer", 0.3),
)
FLAT_WITHIN = 0.10  # per-image cost over N: max/min − 1


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


def scaling_series(runs: list[dict]) -> list[tuple[str, int]]:
    return sorted({(r["cnn"], r["k"]) for r in runs if r["series"] == "scaling"})


def scaling_runs(runs: list[dict], cnn: str, k: int) -> dict[str, dict[int, dict]]:
    """Every run of the scaling systems at each N, finished or not."""
    found: dict[str, dict[int, dict]] = {}
    for r in runs:
        if r["series"] in ("compare", "scaling") and (r["cnn"], r["k"]) == (cnn, k):
            if r["system"] in SCALING_SYSTEMS:
                found.setdefault(r["system"], {})[r["n"]] = r
    return found


def scaling_points(runs: list[dict], cnn: str, k: int) -> dict[str, dict[int, dict]]:
    """The finished runs of scaling_runs."""
    found = scaling_runs(runs, cnn, k).items()
    return {s: {n: r for n, r in by_n.items() if ok(r)} for s, by_n in found}


def outcome(record: dict | None) -> str:
    """A run's wall seconds, or how it ended when it did not finish (e.g. killed for memory)."""
    if record is None:
        return "—"
    if ok(record):
        return fmt(record["wall_seconds"], 1)
    return f"{record['status']}: {record['child'].get('error', '?')}"


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
    return [
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


def cold_targets_for(cnn: str) -> list[tuple[str, str, float]]:
    """The cold targets that apply: the PySpark peer's only for ResNet50, the CNN the issue
    states it for."""
    return [t for t in COLD_TARGETS if t[1] != "pyspark-peer" or cnn == "resnet50"]


def cold_targets(cnn: str, group: dict) -> list[tuple[str, float | None, float]]:
    """(name, vista's ratio, at most) for each cold target that applies."""
    auto = group.get("vista-auto")
    return [
        (name, ratio(auto, group.get(peer)), limit) for name, peer, limit in cold_targets_for(cnn)
    ]


def verdict(value: float | None, limit: float) -> str:
    return "n/a" if value is None else ("met" if value <= limit else "MISSED")


def per_image(points: dict[int, dict]) -> dict[int, float]:
    return {n: r["wall_seconds"] / n for n, r in sorted(points.items())}


def flatness(costs: dict[int, float]) -> float | None:
    if len(costs) < 2:
        return None
    values = list(costs.values())
    return max(values) / min(values) - 1


def line_fit(points: dict[int, dict]) -> tuple[float, float] | None:
    """(intercept s, slope s per image) of wall time over N, least squares: the fixed cost a
    run pays whatever its size, and the cost of one more image."""
    if len(points) < 2:
        return None
    ns = sorted(points)
    slope, intercept = statistics.linear_regression(ns, [points[n]["wall_seconds"] for n in ns])
    return intercept, slope


def marginal(points: dict[int, dict]) -> float | None:
    """Seconds per extra image: the slope of wall time over N."""
    fit = line_fit(points)
    return fit and fit[1]


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


def fmt(x: float | None, digits: int = 2) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def pct(x: float | None) -> float | None:
    return None if x is None else 100 * x
