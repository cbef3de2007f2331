"""Metric and image output: metrics.jsonl, TensorBoard event files and PNG grids.

`metrics.jsonl` has one JSON object per logged step and split: {"step": 100, "split": "train", "loss": ...}.
"""
from __future__ import annotations

import json
import math
import os
from typing import Dict, Mapping

import numpy as np


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

    Only process 0 writes. On resume, `truncate_after(step)` drops records past the restored step, so the
    file of a resumed run equals the file of a run that never stopped.
    """

    def __init__(self, workdir: str, enabled: bool = True, tensorboard: bool = True):
        self.workdir = workdir
        self.enabled = enabled
        self.path = os.path.join(workdir, "metrics.jsonl")
        self._tb = None
        if enabled:
            os.makedirs(workdir, exist_ok=True)
            if tensorboard:
                from tensorboardX import SummaryWriter

                self._tb = SummaryWriter(os.path.join(workdir, "tensorboard"))

    def truncate_after(self, step: int) -> None:
        if not self.enabled or not os.path.exists(self.path):
            return
        with open(self.path) as f:
            records = [line for line in f if line.strip() and json.loads(line)["step"] <= step]
        with open(self.path, "w") as f:
            f.writelines(records)

    def write_scalars(self, step: int, split: str, scalars: Mapping[str, float]) -> None:
        if not self.enabled:
            return
        record = {"step": int(step), "split": split}
        record.update({k: float(v) for k, v in sorted(scalars.items())})
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
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
