"""Every bad-input case of the reliability suite, in one place: the tests parametrize over these
lists and README's "Reliability" table is generated from them (`python tests/reliability/cases.py`
prints it, `--write` puts it in README; test_readme_table checks README holds exactly that)."""

from __future__ import annotations

import io
import struct
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from vista_sql.errors import VistaBindError, VistaExecutionError, VistaSyntaxError

WARNING = "warning"


@dataclass(frozen=True)
class Case:
    id: str
    input: str  # what is wrong, for the README
    expected: str  # the exact one-line message (without line:col); a trailing '…' = its start
    kind: type | str = WARNING  # the error class, or WARNING for a logged warning
    sql: str = ""  # the statement, for statement and data cases

    def matches(self, message: str) -> bool:
        if self.expected.endswith("…"):
            return message.startswith(self.expected[:-1])
        return message == self.expected

    @property
    def behaviour(self) -> str:
        kind = self.kind if isinstance(self.kind, str) else self.kind.__name__
        code = f"`` {self.expected} ``" if "`" in self.expected else f"`{self.expected}`"
        return f"{kind}: {code}"


# -- statements ---------------------------------------------------------------------------------

GOOD = {
    "cnn": "mobilenetv2 WEIGHTS RANDOM",
    "layers": "(out_relu)",
    "images": "images AS i (id, content)",
    "table": "products AS p",
    "join": "USING (id)",
    "where": "",
    "train": "logistic_regression (LABEL is_popular)",
    "tail": "",
}


def statement(**parts: str) -> str:
    p = {**GOOD, **parts}
    return (
        f"TRANSFER FEATURES FROM {p['cnn']} LAYERS {p['layers']} ON {p['images']} "
        f"JOIN {p['table']} {p['join']} {p['where']} TRAIN {p['train']} {p['tail']}"
    )


def _s(id, input, sql, kind, expected) -> Case:
    return Case(id, input, expected, kind, sql)


