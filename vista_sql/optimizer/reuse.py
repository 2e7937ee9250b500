"""Load, refresh or recompute: which recorded layers (optimizer/recorded.py) stand in for
computing them, whether the deeper layers continue from a recorded layer's hand-over tensors,
and whether only the images that are new or changed since the records were written are inferred.

Loading a layer saves its inference only when nothing deeper still has to be computed from the
images: a layer on the way to a computed deeper one comes almost free. A layer recorded with its
hand-over tensors changes that: the deeper layers continue from them, so everything up to it is
skipped (a statement re-run after its driver died resumes this way). Records whose rows carry
their image's version may be refreshed instead: every layer is computed, but only for the images
they lack (the rest read from them); a refresh of most rows costs more than computing them all,
since the reading comes on top. Every choice is costed (the cheapest plan for what is left to
compute, plus reading what is loaded) and the cheapest taken, ties going to computing less.
"""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

from vista_sql.optimizer import cost
from vista_sql.plan.nodes import RecordedLayer
from vista_sql.plan.vocabulary import JoinPlacement, Strategy
from vista_sql.plan.workload import Workload

MAX_SEARCHED = 10  # 2^10 subsets; beyond that only all-or-nothing is tried


@dataclasses.dataclass(frozen=True)
class Decision:
    records: tuple[RecordedLayer, ...]  # with their estimates and whether each is loaded
    resume_from: RecordedLayer | None = None
    seconds: float = 0.0  # the chosen option's estimate
    from_images: float = 0.0  # the estimate without any reuse
    refresh_rows: int | None = None  # a refresh: the images it infers (estimated)


def _without(w: Workload, names: set[str]) -> Workload:
    return dataclasses.replace(w, layers=tuple(x for x in w.layers if x.name not in names))


def continued(w: Workload, start: str) -> Workload:
    """The layers deeper than `start`, computed from its hand-over tensors."""
    names = [x.name for x in w.layers]
    offset = w.layers[names.index(start)].cumulative_flops
    deeper = w.layers[names.index(start) + 1 :]
    layers = tuple(
        dataclasses.replace(x, cumulative_flops=x.cumulative_flops - offset) for x in deeper
    )
    return dataclasses.replace(w, layers=layers, decoded=False)


def refreshing(w: Workload, rows: int) -> Workload:
    """`w` over only the images a refresh infers."""
    return dataclasses.replace(w, rows_before=rows, rows_after=rows)


def _handover_seconds(w: Workload, start: str) -> float:
    floats = next(x.frontier_floats for x in w.layers if x.name == start)
    per_byte = cost.READ_SECONDS_PER_BYTE + 2 * cost.SERDE_SECONDS_PER_BYTE
    return cost.LOAD_OVERHEAD_SECONDS + w.rows_before * 4 * floats * per_byte


def decide(
    records: tuple[RecordedLayer, ...],
    w: Workload,
    storage: int,
    parallelism: int,
    target: str | None = None,
    refresh: bool | None = None,
) -> Decision:
    """`target`: the statement's MATERIALIZE INTO, where a recomputed layer is written again;
    `refresh`: OPTIONS (refresh = ...), refreshing whenever it can (true) or never (false)."""
    usable = {r.layer.name: r for r in records if r.problem is None}
    from_images = cost.cheapest_seconds(w, storage, parallelism)
    if not usable:
        return Decision(records, from_images=from_images)
    own = {r.layer.name for r in usable.values() if target and Path(r.path).parent == Path(target)}
    # Loaded as it is, a record of the statement's own target would keep rows of images gone.
    whole = {n: r for n, r in usable.items() if r.complete and not (n in own and r.removed)}

    def loading(chosen) -> float:
        # Loading costs a read; recomputing a layer its own target holds costs writing it again.
        names = {r.layer.name for r in chosen}
        rewritten = [usable[name] for name in own - names]
        return sum(cost.load_seconds(r.rows, r.layer.feature_dim) for r in (*chosen, *rewritten))

    def computing(loaded: set[str]) -> float:
        return cost.cheapest_seconds(_without(w, loaded), storage, parallelism)

    found = list(whole.values())
    if len(found) <= MAX_SEARCHED:
        subsets = [c for k in range(len(found) + 1) for c in itertools.combinations(found, k)]
    else:
        subsets = [(), tuple(found)]
    options = [(computing({r.layer.name for r in c}) + loading(c), c, None) for c in subsets]
    order = [x.name for x in w.layers]
    for start in (r for r in found if r.handover and r.layer.name != order[-1]):
        prefix = order[: order.index(start.layer.name) + 1]
        if not all(name in whole for name in prefix):
            continue  # a shallower layer would still need the images
        chosen = tuple(usable[name] for name in prefix)
        rest = continued(w, start.layer.name)
        seconds = cost.INFERENCE_STARTUP_SECONDS + cost.seconds(
            rest, Strategy.STAGED, JoinPlacement.BEFORE, storage, parallelism
        )
        seconds += loading(chosen) + _handover_seconds(w, start.layer.name)
        options.append((seconds, chosen, start))
    refreshing_all = _refresh(usable, w, storage, parallelism) if refresh is not False else None
    if refreshing_all is not None:
        # Like a recompute, a refresh writes its own target's layers again.
        seconds, rows = refreshing_all[0] + loading(()), refreshing_all[1]
        forced = refresh and len(whole) < len(usable)  # with nothing stale, loading is the refresh
        if forced or seconds < min(o[0] for o in options):
            decided = tuple(
                dataclasses.replace(r, refreshed=True) if r.layer.name in usable else r
                for r in records
            )
            return Decision(decided, None, round(seconds, 2), round(from_images, 2), rows)
    best_seconds, best, resume_from = min(options, key=lambda o: (round(o[0], 6), -len(o[1])))
    loaded = {r.layer.name for r in best}
    decided = []
    for record in records:
        if record.problem is not None:
            decided.append(record)
            continue
        rest = loaded - {record.layer.name}
        marginal = computing(rest) - computing(rest | {record.layer.name})
        decided.append(
            dataclasses.replace(
                record,
                load_seconds=round(cost.load_seconds(record.rows, record.layer.feature_dim), 2),
                recompute_seconds=round(marginal, 2),
                loaded=record.layer.name in loaded,
            )
        )
    chosen_start = next((r for r in decided if resume_from and r.layer == resume_from.layer), None)
    return Decision(tuple(decided), chosen_start, round(best_seconds, 2), round(from_images, 2))


def _refresh(usable: dict, w: Workload, storage: int, parallelism: int):
    """(estimate, images to infer) of refreshing every layer, when each has a versioned record."""
    records = [usable.get(x.name) for x in w.layers]
    if not all(r is not None and r.versioned for r in records):
        return None
    # The records of one statement lack the same images; the most any one lacks is the estimate.
    rows = max(r.new + r.changed for r in records)
    computing = cost.cheapest_seconds(refreshing(w, rows), storage, parallelism)
    return computing + sum(cost.load_seconds(r.rows, r.layer.feature_dim) for r in records), rows
