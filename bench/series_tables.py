"""The series recorded without "runs" (bench/results/ warm, incremental, paper_scale and
cost_error .json) as bench/RESULTS.md sections with their figures, and the one-line captions
README.md shows.

The tables of paper_scale and cost_error live here, not in their scripts, so that the report
renders them without importing the planner (pyspark's types, the catalog): the scripts print them
through these same functions.
"""

from __future__ import annotations

from tabulate import tabulate

from bench.preset_tables import figure_lines

# Issue #19's targets for each series.
WARM_NEW_LAYERS_AT_MOST = 0.8  # × the single-machine script on the same layers
WARM_RECORDED_AT_MOST_S = 10.0  # another learner on the session's recorded layers, N = 1,000
REFRESH_AT_MOST = 0.10  # a +1 % refresh over extracting every image from scratch
COST_TARGET_PCT = 30  # the chosen plan's estimate within ± this of the measured CNN stages
SERIES = ("warm", "incremental", "paper_scale", "cost_error")


def figure(stem: str) -> str:
    """Path of a series' figure, relative to bench/."""
    return f"charts/{stem}.png"


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _github(rows: list[list], head: list[str]) -> str:
    return tabulate(rows, head, tablefmt="github", disable_numparse=True)


# -- warm -------------------------------------------------------------------------------------


def warm_targets(record: dict) -> dict[int, float]:
    """Statement index → its target in seconds."""
    peer = record["single_machine_seconds_for_the_new_layers"]
    return {1: WARM_NEW_LAYERS_AT_MOST * peer, 2: WARM_RECORDED_AT_MOST_S}


def warm_caption(record: dict) -> str:
    ratio, recorded = record["ratio_new_layers_vs_single_machine"], record["statements"][2]
    return (
        f"Warm session, {record['cnn']}, N = {record['n']}: 2 new layers "
        f"{ratio:.2f}× the single-machine script (target ≤ {WARM_NEW_LAYERS_AT_MOST}× → "
        f"{_met(ratio <= WARM_NEW_LAYERS_AT_MOST)}); another learner on the recorded layers "
        f"{recorded['seconds']:.1f} s (target ≤ {WARM_RECORDED_AT_MOST_S:.0f} s → "
        f"{_met(recorded['seconds'] <= WARM_RECORDED_AT_MOST_S)})."
    )


def warm_section(record: dict) -> list[str]:
    targets = warm_targets(record)
    rows = [
        [
            f"{i + 1}. {s['statement']}",
            ", ".join(s["layers"]),
            s["inferred"],
            len(s["loaded"]),
            f"{s['seconds']:.1f}",
            f"≤ {targets[i]:.1f} → {_met(s['seconds'] <= targets[i])}" if i in targets else "",
        ]
        for i, s in enumerate(record["statements"])
    ]
    rows.append(
        [
            "single-machine script, statement 2's layers",
            ", ".join(record["statements"][1]["layers"]),
        ]
        + ["", "", f"{record['single_machine_seconds_for_the_new_layers']:.1f}", ""]
    )
    head = ["statement", "layers", "images inferred", "layers loaded", "seconds", "target s"]
    return [
        "## Warm series",
        "",
        "`make bench-warm` (`bench/warm.py`): three TRANSFERs typed one after another in one "
        f"session (started in {record['session_seconds']:.1f} s, not counted), then the "
        "single-machine script (Keras predict + scikit-learn) on statement 2's layers, timed from "
        "its process start.",
        "",
        *figure_lines(figure("warm"), warm_caption(record)),
        _github(rows, head),
        "",
    ]


# -- incremental ------------------------------------------------------------------------------


def step_label(step: dict) -> str:
    return f"+{100 * step['new'] / (step['images'] - step['new']):.0f} %"


def incremental_caption(record: dict) -> str:
    first = record["steps"][0]
    return (
        f"Incremental refresh, {record['cnn']}, N = {record['n']}: {step_label(first)} new "
        f"images refreshed in {first['ratio']:.2f} of the from-scratch time "
        f"({first['refresh_seconds']:.1f} s vs {first['scratch_seconds']:.1f} s; target ≤ "
        f"{REFRESH_AT_MOST:.2f} → {_met(first['ratio'] <= REFRESH_AT_MOST)})."
    )


