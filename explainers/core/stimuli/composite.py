"""One overview image of a whole grid: column headers on top, golden frames around the originals."""
from __future__ import annotations

from collections.abc import Sequence

from .layout import Cell

#: Colour of the frame that marks an original image (the seed's "golden frame").
GOLD = (212, 160, 23)


def wrap_label(label: str, width_chars: int) -> list[str]:
    """Words of a column label greedily wrapped to lines of at most ``width_chars`` characters."""
    lines: list[str] = []
    for word in label.replace(",", "").split():
        if lines and len(lines[-1]) + 1 + len(word) <= width_chars:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def render_composite(cells: Sequence[Cell], *, rows: int, columns: int, labels: Sequence[str],
                     scale: int = 2, gap: int = 6, frame: int = 3, line_height: int = 12):
    """One PNG-ready Pillow image of the whole grid: headers on top, golden frames around originals."""
    from PIL import Image, ImageDraw

    columns = max(columns, len(labels))  # a grid may show more columns than its logit bins (an original's)
    height, width = cells[0].image.shape[:2]
    cw, ch = width * scale, height * scale
    # Pillow's default bitmap font is about 6 px per character: wrap whole words instead of cutting them.
    wrapped = [wrap_label(label, max(4, cw // 6)) for label in labels]
    header = 6 + line_height * max((len(lines) for lines in wrapped), default=1)
    canvas = Image.new("RGB", (gap + columns * (cw + gap), header + gap + rows * (ch + gap)), "white")
    draw = ImageDraw.Draw(canvas)
    for c, lines in enumerate(wrapped):
        x = gap + c * (cw + gap)
        for line_number, line in enumerate(lines):
            draw.text((x, 3 + line_height * line_number), line, fill=(20, 20, 20))
    for cell in cells:
        x = gap + cell.column * (cw + gap)
        y = header + gap + cell.row * (ch + gap)
        canvas.paste(Image.fromarray(cell.image).resize((cw, ch), Image.NEAREST), (x, y))
        if cell.is_original:
            for i in range(frame):
                draw.rectangle([x - 1 - i, y - 1 - i, x + cw + i, y + ch + i], outline=GOLD)
    return canvas
