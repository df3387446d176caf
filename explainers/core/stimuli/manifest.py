"""Writing a built grid to a folder: one lossless PNG per cell, composite.png and manifest.json.

A cell's file is named by its content (the first CONTENT_NAME_HEX hex digits of the SHA-256 of its PNG
bytes), so a name never stands for two different images: browsers and proxies may cache it forever
(studyserver/media.py serves it as immutable, with the hash as its ETag), and identical cells share a file.
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


def read_png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image)


def write_grid_files(result: GridResult, directory: Path, *, manifest: dict[str, Any],
                     progress: ProgressCallback | None = None) -> dict[str, float]:
    """Write one PNG per cell (content-addressed names), composite.png and manifest.json into ``directory``
    (which must exist).

    The entries of ``manifest["cells"]`` (dicts with "row", "column" and "file"), where given, get the names
    the cells were written under, in place: the caller publishes the cells under those names.
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
    started = time.perf_counter()
    render_composite(result.cells, rows=result.layout.rows, columns=result.layout.columns,
                     labels=result.labels).save(directory / "composite.png")
    composite_s = time.perf_counter() - started
    timings = {"write_cells_s": cells_s, "write_composite_s": composite_s}
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
