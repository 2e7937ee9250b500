"""Benchmark data: N generated 224×224 JPEG images and a 100-column structured table.

images/<id>.jpg   smooth random colour fields plus noise, quality 90 (≈ 20–30 KB each); a CNN's
                  cost does not depend on what the pixels show, only on their count
table.parquet     id, x000 … x099 (100 numeric columns), label (0/1)

Image i is drawn from seed i, so the first 500 images of N = 4000 equal those of N = 500. The
label mixes a structured signal (x000), an image signal (mean brightness) and noise, so both kinds
of features carry some of it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

COLUMNS = 100
SIZE = 224


def _image(index: int) -> tuple[np.ndarray, float]:
    from PIL import Image

    rng = np.random.default_rng(index)
    coarse = rng.integers(0, 256, size=(7, 7, 3), dtype=np.uint8)
    smooth = np.asarray(
        Image.fromarray(coarse).resize((SIZE, SIZE), Image.Resampling.BICUBIC), dtype=np.int16
    )
    noisy = np.clip(smooth + rng.normal(0, 12, size=smooth.shape), 0, 255).astype(np.uint8)
    return noisy, float(noisy.mean()) / 255.0


def build(out: Path, count: int, seed: int = 7) -> Path:
    """Write the dataset for `count` images into `out` (kept if already complete)."""
    import pandas as pd
    from PIL import Image

    marker = out / "dataset.json"
    if marker.exists() and json.loads(marker.read_text()).get("count") == count:
        return out
    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    for stale in images.glob("*.jpg"):
        stale.unlink()
    brightness = np.empty(count)
    for i in range(count):
        pixels, brightness[i] = _image(i + 1)
        Image.fromarray(pixels).save(images / f"{i + 1}.jpg", quality=90)
    rng = np.random.default_rng(seed)
    table = rng.normal(size=(count, COLUMNS)).astype(np.float64)
    score = 0.8 * table[:, 0] + 4.0 * (brightness - brightness.mean()) + rng.normal(0, 0.7, count)
    frame = pd.DataFrame(table, columns=[f"x{j:03d}" for j in range(COLUMNS)])
    frame.insert(0, "id", np.arange(1, count + 1, dtype=np.int32))
    frame["label"] = (score > np.median(score)).astype(np.int32)
    frame.to_parquet(out / "table.parquet", index=False)
    total = sum(p.stat().st_size for p in images.glob("*.jpg"))
    marker.write_text(json.dumps({"count": count, "image_bytes": total}))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    build(args.out, args.count)
    print(f"{args.count} images and a {COLUMNS}-column table in {args.out}")


if __name__ == "__main__":
    main()
