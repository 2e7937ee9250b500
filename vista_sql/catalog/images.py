"""Decoding image bytes into the CNN's input grid with Pillow."""

from __future__ import annotations

import io
import re

import numpy as np
from PIL import Image, UnidentifiedImageError

# Refuse images whose header claims more pixels than this before decoding a byte of them: a
# small file can declare a 20000×20000 canvas (a decompression bomb).
MAX_PIXELS = 50_000_000


class ImageDecodeError(ValueError):
    """The bytes are not an image this pipeline can use; the message says why."""


def decode(data: bytes | None, size: tuple[int, int]) -> np.ndarray:
    """RGB float32 array of shape (height, width, 3) with values 0..255, resized bilinearly."""
    if data is None:
        raise ImageDecodeError("image is NULL")
    if len(data) == 0:
        raise ImageDecodeError("image is empty (0 bytes)")
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise _too_large(f"{width}x{height} pixels")
            # JPEG can decode at a reduced scale directly, much cheaper than a full decode.
            image.draft("RGB", size)
            rgb = image.convert("RGB").resize((size[1], size[0]), Image.Resampling.BILINEAR)
            return np.asarray(rgb, dtype=np.float32)
    except UnidentifiedImageError:
        raise ImageDecodeError("not a recognised image format") from None
    except Image.DecompressionBombError as error:
        # Pillow refuses the largest headers itself, before the size is known here.
        claimed = re.search(r"\((\d+) pixels\)", str(error))
        raise _too_large(f"{claimed.group(1)} pixels" if claimed else "its size") from None
    except (OSError, SyntaxError) as error:
        raise ImageDecodeError(f"cannot decode image: {error}") from None


def _too_large(size: str) -> ImageDecodeError:
    return ImageDecodeError(
        f"image of {size} exceeds the {MAX_PIXELS // 1_000_000} megapixel limit "
        "(decompression bomb guard)"
    )
