"""ONNX Runtime vs TensorFlow: one TRANSFER on ResNet50, from the Keras zoo model and its export.

    python -m bench.run onnx                   # the runs, then the report (make bench-onnx)
    python -m bench.onnx_compare prepare OUT   # (child) export if stale, map layers → OUT (JSON)

Both runs use the same weights (vista_sql's seeded random ResNet50, exported once to ONNX) and the
same preprocessing (caffe: ResNet50's Keras mode, applied by vista_sql for `preprocess = 'caffe'`),
so they see identical inputs and train on the same features up to float rounding: their metrics
are printed side by side as a sanity check, which never fails the bench.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ONNX_FILE = ROOT / "build" / "bench" / "resnet50_seed0.onnx"
# The files that decide the exported weights: an export older than either is rebuilt.
SOURCES = [ROOT / "vista_sql" / "catalog" / f for f in ("weights.py", "zoo.py")]
CNN, N = "resnet50", 200  # N as the quick preset: both runs fit in a few minutes on 2 cores
LAYERS = ("conv4_block6_out", "conv5_block3_out", "avg_pool")
SYSTEMS = {"vista-keras": "TensorFlow (Keras zoo model)", "vista-onnx": "ONNX Runtime (its export)"}
METRICS = ("accuracy", "f1", "auc")


def prepare(out: Path) -> None:
    """(In a child process: TensorFlow stays out of the driver.) Export, then map the layers."""
    if not _fresh(ONNX_FILE):
        import numpy as np

        from vista_sql.catalog import weights, zoo

        # Built exactly as vista_sql builds `resnet50 WEIGHTS RANDOM SEED 0` in its workers.
        model = weights.build(zoo.lookup(CNN), weights.WeightsRef("random", seed=0))
        model(np.zeros((1, 224, 224, 3), "float32"))  # Keras refuses to export a never-called model
        ONNX_FILE.parent.mkdir(parents=True, exist_ok=True)
        partial = ONNX_FILE.with_suffix(".partial.onnx")  # an interrupted export is never reused
        model.export(str(partial), format="onnx", verbose=False)
        partial.replace(ONNX_FILE)
    sys.path.insert(0, str(ROOT))
    from tests import onnx_models  # tf2onnx's tensor naming, worked out once for the tests

    # Generated names differ between exports, so the map always comes from the file used.
    mapping = {layer: onnx_models.onnx_tensor_for_keras_layer(ONNX_FILE, layer) for layer in LAYERS}
    out.write_text(json.dumps({"file": str(ONNX_FILE), "tensors": mapping}, indent=1))


def _fresh(path: Path) -> bool:
    return path.exists() and all(path.stat().st_mtime > s.stat().st_mtime for s in SOURCES)


# Two rounds in opposite orders: on this shared machine the load drifts from one run to the next,
# and a single pair's ratio followed the order (whichever ran first under the heavier load lost,
# both ways round). Summed over both orders, a steady drift cancels out.
ROUNDS = (("vista-keras", "vista-onnx"), ("vista-onnx", "vista-keras"))


def run(driver) -> None:
    """Four measured runs; the export and the layer map belong to none of them."""
    print(f"== onnx: {CNN} {', '.join(LAYERS)}, N={N}", flush=True)
    mapping = ROOT / "build" / "bench" / "resnet50_seed0.layers.json"
    tensors = {layer: layer for layer in LAYERS}
    if not driver.dry:
        command = [sys.executable, "-m", "bench.onnx_compare", "prepare", str(mapping)]
        env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")
        subprocess.run(command, cwd=ROOT, env=env, check=True)
        tensors = json.loads(mapping.read_text())["tensors"]
    # The same statement on the optimizer's plan (eager for both files when this was written);
    # the report flags plans that differ, since the ratio would then compare plans too.
    how = {
        "vista-keras": (list(LAYERS), []),
        "vista-onnx": (
            [tensors[layer] for layer in LAYERS],
            ["--model", str(ONNX_FILE), "--preprocess", "caffe"],
        ),
    }
    for number, order in enumerate(ROUNDS, 1):
        for system in order:
            layers, extra = how[system]
            driver.run(f"onnx-{number}", system, CNN, len(LAYERS), N, layers=layers, extra=extra)


# -- report -----------------------------------------------------------------------------------


def _pairs(runs: list[dict]) -> list[tuple[dict | None, dict | None]]:
    """(Keras run, ONNX run) per round, in round order."""
    rounds: dict[str, dict] = {}
    for r in runs:
        if r["series"].startswith("onnx-"):
            rounds.setdefault(r["series"], {})[r["system"]] = r
    return [(g.get("vista-keras"), g.get("vista-onnx")) for _, g in sorted(rounds.items())]


def _finished(r: dict | None) -> bool:
    return bool(r) and r["status"] in ("finish", "spill")


def _phase(r: dict, prefix: str) -> list[dict]:
    return [p for p in r["child"].get("phases", []) if p["name"].startswith(prefix)]


def _measures(r: dict) -> list[tuple[str, float | None, int | None]]:
    """(measure, value, images): `images` marks a throughput, combined as images / seconds."""
    statement = _phase(r, "transfer")
    rows = [
        ("process wall s (start-up included)", r["wall_seconds"], None),
        ("statement wall s (TRANSFER: CNN + training)", statement and statement[0]["seconds"], None),
    ]  # fmt: skip
    for stage in _phase(r, "stage "):
        # Stages pair up by index: named after the Keras run's (the ONNX one's are tensors).
        index = stage["name"].split(" cnn:")[0]
        rows.append((f"{index} images/s", stage.get("images_per_s"), stage.get("images")))
        rows.append((f"{index} s", stage["seconds"], None))
    rows += [
        ("CPU s (process tree)", r["cpu_seconds"], None),
        ("peak RSS MB (process tree)", r["peak_rss_mb"], None),
        ("1-min load average before the run", r["load_before"][0], None),
    ]
    return rows


def _combined(records: list[dict]) -> dict[str, float | None]:
    """Each measure over several runs: mean, and images/s as all images over all seconds."""
    columns = list(zip(*(_measures(r) for r in records), strict=False))
    out = {}
    for column in columns:
        name, values, images = column[0][0], [c[1] for c in column], [c[2] for c in column]
        if None in values:
            out[name] = None
        elif images[0]:
            out[name] = sum(images) / sum(i / v for i, v in zip(images, values, strict=True))
        else:
            out[name] = sum(values) / len(values)
    return out


def _table(pairs: list[tuple[dict, dict]]) -> list[tuple[str, list, list, list]]:
    """Per measure: Keras per round, ONNX per round, ONNX / Keras per round and both combined."""
    per_round = [(_combined([k]), _combined([o])) for k, o in pairs]
    both = (_combined([k for k, _ in pairs]), _combined([o for _, o in pairs]))
    rows = []
    for name in per_round[0][0]:
        ks = [k.get(name) for k, _ in per_round]
        os_ = [o.get(name) for _, o in per_round]
        ratios = [_ratio(k.get(name), o.get(name)) for k, o in [*per_round, both]]
        rows.append((name, ks, os_, ratios))
    return rows


def _ratio(k, o):
    return o / k if k and o is not None else None


def _fmt(x, digits: int = 2) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _metrics(pairs) -> list[tuple[str, dict, dict, float | None]]:
    """(Keras layer, Keras row, ONNX row of round 1, max |difference| over every run)."""
    by_run = []
    for r in (r for pair in pairs for r in pair):
        names = dict(zip(r["layers"], LAYERS, strict=True))  # ONNX rows are named by tensor
        by_run.append({names.get(x["layer"], x["layer"]): x for x in r["child"]["results"]})
    rows = []
    for layer, first in by_run[0].items():
        seen = [run.get(layer, {}) for run in by_run]
        spread = [max(s[m] for s in seen) - min(s[m] for s in seen) for m in METRICS
                  if all(m in s for s in seen)]  # fmt: skip
        rows.append((layer, first, by_run[1].get(layer, {}), max(spread) if spread else None))
    return rows


def report_lines(runs: list[dict]) -> list[str]:
    pairs = _pairs(runs)
    if not pairs:
        return []
    out = ["### ONNX Runtime vs TensorFlow (ResNet50, same weights)", ""]
    failed = [r for pair in pairs for r in pair if r and not _finished(r)]
    if failed or not all(k and o for k, o in pairs):
        for r in failed:
            out.append(f"- {r['series']} {SYSTEMS[r['system']]}: **{r['status']}** "
                       f"{r['child'].get('error', '')}")  # fmt: skip
        return [*out, "- incomplete: no ratios", ""]
    plans = {r["child"].get("strategy") for pair in pairs for r in pair}
    out += [
        f"Measured {pairs[-1][1]['finished_at'][:10]}: `TRANSFER FEATURES FROM resnet50 WEIGHTS "
        f"RANDOM SEED 0` (TensorFlow) and the same statement `FROM MODEL "
        f"'build/bench/resnet50_seed0.onnx' ... OPTIONS (preprocess = 'caffe')` (ONNX Runtime; "
        f"that model exported by tf2onnx), layers {', '.join(LAYERS)}, N = {N} images, plan "
        f"{' / '.join(sorted(map(str, plans)))}"
        + (" — **the plans differ**" if len(plans) > 1 else "")
        + f"; {len(pairs)} rounds in opposite orders (round 1 Keras first, round 2 ONNX first). "
        "The machine was shared (another engineer's tests ran alongside), so absolute times are "
        "noisy and a round's ratio can follow the order; the ratio over both rounds is the one to "
        "quote. Ratios are ONNX ÷ Keras: below 1 for seconds, above 1 for images/s, means ONNX "
        "Runtime is faster.",
        "",
        "| measure | Keras r1 / r2 | ONNX r1 / r2 | ratio r1 | ratio r2 | ratio, both rounds |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, ks, os_, ratios in _table(pairs):
        kv, ov = " / ".join(_fmt(x, 1) for x in ks), " / ".join(_fmt(x, 1) for x in os_)
        out.append(f"| {name} | {kv} | {ov} | " + " | ".join(map(_fmt, ratios)) + " |")
    out += [
        "",
        "Metrics (a sanity check: both train on the same features up to float rounding; 40 test "
        "images, so one changed prediction moves accuracy by 0.025), round 1:",
        "",
        "| layer | features K / O | accuracy K / O | F1 K / O | AUC K / O | max spread, all runs |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for layer, k, o, spread in _metrics(pairs):
        cells = [f"{k.get('feature_dim')} / {o.get('feature_dim', '—')}"]
        cells += [f"{_fmt(k.get(m), 3)} / {_fmt(o.get(m), 3)}" for m in METRICS]
        out.append(f"| {layer} | " + " | ".join([*cells, _fmt(spread, 3)]) + " |")
    return [*out, ""]


def summary(runs: list[dict]) -> list[str]:
    """The ratios for the driver's stdout."""
    pairs = _pairs(runs)
    if not pairs or not all(_finished(k) and _finished(o) for k, o in pairs):
        return [f"  onnx: {r['series']} {r['system']} {r['status']}" for p in pairs for r in p if r]
    lines = [f"  {'onnx (keras r1 r2 | onnx r1 r2 | ratios r1 r2 both)':<50}"]
    for name, ks, os_, ratios in _table(pairs):
        values = " ".join(f"{_fmt(x, 1):>7}" for x in [*ks, *os_])
        lines.append(f"  {name:<50} {values} | " + " ".join(f"{_fmt(x):>5}" for x in ratios))
    for layer, k, o, spread in _metrics(pairs):
        pairs_text = ", ".join(f"{m} {_fmt(k.get(m), 3)}/{_fmt(o.get(m), 3)}" for m in METRICS)
        lines.append(f"  metrics keras/onnx {layer:<20} {pairs_text}; spread {_fmt(spread, 3)}")
    return lines


if __name__ == "__main__":
    if sys.argv[1:2] != ["prepare"] or len(sys.argv) != 3:
        sys.exit(__doc__)
    prepare(Path(sys.argv[2]))
