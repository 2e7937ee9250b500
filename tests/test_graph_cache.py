"""Zoo CNNs' graphs kept on disk: read back equal to the built CNN's, used instead of building it,
and rewritten when unreadable."""

from __future__ import annotations

import pytest

from vista_sql.cache import CACHE_ENV
from vista_sql.catalog import graph_cache, models
from vista_sql.catalog.weights import WeightsRef

pytestmark = pytest.mark.cnn


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(graph_cache, "_known", {})  # what this process read of other directories
    return tmp_path / "graphs"


def _alexnet(seed: int) -> models.ModelRef:
    return models.ModelRef("alexnet", zoo="alexnet", weights=WeightsRef("random", seed=seed))


def _fields(graph) -> tuple:
    return (
        graph.ops,
        graph.inputs,
        graph.outputs,
        dict(graph.shapes),
        graph.listed,
        dict(graph.layers),
        dict(graph.flops),
        graph.parameter_bytes,
        graph.channels_first,
    )


def test_a_graph_read_back_equals_the_built_cnns_and_no_cnn_is_built(cache):
    built = models.graph_for(_alexnet(seed=11))  # built: nothing was cached
    (written,) = cache.iterdir()
    graph_cache._known.clear()  # as a new process finds it
    # Other weights, the same architecture: planned from the file, no CNN built for it.
    other = _alexnet(seed=12)
    read = models.graph_for(other)
    assert not models.is_resident(other)
    assert _fields(read) == _fields(built)
    assert written.name.startswith("alexnet-227x227-")


def test_an_unreadable_file_is_built_again_and_rewritten(cache):
    models.graph_for(_alexnet(seed=11))
    (written,) = cache.iterdir()
    written.write_text('{"ops": [')  # cut short
    graph_cache._known.clear()
    other = _alexnet(seed=13)
    assert _fields(models.graph_for(other)) == _fields(models.graph_for(_alexnet(seed=11)))
    assert models.is_resident(other)  # built, since the file could not be read
    graph_cache._known.clear()
    assert _fields(graph_cache.load(other.spec)) == _fields(models.graph_for(other))