STATEMENTS = [
    _s(
        "misspelt keyword",
        "`LAYER (avg_pool)`",
        "TRANSFER FEATURES FROM resnet50 LAYER (avg_pool)",
        VistaSyntaxError,
        "expected LAYERS but found 'LAYER'",
    ),
    _s(
        "missing image column",
        "`ON images AS i (id)`",
        statement(images="images AS i (id)"),
        VistaSyntaxError,
        "expected ', <image column>' after the key column",
    ),
    _s(
        "missing TRAIN",
        "no `TRAIN` clause",
        statement(train="").replace("TRAIN", ""),
        VistaSyntaxError,
        "expected TRAIN…",
    ),
    _s(
        "unterminated string",
        "`MATERIALIZE INTO '/tmp/x`",
        statement(tail="MATERIALIZE INTO '/tmp/x"),
        VistaSyntaxError,
        "cannot read the SQL: …",
    ),
    _s(
        "unknown CNN",
        "`FROM resnet5`",
        statement(cnn="resnet5 WEIGHTS RANDOM"),
        VistaBindError,
        "unknown CNN 'resnet5'; did you mean 'resnet50'?; known: …",
    ),
    _s(
        "unknown layer",
        "`LAYERS (avgpool)` of resnet50",
        statement(cnn="resnet50 WEIGHTS RANDOM", layers="(avgpool)"),
        VistaBindError,
        "unknown layer 'avgpool' for resnet50; did you mean 'avg_pool'?",
    ),
    _s(
        "too many top layers",
        "`LAYERS TOP 99`",
        statement(layers="TOP 99"),
        VistaBindError,
        "LAYERS TOP needs 1..12 for mobilenetv2, not 99",
    ),
    _s(
        "unknown images table",
        "`ON imagez`",
        statement(images="imagez AS i (id, content)"),
        VistaBindError,
        "unknown table or view 'imagez'; did you mean 'images'?",
    ),
    _s(
        "unknown structured table",
        "`JOIN produkts`",
        statement(table="produkts"),
        VistaBindError,
        "unknown table or view 'produkts'; did you mean 'products'?",
    ),
    _s(
        "unknown key column",
        "`(ident, content)`",
        statement(images="images AS i (ident, content)"),
        VistaBindError,
        "unknown column 'ident' in the images table",
    ),
    _s(
        "unknown image column",
        "`(id, contents)`",
        statement(images="images AS i (id, contents)"),
        VistaBindError,
        "unknown column 'contents' in the images table; did you mean 'content'?",
    ),
    _s(
        "image column not binary",
        "`(id, id)`",
        statement(images="images AS i (id, id)"),
        VistaBindError,
        "image column 'id' is int, expected binary image bytes (for files, read them with a "
        "binaryFile view)",
    ),
    _s(
        "join column missing on one side",
        "`USING (price)`, no such images column",
        statement(join="USING (price)"),
        VistaBindError,
        "unknown column 'price' in the images table",
    ),
    _s(
        "unknown alias in ON",
        "`ON q.id = p.id`",
        statement(join="ON q.id = p.id"),
        VistaBindError,
        "unknown table or alias 'q'",
    ),
    _s(
        "unknown column in WHERE",
        "`WHERE p.prize > 3`",
        statement(where="WHERE p.prize > 3"),
        VistaBindError,
        "unknown column 'prize' in the structured table; did you mean 'price'?",
    ),
    _s(
        "unknown label",
        "`LABEL popular`",
        statement(train="logistic_regression (LABEL popular)"),
        VistaBindError,
        "unknown column 'popular' in the structured table; did you mean 'is_popular'?",
    ),
    _s(
        "string label",
        "`LABEL category` (a string)",
        statement(train="logistic_regression (LABEL category)"),
        VistaBindError,
        "label column 'category' is string; expected a numeric or boolean column",
    ),
    _s(
        "string feature",
        "`FEATURES (price, category)`",
        statement(train="logistic_regression (LABEL is_popular, FEATURES (price, category))"),
        VistaBindError,
        "feature column 'category' is string; features must be numeric",
    ),
    _s(
        "label as feature",
        "`FEATURES (price, is_popular)`",
        statement(train="logistic_regression (LABEL is_popular, FEATURES (price, is_popular))"),
        VistaBindError,
        "column 'is_popular' is the label or a join key, not a feature",
    ),
    _s(
        "unknown model",
        "`TRAIN logistic_regresion`",
        statement(train="logistic_regresion (LABEL is_popular)"),
        VistaBindError,
        "unknown model 'logistic_regresion'; did you mean 'logistic_regression'?…",
    ),
    _s(
        "unknown model parameter",
        "`max_iters = 3`",
        statement(train="logistic_regression (LABEL is_popular, max_iters = 3)"),
        VistaBindError,
        "unknown parameter 'max_iters' for logistic_regression; did you mean 'max_iter'?…",
    ),
    _s(
        "mistyped model parameter",
        "`max_iter = 'ten'`",
        statement(train="logistic_regression (LABEL is_popular, max_iter = 'ten')"),
        VistaBindError,
        "parameter 'max_iter' of logistic_regression cannot be 'ten'…",
    ),
    _s(
        "split above 1",
        "`EVALUATE SPLIT 1.5`",
        statement(tail="EVALUATE SPLIT 1.5"),
        VistaBindError,
        "EVALUATE SPLIT must be between 0 and 1 (exclusive), not 1.5",
    ),
    _s(
        "split of 1",
        "`EVALUATE SPLIT 1`",
        statement(tail="EVALUATE SPLIT 1"),
        VistaBindError,
        "EVALUATE SPLIT must be between 0 and 1 (exclusive), not 1",
    ),
    _s(
        "split of 0",
        "`EVALUATE SPLIT 0`",
        statement(tail="EVALUATE SPLIT 0"),
        VistaBindError,
        "EVALUATE SPLIT must be between 0 and 1 (exclusive), not 0",
    ),
    _s(
        "negative split",
        "`EVALUATE SPLIT -0.2`",
        statement(tail="EVALUATE SPLIT -0.2"),
        VistaSyntaxError,
        "expected a fraction after EVALUATE SPLIT",
    ),
    _s(
        "one fold",
        "`EVALUATE CROSS VALIDATE 1`",
        statement(tail="EVALUATE CROSS VALIDATE 1"),
        VistaBindError,
        "CROSS VALIDATE needs at least 2 folds, not 1",
    ),
    _s(
        "unknown option",
        "`OPTIONS (batchsize = 8)`",
        statement(tail="OPTIONS (batchsize = 8)"),
        VistaBindError,
        "unknown option 'batchsize'; did you mean 'batch_size'?",
    ),
    _s(
        "bad option value",
        "`OPTIONS (batch_size = 0)`",
        statement(tail="OPTIONS (batch_size = 0)"),
        VistaBindError,
        "option 'batch_size' must be a positive integer, not 0",
    ),
    _s(
        "boolean for an integer option",
        "`OPTIONS (partitions = true)`",
        statement(tail="OPTIONS (partitions = true)"),
        VistaBindError,
        "option 'partitions' must be a positive integer, not True",
    ),
    _s(
        "unknown on_error",
        "`OPTIONS (on_error = 'ignore')`",
        statement(tail="OPTIONS (on_error = 'ignore')"),
        VistaBindError,
        "option 'on_error' must be one of 'skip', 'fail', not 'ignore'",
    ),
    _s(
        "ImageNet weights offline",
        "`resnet50 WEIGHTS 'imagenet'`, no cached file",
        statement(cnn="resnet50 WEIGHTS 'imagenet'"),
        VistaBindError,
        "ImageNet weights for resnet50 are not in the Keras cache and cannot be downloaded: put "
        "resnet50_weights_tf_dim_ordering_tf_kernels.h5 in …",
    ),
    _s(
        "missing weights file",
        "`WEIGHTS '/nonexistent/vgg.weights.h5'`",
        statement(cnn="vgg16 WEIGHTS '/nonexistent/vgg.weights.h5'"),
        VistaBindError,
        "weights file '/nonexistent/vgg.weights.h5' does not exist",
    ),
    _s(
        "failing subquery",
        "`JOIN (SELECT nope FROM products)`",
        statement(table="(SELECT nope FROM products) p"),
        VistaBindError,
        "the structured subquery fails: …",
    ),
]


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
