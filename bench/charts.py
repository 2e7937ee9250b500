"""The figures of bench/RESULTS.md and README.md, one question each, as PNGs under bench/charts/.

Every figure is 7 × 4 in with a two-line title (the question, then the workload), axis labels with
units and, where issue #19 sets a target, that target drawn (red; where one axis has several,
purple and black next, each with its own line style).
"""

from __future__ import annotations

from pathlib import Path

from bench.run_records import (
    ORDER,
    SINGLE_MACHINE_AT_MOST,
    breakdown,
    cold_targets_for,
    line_fit,
    ok,
    strategy,
)
from bench.series_tables import (
    COST_TARGET_PCT,
    REFRESH_AT_MOST,
    WARM_RECORDED_AT_MOST_S,
    step_label,
    warm_targets,
)

SIZE = (7, 4)
TARGET = "crimson"
# Several targets on one axis (the cold run's three): one line style and shade each.
TARGET_STYLES = ((TARGET, "--"), ("#7b1fa2", ":"), ("black", "-."))
PALETTE = ("#4c72b0", "#dd8452", "#888888")
BAND = "#55a868"  # a range that counts as on target
PARTS = {"startup": "#bbbbbb", "cnn": PALETTE[0], "training": PALETTE[1], "other": BAND}
SHORT_NAMES = {
    "vista-lazy": "vista_sql, forced Lazy",
    "vista-eager": "vista_sql, forced Eager",
    "vista-staged": "vista_sql, forced Staged",
    "pyspark-peer": "PySpark peer",
    "single": "single machine",
    "limit": "limit (1 Keras pass)",
}
SCALING_STYLE = dict(zip(("vista-auto", "single", "limit"), PALETTE, strict=True))


def _figure(question: str, workload: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=SIZE)
    # Left-aligned on the figure, not the axes: long tick labels would push it off the right edge.
    fig.suptitle(f"{question}\n{workload}", x=0.01, ha="left", fontsize=10.5)
    ax.tick_params(labelsize=8.5)
    return fig, ax


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _row_targets(ax, ticks: list[tuple[int, float, str]]) -> None:
    """Targets of single bars, (row, seconds, label): a mark across that bar's row only, since
    the others' bars answer other questions; named in the legend."""
    for (row, x, label), (color, style) in zip(ticks, TARGET_STYLES, strict=False):
        ax.plot([x, x], [row - 0.46, row + 0.46], color=color, linestyle=style, linewidth=2.2)
        ax.plot([], [], color=color, linestyle=style, linewidth=2.2, label=label)


def _bar_ends(ax, ends: list[float], notes: list[str], ticks: list[tuple]) -> None:
    """Each bar's note right of the bar and of its row's target marks."""
    right = list(ends)
    for row, x, _ in ticks:
        right[row] = max(right[row], x)
    for y, (x, note) in enumerate(zip(right, notes, strict=True)):
        ax.text(x, y, f" {note}", va="center", fontsize=8)
    ax.set_xlim(0, max(right) * 1.3)
    ax.invert_yaxis()


def cold(preset: str, cnn: str, k: int, n: int, group: dict, path: Path) -> None:
    fig, ax = _figure(
        "Cold run: is vista_sql within its targets, and where does each system's time go?",
        f"{cnn} top-{k}, N = {n} images, one process per system ({preset} preset)",
    )
    systems = [s for s in ORDER if s in group]
    labels = [SHORT_NAMES.get(s, f"vista_sql ({strategy(group[s])})") for s in systems]
    ends = [0.0] * len(systems)
    for part, color in PARTS.items():
        values = [breakdown(group[s])[part] for s in systems]
        ax.barh(labels, values, left=ends, color=color, label=part)
        ends = [a + b for a, b in zip(ends, values, strict=True)]
    ticks = []
    for _, peer, limit in cold_targets_for(cnn) if "vista-auto" in group else ():
        if ok(group.get(peer)):
            x = limit * group[peer]["wall_seconds"]
            name = SHORT_NAMES[peer].split(" (")[0]
            ticks.append((systems.index("vista-auto"), x, f"≤ {limit}× {name}: {x:.0f} s"))
    _row_targets(ax, ticks)
    notes = [
        f"{group[s]['wall_seconds']:.0f} s" + ("" if ok(group[s]) else f" ({group[s]['status']})")
        for s in systems
    ]
    _bar_ends(ax, ends, notes, ticks)
    ax.set_xlabel("wall seconds (whole process, start-up included)")
    legend = dict(zip(*reversed(ax.get_legend_handles_labels()), strict=True))
    parts = {name: legend.pop(name) for name in PARTS}
    ax.add_artist(
        ax.legend(
            parts.values(),
            parts,
            loc="lower left",
            bbox_to_anchor=(0, 1),
            ncol=len(parts),
            fontsize=8,
            frameon=False,
            borderaxespad=0.1,
        )
    )
    if legend:
        ax.legend(
            legend.values(),
            legend,
            loc="lower right",
            fontsize=8,
            title="vista_sql's targets",
            title_fontsize=8,
        )
    _save(fig, path)


