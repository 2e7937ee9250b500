"""Every bad-input case of the reliability suite, in one place: the tests parametrize over these
lists and README's "Reliability" table is generated from them (`python tests/reliability/cases.py`
prints it, `--write` puts it in README; test_readme_table checks README holds exactly that)."""

from __future__ import annotations

import io
import struct
import sys
import zlib
from pathlib import Path

from PIL import Image

if __name__ == "__main__":  # run as a script: make the `reliability` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reliability.case import WARNING, Case  # noqa: E402
from reliability.statement_cases import STATEMENTS, statement  # noqa: E402
from vista_sql.errors import VistaExecutionError  # noqa: E402

__all__ = ["WARNING", "Case", "STATEMENTS", "statement"]


# -- images -------------------------------------------------------------------------------------


def encoded(mode: str, size=(40, 30), value=100, format="PNG") -> bytes:
    buffer = io.BytesIO()
    fill = value if mode in ("L", "I;16") else (value,) * len(mode)
    Image.new(mode, size, fill).save(buffer, format=format)
    return buffer.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG that is only a signature and a header claiming `width`×`height` pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def _jpeg_truncated() -> bytes:
    data = encoded("RGB", (64, 64), format="JPEG")
    return data[: len(data) // 2]


# Bytes are made lazily: the 60-megapixel PNG costs a moment.
def _bad(id, input, reason, make):
    return Case(id, input, reason, "skipped with the reason"), make


def _odd(id, input, make):
    return Case(id, input, "decoded to RGB and used", "used"), make


BAD_IMAGES = [
    _bad(
        "truncated PNG",
        "first 60 bytes of a PNG",
        "cannot decode image: image file is truncated",
        lambda: encoded("RGB")[:60],
    ),
    _bad(
        "truncated JPEG",
        "first half of a JPEG",
        "cannot decode image: Truncated File Read",
        _jpeg_truncated,
    ),
    _bad("not an image", "text bytes", "not a recognised image format", lambda: b"not an image"),
    _bad("zero bytes", "an empty binary", "image is empty (0 bytes)", lambda: b""),
    _bad("NULL image", "a NULL image cell", "image is NULL", lambda: None),
    _bad(
        "20000x20000 header",
        "a 57-byte PNG claiming 20000×20000 pixels",
        "image of 400000000 pixels exceeds the 50 megapixel limit (decompression bomb guard)",
        lambda: png_header(20000, 20000),
    ),
    _bad(
        "60 megapixels",
        "an 8000×7500 PNG",
        "image of 8000x7500 pixels exceeds the 50 megapixel limit (decompression bomb guard)",
        lambda: encoded("L", (8000, 7500)),
    ),
]

ODD_IMAGES = [
    _odd("grayscale", "an 8-bit grayscale PNG", lambda: encoded("L")),
    _odd("RGBA", "a PNG with alpha", lambda: encoded("RGBA")),
    _odd("CMYK JPEG", "a CMYK JPEG", lambda: encoded("CMYK", format="JPEG")),
    _odd("16-bit PNG", "a 16-bit grayscale PNG", lambda: encoded("I;16", value=40000)),
    _odd("palette GIF", "a palette GIF", lambda: encoded("P", value=3, format="GIF")),
]


# -- data ---------------------------------------------------------------------------------------
# Views over the demo data (tests/reliability/test_bad_data.py makes them).

DATA_VIEWS = {
    "no_images": "SELECT * FROM images WHERE false",
    "no_products": "SELECT * FROM products WHERE false",
    "far_products": "SELECT id + 1000 AS id, price, is_popular FROM products",
    "null_products": "SELECT id, price, CAST(NULL AS INT) AS is_popular FROM products",
    "one_class_products": "SELECT id, price, 1 AS is_popular FROM products",
    # 36 images with a partner, 3 without; 4 product rows without an image, two keys twice and
    # two NULL labels.
    "messy_images": "SELECT * FROM images WHERE id <= 36 "
    "UNION ALL SELECT id + 100 AS id, content FROM images WHERE id <= 3",
    "messy_products": "SELECT id, price, CASE WHEN id IN (5, 6) THEN NULL ELSE is_popular END "
    "AS is_popular FROM products UNION ALL SELECT id, price, is_popular FROM products "
    "WHERE id IN (1, 2)",
}


def _e(id, input, kind, expected, **parts) -> Case:
    return Case(id, input, expected, kind, statement(**parts))


DATA_ERRORS = [
    _e(
        "empty images side",
        "the images view has no rows",
        VistaExecutionError,
        "nothing to train on: the images side (`no_images`) has no rows",
        images="no_images AS i (id, content)",
    ),
    _e(
        "empty structured side",
        "the structured view has no rows",
        VistaExecutionError,
        "nothing to train on: the structured side (`no_products`) has no rows",
        table="no_products",
    ),
    _e(
        "no key matches",
        "no image key is a structured key",
        VistaExecutionError,
        "nothing to train on: no image key matches a row of the structured side",
        table="far_products",
    ),
    _e(
        "WHERE leaves nothing",
        "`WHERE p.price < -1000`",
        VistaExecutionError,
        "nothing to train on: no row is left after the join and WHERE",
        where="WHERE p.price < -1000",
    ),
    _e(
        "every label NULL",
        "the label column is all NULL",
        VistaExecutionError,
        "nothing to train on: the label 'is_popular' is NULL in all 40 joined rows",
        table="null_products",
    ),
    _e(
        "label with one class",
        "every label is 1",
        VistaExecutionError,
        "the label 'is_popular' has a single value in the 40 joined rows; a classifier needs "
        "at least two",
        table="one_class_products",
    ),
]

MESSY = statement(images="messy_images AS i (id, content)", table="messy_products AS p")
DATA_WARNINGS = [
    Case(
        "some labels NULL",
        "2 of 38 joined rows have a NULL label",
        "left out 2 of 38 rows whose label 'is_popular' is NULL (keys 5, 6)",
    ),
    Case(
        "duplicate structured keys",
        "keys 1 and 2 twice in the structured view",
        "the structured side holds duplicate keys (keys 1, 2): 2 extra joined rows, each trained "
        "on as its own row",
    ),
    Case(
        "images without a structured row",
        "image keys 101..103 not in the structured view",
        "left out 3 of 39 images whose key has no row on the structured side (keys 101, 102, 103)",
    ),
    Case(
        "structured rows without an image",
        "structured keys 37..40 have no image",
        "left out 4 of 42 structured rows that match no image",
    ),
]

LAYERS = [
    Case(
        "duplicate layers",
        "`LAYERS (out_relu, block_15_add, out_relu)`",
        "normalised to block_15_add, out_relu",
        "planned",
        statement(layers="(out_relu, block_15_add, out_relu)"),
    ),
    Case(
        "layers in any order",
        "`LAYERS (global_average_pooling2d, block_14_add, out_relu)`",
        "normalised to block_14_add, out_relu, global_average_pooling2d",
        "planned",
        statement(layers="(global_average_pooling2d, block_14_add, out_relu)"),
    ),
]


# The dirty-images run (test_bad_images.py): every bad image above, the odd ones, and one key twice.
IMAGE_RUN_WARNINGS = [
    Case(
        "skipped images reported",
        "7 undecodable images among 13 rows",
        f"skipped {len(BAD_IMAGES)} rows whose image could not be decoded (key 1: …",
    ),
    Case(
        "duplicate image keys",
        "one image key twice",
        "the images side holds duplicate keys (key 8): 1 extra joined rows, each trained on as "
        "its own row",
    ),
]

SECTIONS = [
    ("statement", STATEMENTS),
    ("image", [c for c, _ in BAD_IMAGES + ODD_IMAGES]),
    ("image run", IMAGE_RUN_WARNINGS),
    ("data", DATA_ERRORS + DATA_WARNINGS),
    ("layers", LAYERS),
]
ALL = [case for _, cases in SECTIONS for case in cases]


def table() -> str:
    """The README's table of cases."""
    lines = ["| # | kind | case | input | expected |", "| ---: | --- | --- | --- | --- |"]
    number = 0
    for section, cases in SECTIONS:
        for case in cases:
            number += 1
            expected = case.behaviour.replace("|", "\\|")
            lines.append(f"| {number} | {section} | {case.id} | {case.input} | {expected} |")
    return "\n".join(lines)


README = Path(__file__).resolve().parents[2] / "README.md"
START = "<!-- reliability cases: generated by tests/reliability/cases.py -->\n"
END = "<!-- end of reliability cases -->"


def readme_table(text: str) -> str:
    """The generated block of README's "Reliability" section."""
    return text[text.index(START) + len(START) : text.index(END)].strip()


if __name__ == "__main__":
    # `--write` refreshes README's table in place; without it the table is printed.
    if sys.argv[1:] == ["--write"]:
        text = README.read_text()
        head, tail = text[: text.index(START) + len(START)], text[text.index(END) :]
        README.write_text(f"{head}{table()}\n{tail}")
    else:
        print(table())