def incremental_section(record: dict) -> list[str]:
    rows = [
        [step_label(s), s["new"], s["images"], ", ".join(map(str, s["inferred_per_stage"]))]
        + [f"{s['refresh_seconds']:.1f}", f"{s['scratch_seconds']:.1f}", f"{s['ratio']:.2f}"]
        + [f"≤ {REFRESH_AT_MOST:.2f} → {_met(s['ratio'] <= REFRESH_AT_MOST)}" if i == 0 else ""]
        for i, s in enumerate(record["steps"])
    ]
    head = ["step", "new images", "images in all", "inferred per stage", "refresh s"]
    head += ["from scratch s", "refresh / scratch", "target"]
    return [
        "## Incremental refresh",
        "",
        "`make bench-incremental` (`bench/incremental.py`): a feature table made by one TRANSFER "
        f"on {record['n']} images ({record['transfer_seconds']:.1f} s), then, after each step of "
        "new images, `REFRESH FEATURES` (only the new images inferred) against the same refresh "
        "with `OPTIONS (reuse = false)` (every image extracted again), back to back.",
        "",
        *figure_lines(figure("incremental"), incremental_caption(record)),
        _github(rows, head),
        "",
    ]


# -- paper scale ------------------------------------------------------------------------------


def paper_within(record: dict) -> int:
    low, high = record["summary"]["paper_reduction_pct"]
    return sum(
        low <= s["staged_reduction_pct"] <= high for s in record["setups"] if "error" not in s
    )


def paper_caption(record: dict) -> str:
    summary, setups = record["summary"], record["setups"]
    (low, high), (s_low, s_high) = (
        summary["paper_reduction_pct"],
        summary["estimated_staged_reduction_pct"],
    )
    return (
        f"Cluster scale (cost model only, Vista's {summary['nodes']}-node setups): Staged "
        f"estimated {s_low:.0f}–{s_high:.0f} % faster than Lazy, inside the paper's measured "
        f"{low}–{high} % in {paper_within(record)} of {len(setups)} setups."
    )


def paper_summary_line(summary: dict) -> str:
    (staged_low, staged_high), (chosen_low, chosen_high) = (
        summary["estimated_staged_reduction_pct"],
        summary["estimated_chosen_reduction_pct"],
    )
    low, high = summary["paper_reduction_pct"]
    return (
        f"Estimated reduction against Lazy (join first): Staged {staged_low:.0f}–{staged_high:.0f} "
        f"%, the chosen plan {chosen_low:.0f}–{chosen_high:.0f} %; the paper measured "
        f"{low}–{high} %."
    )


def paper_plan_table(rows: list[dict]) -> str:
    plans = []
    for r in rows:
        head = [r["dataset"], r["cnn"], r["k"]]
        if "error" in r:
            plans.append([*head, "", r["error"]])
            continue
        m = r["memory_gb"]
        plans.append(
            [*head, f"{r['rows']:,}", f"{r['strategy']}, join {r['join_placement']} ({r['join']})"]
            + [r["tasks_per_node"], r["batch"], r["partitions"]]
            + [f"{m['os']}/{m['core']}/{m['inference']}/{m['user']}/{m['storage']}"]
            + [f"{r['chosen_seconds']:,.0f}", f"{r['lazy_seconds']:,.0f}"]
            + [f"{r['staged_over_lazy']:.2f}", f"{r['staged_reduction_pct']:.0f} %"]
            + [f"{r['chosen_reduction_pct']:.0f} %"]
        )
    head = ["dataset", "cnn", "k", "rows", "chosen plan", "tasks/node", "batch", "partitions"]
    head += ["memory GB/node os/core/TF/user/storage", "est s", "lazy s", "staged/lazy"]
    return _github(plans, [*head, "staged reduction", "chosen reduction"])


def _alternative(a: dict) -> str:
    word = a["verdict"].split(":")[0].split(",")[0]
    spills = " spills" if "spills" in a["verdict"] else ""
    return f"{a['seconds']:,.0f} #{a['rank']} {word}{spills}"


def paper_ranking_table(rows: list[dict]) -> str:
    ranking = [
        [r["dataset"], r["cnn"], r["k"], *map(_alternative, r["alternatives"])]
        for r in rows
        if "error" not in r
    ]
    first = rows[0].get("alternatives") or []
    head = ["dataset", "cnn", "k", *(f"{a['strategy']} {a['join_placement']}" for a in first)]
    return _github(ranking, head)


def paper_section(record: dict) -> list[str]:
    summary = record["summary"]
    layers = "; ".join(
        f"{cnn}: {', '.join(names)}"
        for cnn, names in summary["layers_top_k_is_the_last_k_of"].items()
    )
    return [
        "## Cluster scale: Vista's setups, EXPLAIN only",
        "",
        "`make bench-paper` (`bench/paper_scale.py`): each of the Vista paper's setups planned by "
        f"vista_sql's optimizer for {summary['cluster']}, from injected statistics; "
        f"{summary['note']}. Top k is the last k of: {layers}. Memory per node (GB) is OS / "
        'Spark core / TensorFlow / user / storage; "staged/lazy" is Staged against Lazy, both '
        'with the join first; "chosen reduction" is the chosen plan against the same Lazy.',
        "",
        *figure_lines(figure("paper_scale"), paper_caption(record)),
        paper_plan_table(record["setups"]),
        "",
        paper_summary_line(summary),
        "",
    ]