def scaling(preset: str, cnn: str, k: int, found: dict[str, dict[int, dict]], path: Path) -> None:
    """Wall seconds over N with each system's straight-line fit drawn back to N = 0."""
    fig, ax = _figure(
        "Cold fixed cost: what does a run cost before its first image (the fit at N = 0)?",
        f"{cnn} top-{k}, wall time over N images ({preset} preset)",
    )
    top = max(n for by_n in found.values() for n in by_n)
    for system, color in SCALING_STYLE.items():
        by_n = found.get(system, {})
        done = {n: r for n, r in sorted(by_n.items()) if ok(r)}
        fit = line_fit(done)
        name = SHORT_NAMES.get(system, "vista_sql")
        label = name if fit is None else f"{name}: {fit[0]:.0f} s + {fit[1]:.3f} s/image"
        ax.plot(
            list(done), [r["wall_seconds"] for r in done.values()], "o", color=color, label=label
        )
        if fit:
            last = max(done)  # not past its data: the single machine stops where it crashed
            ax.plot([0, last], [fit[0], fit[0] + fit[1] * last], "--", color=color, linewidth=1)
        for n, r in by_n.items():
            if not ok(r):
                ax.plot([n], [r["wall_seconds"]], "x", color=color, markersize=9)
                ax.annotate(
                    f"{name}: {r['status']} at N = {n}\n(ended after {r['wall_seconds']:.0f} s)",
                    (n, r["wall_seconds"]),
                    xytext=(0, -10),
                    textcoords="offset points",
                    ha="right",
                    va="top",
                    fontsize=7.5,
                    color=color,
                )
        if system == "single" and done:
            ax.plot(
                list(done),
                [SINGLE_MACHINE_AT_MOST * r["wall_seconds"] for r in done.values()],
                ":",
                color=TARGET,
                label=f"target for vista_sql: ≤ {SINGLE_MACHINE_AT_MOST}× single machine",
            )
    ax.set_xlim(0, top * 1.05)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("images N")
    ax.set_ylabel("wall seconds (whole process)")
    ax.legend(loc="best", fontsize=8, title="fit: intercept + slope × N", title_fontsize=8)
    _save(fig, path)


def warm(record: dict, path: Path) -> None:
    fig, ax = _figure(
        "Warm session: do the statements after the first meet their targets?",
        f"{record['cnn']}, N = {record['n']} images, one session, statements in order",
    )
    statements = record["statements"]
    labels = [
        "1. first: top-3 layers",
        "2. two new layers, same CNN",
        "single-machine script, same 2 layers",
        "3. another learner, recorded layers",
    ]
    peer = record["single_machine_seconds_for_the_new_layers"]
    seconds = [statements[0]["seconds"], statements[1]["seconds"], peer, statements[2]["seconds"]]
    colors = [PARTS["cnn"], PARTS["cnn"], PARTS["startup"], PARTS["training"]]
    ax.barh(labels, seconds, color=colors)
    targets = warm_targets(record)
    ticks = [
        (1, targets[1], f"≤ {targets[1] / peer:.1f}× the script: {targets[1]:.0f} s"),
        (3, targets[2], f"≤ {WARM_RECORDED_AT_MOST_S:.0f} s"),
    ]
    _row_targets(ax, ticks)
    _bar_ends(ax, seconds, [f"{s:.1f} s" for s in seconds], ticks)
    ax.legend(loc="lower right", fontsize=8, title="targets", title_fontsize=8)
    ax.set_xlabel("wall seconds per statement (the script: its whole process)")
    _save(fig, path)


