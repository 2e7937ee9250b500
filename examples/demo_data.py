"""Build the demo dataset from scikit-learn's bundled handwritten digits (no download).

images/<id>.png   real 8x8 digit scans, upscaled to 32x32 grayscale PNG files
products.parquet  id, three numeric columns, label is_popular

The label is "the digit is 5 or more". The structured columns only carry part of that signal
(`hint` agrees with the label 70% of the time, the rest is noise), so a model needs the image
features to do well: that lift is what the demo shows.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from sklearn.datasets import load_digits


def build(out: Path, count: int, seed: int = 7) -> None:
    digits = load_digits()
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(digits.images), size=count, replace=False)
    images_dir = out / "images"
    if out.exists():
        shutil.rmtree(out)
    images_dir.mkdir(parents=True)
    rows = []
    for new_id, index in enumerate(chosen, start=1):
        pixels = (digits.images[index] * (255 / 16)).astype(np.uint8)
        Image.fromarray(pixels, mode="L").resize((32, 32), Image.Resampling.NEAREST).save(
            images_dir / f"{new_id}.png"
        )
        label = int(digits.target[index] >= 5)
        rows.append(
            {
                "id": new_id,
                "hint": label if rng.random() < 0.7 else 1 - label,
                "price": round(float(rng.gamma(2.0, 10.0)), 2),
                "weight": round(float(rng.normal(1.0, 0.2)), 3),
                "is_popular": label,
            }
        )
    pd.DataFrame(rows).to_parquet(out / "products.parquet", index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=400)
    args = parser.parse_args()
    build(args.out, args.count)
    print(f"demo data: {args.count} digit images and products table in {args.out}")


if __name__ == "__main__":
    main()
