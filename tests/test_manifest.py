"""The MATERIALIZE INTO manifest (plan/manifest.py): plain JSON and files, no Spark."""

from __future__ import annotations

import json

from vista_sql.plan import manifest
from vista_sql.plan.manifest import Entry, Manifest


def _entry(layer="fc1", **extra):
    fields = dict(cnn="vgg16:random:0", layer=layer, pooling="none", rows=10, key="id")
    return Entry(**{**fields, **extra})


def test_entries_written_are_read_back_with_what_is_on_disk(tmp_path):
    root = str(tmp_path)
    manifest.update(root, lambda layers: layers.update(fc1=_entry(), fc2=_entry("fc2")))
    manifest.layer_path(root, "fc1").mkdir()
    manifest.handover_path(root, "fc1").mkdir()
    manifest.set_handover(root, "fc1", ["t:0:0"])
    read = Manifest.read(root)
    assert read.layers["fc1"] == _entry(handover=("t:0:0",))
    assert read.present == {"fc1"} and read.handovers == {"fc1"}
    manifest.forget_handover(root, "fc1")
    assert Manifest.read(root).layers["fc1"].handover == ()
    # The file keeps the layout earlier versions wrote: no empty hand-over list.
    data = json.loads(manifest.manifest_path(root).read_text())["layers"]
    assert "handover" not in data["fc1"] and data["fc2"]["rows"] == 10


def test_a_missing_or_unreadable_manifest_records_nothing(tmp_path):
    assert Manifest.read(str(tmp_path)).layers == {}
    manifest.manifest_path(str(tmp_path)).write_text("{not json")
    assert Manifest.read(str(tmp_path)).layers == {}


def test_writes_in_progress_are_temporary():
    from pathlib import Path

    assert manifest.is_temporary(Path(".fc1.tmp-1234abcd"))
    assert manifest.is_temporary(Path("_vista_manifest.tmp-1234abcd"))
    assert not manifest.is_temporary(Path("fc1"))