def incremental(record: dict, path: Path) -> None:
    fig, ax = _figure(
        "Incremental refresh: how much cheaper than extracting every image again?",
        f"{record['cnn']}, a feature table on {record['n']} images, then new images added",
    )
    steps = record["steps"]
    xs = range(len(steps))
    width = 0.38
    refresh = [s["refresh_seconds"] for s in steps]
    scratch = [s["scratch_seconds"] for s in steps]
    ax.bar([x - width / 2 for x in xs], refresh, width, color=PARTS["cnn"], label="REFRESH")
    ax.bar(
        [x + width / 2 for x in xs], scratch, width, color=PARTS["startup"], label="from scratch"
    )
    for x, s in zip(xs, steps, strict=True):
        ax.annotate(
            f"{s['ratio']:.2f}×",
            (x - width / 2, s["refresh_seconds"]),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            fontsize=8,
        )
    goal = REFRESH_AT_MOST * steps[0]["scratch_seconds"]
    color, style = TARGET_STYLES[0]
    ax.plot(
        [-width, 0],
        [goal, goal],
        color=color,
        linestyle=style,
        linewidth=2.2,
        label=f"target for {step_label(steps[0])}: ≤ {REFRESH_AT_MOST:.2f}× from scratch = "
        f"{goal:.1f} s",
    )
    ax.set_xticks(
        list(xs), [f"{step_label(s)}\n{s['new']} new, {s['images']} in all" for s in steps]
    )
    ax.set_ylabel("wall seconds per statement")
    ax.set_ylim(0, max(scratch) * 1.15)
    ax.legend(loc="upper left", fontsize=8)
    _save(fig, path)


def paper_scale(record: dict, path: Path) -> None:
    summary = record["summary"]
    fig, ax = _figure(
        "Cluster scale: does Staged save over Lazy what the Vista paper measured?",
        f"cost-model estimates for Vista's {summary['nodes']}-node setups (no run)",
    )
    setups = [s for s in record["setups"] if "error" not in s]
    rows = list(dict.fromkeys((s["cnn"], s["k"]) for s in setups))  # the paper's order
    low, high = summary["paper_reduction_pct"]
    ax.axvspan(low, high, color=BAND, alpha=0.2, label=f"paper, measured: {low}–{high} %")
    datasets = list(dict.fromkeys(s["dataset"] for s in setups))
    for i, (dataset, marker) in enumerate(zip(datasets, "os^D", strict=False)):
        here = [s for s in setups if s["dataset"] == dataset]
        shift = 0.3 * (i - (len(datasets) - 1) / 2)  # side by side where the values coincide
        ax.plot(
            [s["staged_reduction_pct"] for s in here],
            [rows.index((s["cnn"], s["k"])) + shift for s in here],
            marker,
            color=PALETTE[i],
            label=f"Staged vs Lazy, {dataset.title()}",
        )
    ax.set_yticks(range(len(rows)), [f"{cnn} top-{k}" for cnn, k in rows])
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("estimated run time saved against Lazy, % (both with the join first)")
    ax.legend(loc="lower left", fontsize=8)
    _save(fig, path)


def cost_error(record: dict, path: Path) -> None:
    fig, ax = _figure(
        f"Cost model: is the chosen plan's estimate within ±{COST_TARGET_PCT} % of measured?",
        "vista_sql's recorded runs on this machine: estimate vs the CNN stages' seconds",
    )
    plans = [p for p in record["plans"] if p["chosen"] and p["error_pct"] is not None]
    # "memory: 6 GB container, heap 1 GB" → "6 GB container": enough to tell the budgets apart
    labels = [
        f"{p['preset']}: {p['cnn']} N={p['n']}, {p['setup'].split(',')[0].split(': ')[-1]}"
        for p in plans
    ]
    errors = [p["error_pct"] for p in plans]
    within = [abs(e) <= COST_TARGET_PCT for e in errors]
    ax.axvspan(-COST_TARGET_PCT, COST_TARGET_PCT, color=BAND, alpha=0.2, label="target band")
    for inside, color, name in ((True, PALETTE[0], "within"), (False, TARGET, "outside")):
        rows = [y for y, w in enumerate(within) if w == inside]
        ax.barh(rows, [errors[y] for y in rows], color=color, label=name)
    ax.set_yticks(range(len(labels)), labels)
    ax.axvline(0, color="black", linewidth=0.8)
    for y, e in enumerate(errors):
        ha = "left" if e >= 0 else "right"
        ax.text(e, y, f" {e:+.0f} % ", va="center", ha=ha, fontsize=7.5)
    ax.invert_yaxis()
    # Room for the labels past the bars, and for the legend right of the band.
    ax.set_xlim(-1.25 * max(COST_TARGET_PCT, -min(errors)), 1.6 * max(COST_TARGET_PCT, *errors))
    ax.set_xlabel("estimate − measured, % of measured (< 0: optimistic)")
    ax.legend(loc="lower right", fontsize=8)
    _save(fig, path)


DRAW = {
    "warm": warm,
    "incremental": incremental,
    "paper_scale": paper_scale,
    "cost_error": cost_error,
}
