"""Did the full-page screenshot change? Two screenshots compared by perceptual hash.

Text can stay the same while a picture is swapped or recoloured, so the full-page
screenshots are compared too, by a perceptual hash cut into squares
(:func:`screenshot_distance`): exact pixels would call every re-render a change,
and one hash of the whole page is blind to a paragraph on a long one.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops, UnidentifiedImageError

#: Side of the square a screenshot is hashed in, in pixels (see :func:`screenshot_distance`).
SQUARE_PX = 128
#: Bits per side of each square's hash: a 16x16 dHash, one bit per 8x8 pixels.
HASH_BITS = 16
#: Share of one square's hash bits that must differ for the screenshot to count as
#: changed. Chosen on real captures of tests/changing.py: the same page captured
#: twice differs by 0; one character changed flips ~0.4% (a single bit: the text
#: diff reports it); a sentence added or reworded 4.7%; a picture recoloured
#: 12.5%; a takedown page 17% and more.
SCREENSHOT_THRESHOLD = 0.02

#: left, top, right, bottom
Box = tuple[int, int, int, int]


def screenshot_change(before: Path | None, after: Path | None) -> dict[str, Any]:
    """Did the full-page screenshot change beyond :data:`SCREENSHOT_THRESHOLD`?"""
    result: dict[str, Any] = {
        "distance": None,
        "threshold": SCREENSHOT_THRESHOLD,
        "changed": None,
        "method": (
            f"dHash ({HASH_BITS}x{HASH_BITS} bits) of every {SQUARE_PX}-pixel square, on"
            " brightness and both colour channels; distance: the largest share of differing"
            " bits in any one square"
        ),
    }
    if before is None or after is None:
        missing = "previous" if before is None else "current"
        result["note"] = f"the {missing} capture has no full-page screenshot"
        return result
    try:
        distance, area, sizes = screenshot_distance(before, after)
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
        result["note"] = f"the screenshots could not be compared: {exc}"
        return result
    result.update(
        distance=round(distance, 4),
        changed=distance > SCREENSHOT_THRESHOLD,
        size_before=list(sizes[0]),
        size_after=list(sizes[1]),
        changed_area=list(area) if area else None,
    )
    return result


def screenshot_distance(
    before: Path, after: Path
) -> tuple[float, Box | None, tuple[tuple[int, int], tuple[int, int]]]:
    """How differently two screenshots look, from 0 (alike) to 1.

    A plain 16x16 dHash of a whole full-page screenshot is blind to a paragraph on
    a long page (one bit covers a whole block of it) and to a picture changing
    colour but not brightness (dHash keeps only which neighbour is brighter). So
    both images are laid on one white canvas of the larger size (pages of
    different heights compare region by region, and the extra part counts as
    changed wherever it is not blank), cut into squares of :data:`SQUARE_PX`
    pixels, and each square gets a 16x16 dHash on each of the Y, Cb and Cr
    channels. The distance is the largest share of differing bits in any square
    and channel, so one changed region counts however long the page is.

    Returns the distance, the bounding box (left, top, right, bottom, in pixels)
    of the squares over the threshold, and both images' sizes.
    """
    with Image.open(before) as first, Image.open(after) as second:
        sizes = (first.size, second.size)
        canvas = (max(first.width, second.width), max(first.height, second.height))
        bits_before = _dhash_bits(first, canvas)
        bits_after = _dhash_bits(second, canvas)
    distance = 0.0
    squares: Box | None = None
    for old, new in zip(bits_before, bits_after, strict=True):
        shares = _square_shares(ImageChops.difference(old, new))
        width = shares.width
        for index, share in enumerate(shares.get_flattened_data()):
            distance = max(distance, float(share))
            if share > SCREENSHOT_THRESHOLD:
                x, y = index % width, index // width
                squares = _union(squares, (x, y, x + 1, y + 1))
    return distance, _in_pixels(squares, canvas), sizes


def _dhash_bits(image: Image.Image, canvas: tuple[int, int]) -> list[Image.Image]:
    """Per channel (Y, Cb, Cr): 255 where a cell is brighter than its right neighbour."""
    flat = Image.new("RGB", canvas, (255, 255, 255))
    rgba = image.convert("RGBA")
    flat.paste(rgba, (0, 0), rgba)  # transparency over white, as a reader would see it
    cell = SQUARE_PX // HASH_BITS
    cols, rows = math.ceil(canvas[0] / cell), math.ceil(canvas[1] / cell)
    small = flat.convert("YCbCr").resize((cols + 1, rows), Image.Resampling.BOX)
    bits = []
    for channel in small.split():
        left = channel.crop((0, 0, cols, rows))
        right = channel.crop((1, 0, cols + 1, rows))
        bits.append(ImageChops.subtract(left, right).point(lambda v: 255 if v else 0))
    return bits


def _square_shares(difference: Image.Image) -> Image.Image:
    """One pixel per square: the share of its hash bits that differ (a partial square
    at the edge is counted over a whole square's bits, so a sliver cannot dominate)."""
    cols = math.ceil(difference.width / HASH_BITS) * HASH_BITS
    rows = math.ceil(difference.height / HASH_BITS) * HASH_BITS
    padded = Image.new("L", (cols, rows), 0)
    padded.paste(difference, (0, 0))
    return padded.point(lambda v: 1 if v else 0).convert("F").reduce(HASH_BITS)


def _union(box: Box | None, other: Box | None) -> Box | None:
    if box is None or other is None:
        return box or other
    return (
        min(box[0], other[0]),
        min(box[1], other[1]),
        max(box[2], other[2]),
        max(box[3], other[3]),
    )


def _in_pixels(squares: Box | None, canvas: tuple[int, int]) -> Box | None:
    """A box counted in squares as a box in the screenshot's pixels."""
    if squares is None:
        return None
    left, top, right, bottom = (v * SQUARE_PX for v in squares)
    return (left, top, min(right, canvas[0]), min(bottom, canvas[1]))
