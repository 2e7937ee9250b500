"""Whether a layer an earlier MATERIALIZE INTO recorded may stand in for a layer this statement
asks for.

A record is usable only when it was computed by the same CNN (weights identity), layer and
pooling. A record whose rows carry their image's version (every one written since refreshes
exist) is then compared with the images row by row: what is new or changed is what a refresh
infers. An older record stands in only if no image changed since (same files, sizes, modification
times, view definition and row count) and it holds a row for every key this statement trains on.
The manifests, the images' identity and the row comparisons are read from the session by the
statement layer (statements/facts.py); this module only judges them.
"""

from __future__ import annotations

from vista_sql.catalog import models, staging
from vista_sql.plan.manifest import Entry, Manifest
from vista_sql.plan.nodes import LayerRef, RecordedLayer, TransferQuery


def _problem(entry: Entry, query: TransferQuery, identity: str | None, present: bool):
    if entry.cnn != query.cnn.identity():
        return f"computed by another CNN or weights ({entry.cnn})"
    if entry.pooling != query.pooling.describe():
        return f"pooled {entry.pooling}"
    if entry.row_versions:
        return None if present else "its files are gone"
    if identity is None:
        return "the images' identity cannot be established (not files on the local disk)"
    if entry.images_identity != identity:
        return "the images changed since it was written"
    if not present:
        return "its files are gone"
    return None


def _handover_inputs(query: TransferQuery, layer: str, stored: tuple[str, ...]):
    """Positions, among the stored hand-over tensors, of those this statement's deeper layers
    need; None when it needs one that was not stored (or has no deeper layer)."""
    deepest = query.layers[-1].name
    if not stored or layer == deepest:
        return None
    cut = staging.plan_cuts(models.graph_for(query.cnn), [layer, deepest])[0]
    needed = [cut.outputs[i] for i in cut.frontier]
    if not set(needed) <= set(stored):
        return None
    return tuple(stored.index(name) for name in needed)


def candidate(
    query: TransferQuery, manifest: Manifest, layer: LayerRef, identity: str | None
) -> RecordedLayer | None:
    """What `manifest` records for `layer`, with why it cannot stand in for it (if it cannot);
    None when it records nothing for it. Whether it holds every row needed is checked after."""
    entry = manifest.layers.get(layer.name)
    if entry is None:
        return None
    stored = entry.handover if layer.name in manifest.handovers else ()
    inputs = _handover_inputs(query, layer.name, stored)
    return RecordedLayer(
        layer,
        str(manifest.path(layer.name)),
        entry.key or query.key,
        entry.rows,
        problem=_problem(entry, query, identity, layer.name in manifest.present),
        handover=stored if inputs is not None else (),
        handover_inputs=inputs or (),
        versioned=entry.row_versions,
    )