# -- cost-model error -------------------------------------------------------------------------


def _num(x: float | None, spec: str = ".1f", unit: str = "") -> str:
    return "" if x is None else format(x, spec) + unit


def _tasks(p: dict) -> str:
    ran = "" if p["session_tasks"] == p["tasks"] else f" (ran {p['session_tasks']})"
    return _num(p["tasks"], "d", ran)


def cost_plan_table(plans: list[dict], startup: float) -> str:
    head = ["preset", "setup", "cnn", "k", "n", "plan", "chosen", "est s", f"est+{startup:g} s"]
    head += ["stage s", "error", "w/o start-up", "wall s", "load", "tasks"]
    table = [
        [p["preset"], p["setup"], p["cnn"], p["k"], p["n"], p["plan"], "*" * p["chosen"]]
        + [_num(p["est_s"]), _num(p["est_with_startup_s"]), _num(p["stage_s"]) or p["status"]]
        + [_num(p["error_pct"], "+.0f", " %"), _num(p["error_without_startup_pct"], "+.0f", " %")]
        + [_num(p["wall_s"]), _num(p["load_before"]), _tasks(p)]
        for p in plans
    ]
    return _github(table, head)


def cost_group_table(groups: list[dict]) -> str:
    head = ["preset", "setup", "cnn", "k", "n", "estimated order", "measured order", "rank right"]
    head += ["within tie", "chosen fastest", "crashed"]
    yes = {True: "yes", False: "no", None: ""}
    table = [
        [g["preset"], g["setup"], g["cnn"], g["k"], g["n"], " < ".join(g["estimated_order"])]
        + [" < ".join(g["measured_order"]), yes[g["rank_right"]], yes[g["rank_right_within_tie"]]]
        + [yes[g["chosen_fastest"]], ", ".join(g["crashed"])]
        for g in groups
    ]
    return _github(table, head)


def cost_fit_line(fit: dict) -> str:
    return (
        f"{fit['cnn']} {fit['plan']}, chosen at n = {', '.join(map(str, fit['n']))}: stage s ≈ "
        f"{fit['measured_fixed_s']} s + n / {fit['measured_images_per_s']} images/s measured; the "
        f"model has {fit['model_fixed_s']} s + n / {fit['model_images_per_s']} images/s"
    )


def cost_summary_line(summary: dict, tie: float) -> str:
    (lo, hi), (within, chosen) = summary["chosen_error_pct"], summary["chosen_within_target"]
    (right, ranked), tied = summary["rankings_right"], summary["rankings_right_within_tie"][0]
    return (
        f"Chosen plans: error {lo:+.0f} % to {hi:+.0f} %, median "
        f"{summary['chosen_error_median_pct']:+.0f} %, {within} of {chosen} within "
        f"±{COST_TARGET_PCT} %; rank of the measured plans right in {right} of {ranked} setups "
        f"({tied} counting estimates within the {round((tie - 1) * 100)} % tie margin as ties)."
    )


def cost_caption(record: dict) -> str:
    summary = record["summary"]
    within, chosen = summary["chosen_within_target"]
    return (
        f"Cost model on this machine: the chosen plan's estimate within ±{COST_TARGET_PCT} % of "
        f"the measured CNN stages in {within} of {chosen} runs (target: every run), median "
        f"{summary['chosen_error_median_pct']:+.0f} %."
    )


def cost_section(record: dict) -> list[str]:
    chosen = [p for p in record["plans"] if p["chosen"]]
    return [
        "## Cost-model error",
        "",
        "`make bench-cost-error` (`bench/cost_error.py`, reads the recorded runs only): each "
        "vista_sql run's own estimate beside its measured CNN stages. " + record["note"] + ".",
        "",
        *figure_lines(figure("cost_error"), cost_caption(record)),
        "The chosen plans (every plan's row is in `bench/results/cost_error.json`):",
        "",
        cost_plan_table(chosen, record["startup_s"]),
        "",
        cost_summary_line(record["summary"], record["tie"]),
        "",
        *(f"- {cost_fit_line(fit)}." for fit in record["calibration"]),
        "",
    ]


SECTIONS = {
    "warm": warm_section,
    "incremental": incremental_section,
    "paper_scale": paper_section,
    "cost_error": cost_section,
}
CAPTIONS = {
    "warm": warm_caption,
    "incremental": incremental_caption,
    "paper_scale": paper_caption,
    "cost_error": cost_caption,
}
