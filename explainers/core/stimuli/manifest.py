"""Writing a built grid to a folder: one lossless PNG per cell, composite.png and manifest.json."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from .composite import render_composite
from .encoding import ProgressCallback
from .layout import GridResult


def write_png(image: np.ndarray, path: Path) -> None:
    """Lossless 8-bit PNG: reading it back yields exactly ``image`` (and so exactly the scored tensor)."""
    from PIL import Image

    Image.fromarray(image).save(path, optimize=False, compress_level=6)


def read_png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image)


def write_grid_files(result: GridResult, directory: Path, *, manifest: dict[str, Any],
                     progress: ProgressCallback | None = None) -> dict[str, float]:
    """Write one PNG per cell, composite.png and manifest.json into ``directory`` (which must exist)."""
    started = time.perf_counter()
    directory = Path(directory)
    for i, cell in enumerate(result.cells):
        write_png(cell.image, directory / cell.filename)
        if progress and (i % 10 == 0 or i == len(result.cells) - 1):
            progress((i + 1) / len(result.cells), "writing cell images")
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
