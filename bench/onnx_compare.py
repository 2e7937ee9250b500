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
CNN, N = "resnet50", 200  # as the quick preset: the 4 runs take ~6 min on 2 idle cores
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


def _measures(r: dict) -> dict[str, float | None]:
    phases = r["child"].get("phases", [])
    found = {
        "process wall s (start-up included)": r["wall_seconds"],
        "statement wall s (TRANSFER: CNN + training)": next(
            (p["seconds"] for p in phases if p["name"].startswith("transfer")), None
        ),
    }
    for p in (p for p in phases if p["name"].startswith("stage ")):
        label = p["name"].replace(" cnn: ", " (") + ")"
        for tensor, layer in zip(r["layers"], LAYERS, strict=True):  # ONNX names → Keras names
            label = label.replace(tensor, layer)
        found[f"{label} images/s"], found[f"{label} s"] = p.get("images_per_s"), p["seconds"]
    found["CPU s (process tree)"] = r["cpu_seconds"]
    found["peak RSS MB (process tree)"] = r["peak_rss_mb"]
    found["1-min load average before the run"] = r["load_before"][0]
    return found


def _mean(name: str, values: list) -> float | None:
    if not values or None in values:
        return None
    if name.endswith("images/s"):  # same N every run: all images over all seconds
        return len(values) / sum(1 / v for v in values)
    return sum(values) / len(values)


def _table(pairs) -> list[tuple[str, list, list, list]]:
    """Per measure: Keras per round, ONNX per round, ONNX / Keras per round and over all."""
    keras = [_measures(k) for k, _ in pairs]
    onnx = [_measures(o) for _, o in pairs]
    rows = []
    for name in keras[0]:
        ks, os_ = [m.get(name) for m in keras], [m.get(name) for m in onnx]
        ratios = [_ratio(k, o) for k, o in zip(ks, os_, strict=True)]
        rows.append((name, ks, os_, [*ratios, _ratio(_mean(name, ks), _mean(name, os_))]))
    return rows


def _ratio(k, o):
    return o / k if k and o is not None else None


def _fmt(x, digits: int = 2) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _metrics(pairs) -> list[tuple[str, dict, dict, float | None]]:
    """(layer, Keras row, ONNX row of round 1, largest spread of a metric over every run)."""
    runs = []
    for r in (r for pair in pairs for r in pair):
        names = dict(zip(r["layers"], LAYERS, strict=True))  # ONNX rows are named by tensor
        runs.append({names.get(x["layer"], x["layer"]): x for x in r["child"]["results"]})
    rows = []
    for layer, first in runs[0].items():
        seen = [run.get(layer, {}) for run in runs]
        spread = [max(s.get(m, 0) for s in seen) - min(s.get(m, 0) for s in seen) for m in METRICS]
        rows.append((layer, first, runs[1].get(layer, {}), max(spread)))
    return rows


def report_lines(runs: list[dict]) -> list[str]:
    pairs = _pairs(runs)
    if not pairs:
        return []
    out = ["### ONNX Runtime vs TensorFlow (ResNet50, same weights)", ""]
    if not all(_finished(k) and _finished(o) for k, o in pairs):
        for r in (r for pair in pairs for r in pair if r and not _finished(r)):
            out.append(f"- {r['series']} {SYSTEMS[r['system']]}: **{r['status']}** "
                       f"{r['child'].get('error', '')}")  # fmt: skip
        return [*out, "- incomplete: no ratios", ""]
    plans = sorted({str(r["child"].get("strategy")) for pair in pairs for r in pair})
    out += [
        f"Measured {pairs[-1][1]['finished_at'][:10]}: `TRANSFER FEATURES FROM resnet50 WEIGHTS "
        "RANDOM SEED 0` (TensorFlow) and the same statement `FROM MODEL "
        "'build/bench/resnet50_seed0.onnx' ... OPTIONS (preprocess = 'caffe')` (ONNX Runtime; that "
        f"model exported by tf2onnx), layers {', '.join(LAYERS)}, N = {N} images, plan "
        + " / ".join(plans)
        + (" — **the plans differ**" if len(plans) > 1 else "")
        + f"; {len(pairs)} rounds, round 1 Keras first, round 2 ONNX first. The machine was shared "
        "(another engineer's tests ran alongside): absolute times are noisy and one round's ratio "
        "can follow the order; quote the ratio over both rounds. Ratios are ONNX ÷ Keras: below 1 "
        "for seconds, above 1 for images/s, means ONNX Runtime is faster.",
        "",
        "| measure | Keras r1 / r2 | ONNX r1 / r2 | ratio r1 | ratio r2 | ratio, both rounds |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, ks, os_, ratios in _table(pairs):
        kv, ov = " / ".join(_fmt(x, 1) for x in ks), " / ".join(_fmt(x, 1) for x in os_)
        out.append(f"| {name} | {kv} | {ov} | " + " | ".join(map(_fmt, ratios)) + " |")
    out += [
        "",
        "Metrics, round 1 (a sanity check: both train on the same features up to float rounding; "
        "40 test images, so one changed prediction moves accuracy by 0.025):",
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
    """For the driver's stdout: the report's tables (or its list of failed runs)."""
    return ["  " + line for line in report_lines(runs) if line.startswith(("|", "-"))]


if __name__ == "__main__":
    if sys.argv[1:2] != ["prepare"] or len(sys.argv) != 3:
        sys.exit(__doc__)
    prepare(Path(sys.argv[2]))
