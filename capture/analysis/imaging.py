"""Image preparation for OCR: tiles of tall pages, resampling, and a denoised variant.

Kept apart from the engine so the geometry (which source pixels a tile or a scaled
reading covers) can be read and tested without tesseract.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image, ImageFilter, ImageOps

Box = tuple[int, int, int, int]  # x, y, width, height

#: Height of one tile of a tall image, in source pixels. Tesseract's page layout and
#: memory grow with the page; a 20,000 px screenshot read whole takes seconds and hundreds
#: of megabytes, while 2,000 px tiles keep each read to a screenful or two.
TILE_HEIGHT = 2000
#: Rows two neighbouring tiles share. A line is kept from the tile whose core holds its
#: vertical centre; it is whole in that tile as long as it is no taller than the overlap,
#: so this is also the tallest line that a tile boundary cannot cut (banners included).
TILE_OVERLAP = 300


@dataclass(frozen=True)
class Tile:
    """Rows ``top``..``bottom`` of the source; lines centred in ``core_top``..``core_bottom``
    belong to this tile, the rest to a neighbour that sees them whole."""

    top: int
    bottom: int
    core_top: int
    core_bottom: int

    def owns(self, box: Box) -> bool:
        centre = box[1] + box[3] / 2
        return self.core_top <= centre < self.core_bottom


def tiles(height: int, tile_height: int = TILE_HEIGHT, overlap: int = TILE_OVERLAP) -> list[Tile]:
    """Split ``height`` rows into the fewest overlapping tiles of at most ``tile_height``,
    all of one size (so no rows are read three times), whose cores cover every row once."""
    if height <= tile_height:
        return [Tile(0, height, 0, height)]
    count = -(-(height - overlap) // (tile_height - overlap))
    size = -(-(height + (count - 1) * overlap) // count)
    tops = [min(index * (size - overlap), height - size) for index in range(count)]
    result = []
    for index, top in enumerate(tops):
        core_top = 0 if index == 0 else (top + tops[index - 1] + size) // 2
        core_bottom = (tops[index + 1] + top + size) // 2 if index + 1 < count else height
        result.append(Tile(top, top + size, core_top, core_bottom))
    return result


def opaque_rgb(image: Image.Image) -> Image.Image:
    """``image`` as RGB, transparent parts made white. Colour is kept (tesseract picks the
    channel that best separates text from background: white letters on yellow, nearly
    lost in grey, stand out in blue); transparency is not, as dropping the alpha channel
    turns a transparent PNG's background black, under black text."""
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def resample(image: Image.Image, scale: float) -> Image.Image:
    """``image`` scaled by ``scale`` (Lanczos both ways: it keeps thin Arabic strokes and
    dots that bilinear shrinking smudges into the letters beside them)."""
    if scale == 1:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def denoised(image: Image.Image) -> Image.Image:
    """A grey, despeckled, contrast-stretched copy for scans and photos of paper.

    A 3x3 median removes salt-and-pepper specks that tesseract otherwise reads as dots
    (which in Arabic change letters) or as Latin junk; the stretch restores the contrast of
    grey paper. It ruins small clean text (the median eats thin strokes), which is why it
    is only ever a second reading, kept where tesseract is more confident of it.
    """
    grey = image.convert("L").filter(ImageFilter.MedianFilter(3))
    return ImageOps.autocontrast(grey, cutoff=1).convert("RGB")


def grey(image: Image.Image) -> Image.Image:
    """A plain grey copy. Colour is the better first reading (see :func:`opaque_rgb`), but
    over a busy, colourful background tesseract's own choice of channel can find no text
    at all where the luminance shows it plainly (white banner text over a video frame)."""
    return image.convert("L").convert("RGB")


def to_source(box: Box, scale: float, left: int, top: int) -> Box:
    """A box found in a scaled crop, in the source image's pixels."""
    x, y, w, h = box
    return (
        left + round(x / scale),
        top + round(y / scale),
        max(1, round(w / scale)),
        max(1, round(h / scale)),
    )


def bands(boxes: list[Box], width: int, height: int) -> list[Box]:
    """Regions to read again around ``boxes`` (tile coordinates): each box padded by its
    height (tesseract needs a margin, and a first reading's box may have missed dots and
    descenders), boxes whose padded regions touch merged, clipped to the tile."""
    padded = []
    for x, y, w, h in sorted(boxes, key=lambda b: b[1]):
        pad = max(8, h)
        x0, y0 = max(0, x - pad), max(0, y - pad)
        padded.append((x0, y0, min(width, x + w + pad) - x0, min(height, y + h + pad) - y0))
    merged: list[Box] = []
    for box in padded:
        if merged and box[1] <= merged[-1][1] + merged[-1][3]:
            merged[-1] = union([merged[-1], box])
        else:
            merged.append(box)
    return merged


def union(boxes: list[Box]) -> Box:
    """The smallest box holding all of ``boxes``."""
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[0] + b[2] for b in boxes)
    y1 = max(b[1] + b[3] for b in boxes)
    return (x0, y0, x1 - x0, y1 - y0)


def vertical_overlap(a: Box, b: Box) -> float:
    """Shared rows of two boxes as a fraction of the shorter one's height."""
    shared = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(0, shared) / max(1, min(a[3], b[3]))


def horizontal_gap(a: Box, b: Box) -> int:
    """Columns between two boxes (negative when they overlap)."""
    return max(a[0], b[0]) - min(a[0] + a[2], b[0] + b[2])
