"""Metric and image output: metrics.jsonl, TensorBoard event files and PNG grids.

`metrics.jsonl` has one JSON object per logged step and split: {"step": 100, "split": "train", "loss": ...}.
It is strict JSON: a non-finite value is written as the string "NaN", "Infinity" or "-Infinity", which
`read_metrics` turns back into a float. During a run the file is only appended to; it is rewritten only on
resume (records past the restored step are dropped) and then atomically (a temporary file renamed over it),
so a kill at any moment leaves either the old or the new file, never an empty one. A last line cut short by
a kill mid-append is dropped, with a warning, by `read_metrics` and by the rewrite.
"""
from __future__ import annotations

import json
import math
import os
from typing import Dict, Iterable, List, Mapping

import numpy as np
from absl import logging

_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def encode_value(v):
    v = float(v)
    if math.isfinite(v):
        return v
    return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")


def _decode(record: dict) -> dict:
    return {k: (_NONFINITE[v] if isinstance(v, str) and v in _NONFINITE else v) for k, v in record.items()}


def read_metrics(path: str, warn: bool = True) -> List[dict]:
    """The records of a metrics.jsonl file (non-finite values as floats). A truncated or unparsable LAST line
    (a kill mid-append) is dropped with a warning; a bad line elsewhere is an error naming it."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        lines = f.read().split("\n")
    records = []
    body = [(i, line) for i, line in enumerate(lines) if line.strip()]
    for j, (i, line) in enumerate(body):
        try:
            records.append(_decode(json.loads(line)))
        except json.JSONDecodeError as e:
            if j == len(body) - 1:
                if warn:
                    logging.warning("%s: dropping the truncated last line %d (%s)", path, i + 1, line[:80])
                break
            raise ValueError(f"{path}: line {i + 1} is not valid JSON ({e}): {line[:80]!r}") from e
    return records


def _rewrite(path: str, records: Iterable[dict]) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        for r in records:
            f.write(json.dumps({k: (encode_value(v) if isinstance(v, float) else v) for k, v in r.items()},
                               allow_nan=False) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def image_grid(images, ncols: int | None = None, pad: int = 1, min_size: int = 32) -> np.ndarray:
    """Tiles [N, H, W, C] images in [0, 1] into one uint8 [rows*H', cols*W', 3] image.

    A 5-D [rows, cols, H, W, C] array keeps its layout (e.g. one class per row, or image | reconstruction
    pairs). Small images (8x8 digits) are enlarged by an integer nearest-neighbour factor to at least
    `min_size`.
    """
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 5:
        ncols = x.shape[1]
        x = x.reshape((-1,) + x.shape[2:])
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ValueError(f"image_grid expects [N, H, W, C] images, got shape {x.shape}")
    n, h, w, c = x.shape
    if c == 1:
        x = np.repeat(x, 3, axis=-1)
    elif c != 3:
        raise ValueError(f"image_grid expects 1 or 3 channels, got {c}")
    x = np.clip(np.nan_to_num(x), 0.0, 1.0)
    f = max(1, math.ceil(min_size / max(h, w)))
    x = x.repeat(f, axis=1).repeat(f, axis=2)
    h, w = h * f, w * f
    ncols = ncols or int(math.ceil(math.sqrt(n)))
    nrows = int(math.ceil(n / ncols))
    grid = np.ones((nrows * (h + pad) + pad, ncols * (w + pad) + pad, 3), np.float32)
    for i in range(n):
        r, col = divmod(i, ncols)
        grid[pad + r * (h + pad):pad + r * (h + pad) + h, pad + col * (w + pad):pad + col * (w + pad) + w] = x[i]
    return (grid * 255).round().astype(np.uint8)


def save_png(path: str, array: np.ndarray) -> None:
    from PIL import Image

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    Image.fromarray(array).save(path)


class MetricWriter:
    """Writes scalars to metrics.jsonl and TensorBoard, and image grids to PNG files and TensorBoard.

    Only process 0 writes. On resume, `truncate_after(step)` drops records past the restored step (atomically),
    so the file of a resumed run equals the file of a run that never stopped. `filename` picks another file in
    the workdir (evaluation runs write `evaluations.jsonl`).
    """

    def __init__(self, workdir: str, enabled: bool = True, tensorboard: bool = True, filename: str = "metrics.jsonl"):
        self.workdir = workdir
        self.enabled = enabled
        self.path = os.path.join(workdir, filename)
        self._tb = None
        if enabled:
            os.makedirs(workdir, exist_ok=True)
            if tensorboard:
                from tensorboardX import SummaryWriter

                self._tb = SummaryWriter(os.path.join(workdir, "tensorboard"))

    def records(self) -> List[dict]:
        return read_metrics(self.path)

    def truncate_after(self, step: int) -> None:
        if not self.enabled or not os.path.exists(self.path):
            return
        records = self.records()
        kept = [r for r in records if r["step"] <= step]
        with open(self.path) as f:
            intact = f.read().endswith("\n") or os.path.getsize(self.path) == 0
        if len(kept) != len(records) or not intact:
            _rewrite(self.path, kept)

    def drop_splits(self, splits) -> None:
        """Removes the records of the given splits (e.g. the '<prefix>_best' summaries of an earlier run)."""
        splits = set(splits)
        if not self.enabled or not os.path.exists(self.path):
            return
        records = self.records()
        kept = [r for r in records if r["split"] not in splits]
        if len(kept) != len(records):
            _rewrite(self.path, kept)

    def write_record(self, record: Mapping) -> None:
        """Appends one record (a dict of JSON values; floats may be non-finite)."""
        if not self.enabled:
            return
        line = json.dumps({k: (encode_value(v) if isinstance(v, (float, np.floating)) else v)
                           for k, v in record.items()}, allow_nan=False)
        with open(self.path, "a") as f:
            f.write(line + "\n")

    def write_scalars(self, step: int, split: str, scalars: Mapping[str, float]) -> None:
        if not self.enabled:
            return
        record = {"step": int(step), "split": split}
        record.update({k: float(v) for k, v in sorted(scalars.items())})
        self.write_record(record)
        if self._tb is not None:
            for k, v in scalars.items():
                self._tb.add_scalar(f"{split}/{k}", float(v), int(step))

    def write_images(self, step: int, images: Dict[str, np.ndarray]) -> Dict[str, str]:
        """Saves each [N, H, W, C] (or [rows, cols, H, W, C]) batch as `samples/<name>_<step>.png`; returns the paths."""
        paths = {}
        if not self.enabled:
            return paths
        for name, batch in images.items():
            grid = image_grid(np.asarray(batch))
            path = os.path.join(self.workdir, "samples", f"{name}_{int(step):07d}.png")
            save_png(path, grid)
            paths[name] = path
            if self._tb is not None:
                self._tb.add_image(name, grid, int(step), dataformats="HWC")
        return paths

    def flush(self):
        if self._tb is not None:
            self._tb.flush()

    def close(self):
        if self._tb is not None:
            self._tb.close()
            self._tb = None
