"""Writing a built grid to a folder: one lossless PNG per cell, a sprite, composite.png and manifest.json.

A cell's file is named by its content (the first CONTENT_NAME_HEX hex digits of the SHA-256 of its PNG
bytes), so a name never stands for two different images: browsers and proxies may cache it forever
(studyserver/media.py serves it as immutable, with the hash as its ETag), and identical cells share a file.

The sprite is every cell of the grid in one lossless PNG (same pixels, placed by row and column), also
content-addressed: the participant page draws the 150 cells of the seed's grid from it with one request
instead of 150 (docs/BENCHMARKS.md, "Grid sprite"). The cell files stay: they are what a click enlarges,
what the stored cells name and what the faithfulness checks re-encode.
"""
from __future__ import annotations

import hashlib
import io
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from .composite import render_composite
from .encoding import ProgressCallback
from .layout import GridResult


#: Hex digits of the SHA-256 in a content-addressed file name (80 bits: no collision among any number of
#: cells a server will ever hold).
CONTENT_NAME_HEX = 20


def encode_png(image: np.ndarray) -> bytes:
    """Lossless 8-bit PNG bytes: decoding them yields exactly ``image`` (and so exactly the scored tensor)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", optimize=False, compress_level=6)
    return buffer.getvalue()


def content_addressed_name(data: bytes, suffix: str = ".png") -> str:
    """The file name of ``data``: the start of its SHA-256 in hex, then ``suffix``."""
    return hashlib.sha256(data).hexdigest()[:CONTENT_NAME_HEX] + suffix


def write_png(image: np.ndarray, path: Path) -> None:
    """Lossless 8-bit PNG at ``path`` (see encode_png)."""
    Path(path).write_bytes(encode_png(image))


def write_cell_png(image: np.ndarray, directory: Path) -> str:
    """Write ``image`` into ``directory`` under its content-addressed name; returns the name."""
    data = encode_png(image)
    name = content_addressed_name(data)
    path = Path(directory) / name
    if not path.exists():  # the same bytes already written for another cell
        path.write_bytes(data)
    return name


#: Pixels around each cell in the sprite, copies of the cell's edge: a browser scaling the sprite samples
#: beyond a cell's border, and would otherwise blend in its neighbour's edge.
SPRITE_PAD = 1
#: Larger sprites are not written (browsers decode them slowly and may refuse them); the page then loads
#: the cell files one by one.
SPRITE_MAX_SIDE = 16384


def build_sprite(cells) -> tuple[np.ndarray, dict[str, int]] | None:
    """All ``cells`` (with .row, .column, .image) in one image, each in a slot of its size plus SPRITE_PAD
    on every side, the slot of (row, column) at (column * slot, row * slot).

    Returns the image and its geometry ({"cell", "pad", "slot", "width", "height"}), or None where there is
    nothing to place, the cells differ in size or colour channels, or the sprite would be too large.
    """
    cells = list(cells)
    if not cells:
        return None
    shape = cells[0].image.shape
    if any(cell.image.shape != shape for cell in cells) or shape[0] != shape[1]:
        return None
    size, pad = int(shape[0]), SPRITE_PAD
    slot = size + 2 * pad
    rows = max(cell.row for cell in cells) + 1
    columns = max(cell.column for cell in cells) + 1
    width, height = columns * slot, rows * slot
    if max(width, height) > SPRITE_MAX_SIDE:
        return None
    sprite = np.zeros((height, width) + tuple(shape[2:]), dtype=np.uint8)
    padding = ((pad, pad), (pad, pad)) + ((0, 0),) * (len(shape) - 2)
    for cell in cells:
        top, left = cell.row * slot, cell.column * slot
        sprite[top:top + slot, left:left + slot] = np.pad(np.asarray(cell.image, dtype=np.uint8), padding, mode="edge")
    return sprite, {"cell": size, "pad": pad, "slot": slot, "width": width, "height": height}


def sprite_cell(sprite: np.ndarray, geometry: dict[str, int], row: int, column: int) -> np.ndarray:
    """The pixels of cell (row, column) in a sprite made by build_sprite."""
    top = row * geometry["slot"] + geometry["pad"]
    left = column * geometry["slot"] + geometry["pad"]
    return sprite[top:top + geometry["cell"], left:left + geometry["cell"]]


def write_sprite(cells, directory: Path) -> dict[str, Any] | None:
    """Write the sprite of ``cells`` into ``directory`` under its content-addressed name; returns its geometry
    with "file" (the name), or None where build_sprite makes none."""
    built = build_sprite(cells)
    if built is None:
        return None
    sprite, geometry = built
    return {**geometry, "file": write_cell_png(sprite, directory)}


def read_png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image)


def write_grid_files(result: GridResult, directory: Path, *, manifest: dict[str, Any],
                     progress: ProgressCallback | None = None, sprite: bool = False) -> dict[str, float]:
    """Write one PNG per cell (content-addressed names), with ``sprite`` the sprite of all cells, composite.png
    and manifest.json into ``directory`` (which must exist).

    The entries of ``manifest["cells"]`` (dicts with "row", "column" and "file"), where given, get the names
    the cells were written under, in place: the caller publishes the cells under those names. With
    ``sprite``, ``manifest["sprite"]`` gets write_sprite's geometry and file name (None where none was made).
    """
    started = time.perf_counter()
    directory = Path(directory)
    files: dict[tuple[int, int], str] = {}
    for i, cell in enumerate(result.cells):
        files[(cell.row, cell.column)] = write_cell_png(cell.image, directory)
        if progress and (i % 10 == 0 or i == len(result.cells) - 1):
            progress((i + 1) / len(result.cells), "writing cell images")
    for entry in manifest.get("cells") or ():
        entry["file"] = files.get((entry["row"], entry["column"]), entry["file"])
    cells_s = time.perf_counter() - started
    timings = {"write_cells_s": cells_s}
    if sprite:
        started = time.perf_counter()
        manifest["sprite"] = write_sprite(result.cells, directory)
        timings["write_sprite_s"] = time.perf_counter() - started
    started = time.perf_counter()
    render_composite(result.cells, rows=result.layout.rows, columns=result.layout.columns,
                     labels=result.labels).save(directory / "composite.png")
    timings["write_composite_s"] = time.perf_counter() - started
    full_manifest = {**manifest, "timings": {**result.timings, **timings, **manifest.get("timings", {})}}
    with open(directory / "manifest.json", "w", encoding="utf-8") as handle:
        json.dump(full_manifest, handle, indent=2, sort_keys=True, default=_json_default)
        handle.flush()
    return timings


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
