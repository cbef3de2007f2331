"""`pasted_digits`: each mnist5k digit pasted SMALL and LARGE into a blank 32x32 canvas: the small-object task
of PerceptualGAN (Li et al. 2017), whose generator maps the features of small objects towards those of
large ones; ``small`` and ``large`` hold the same digit.

Features: ``small`` uint8 [32, 32, 1] (the digit's 28x28 frame reduced to 10x10 by area averaging, so the
digit itself spans about 7 pixels, pasted with its top-left at ``small_position``), ``large`` uint8
[32, 32, 1] (the 28x28 digit pasted at ``large_position``), ``small_position`` and ``large_position`` int32
[2] (row, column of the pasted frame's top-left pixel), ``label`` (0..9), ``index`` (the mnist5k row).
Splits: mnist5k's fixed 4,000 / 1,000 split, increasing index. The rest of each canvas is 0.

Rule: with ``rng = np.random.default_rng([SEED, index])``, ``small_position = rng.integers(0, 23, size=2)``
then ``large_position = rng.integers(0, 5, size=2)`` (every position that keeps the frame inside the
canvas, uniformly). `area_resize` is exact area averaging: output pixel i of n covers the input interval
[i 28 / n, (i + 1) 28 / n) and takes the mean of the input over it (pixels weighted by their overlap),
rounded to the nearest level.
"""
from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

from gen_jax.data._derived import BYTES_NOTE, DerivedBuilder, label_and_index
from gen_jax.data.features import Feature

SEED = 20170620
CANVAS = 32
SMALL = 10
LARGE = 28


def area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """float64 [n_out, n_in]: row i holds the overlaps of output cell i with the input pixels, divided by
    the cell's length n_in / n_out (each row sums to 1)."""
    edges = np.arange(n_out + 1) * (n_in / n_out)
    lo, hi = edges[:-1, None], edges[1:, None]
    j = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(hi, j + 1) - np.maximum(lo, j), 0, None)
    return overlap / (n_in / n_out)


def area_resize(images: np.ndarray, size) -> np.ndarray:
    """uint8 [N, h, w]: [N, H, W] 0..255 images resized to size = h = w or (h, w) by exact area averaging
    (each output pixel the overlap-weighted mean of the input over its cell), rounded."""
    images = np.asarray(images, np.float64)
    h, w = (size, size) if np.ndim(size) == 0 else size
    a, b = area_matrix(images.shape[1], int(h)), area_matrix(images.shape[2], int(w))
    return np.clip(np.round(a @ images @ b.T), 0, 255).astype(np.uint8)


def positions(index: int) -> tuple[np.ndarray, np.ndarray]:
    """(small_position, large_position) int32 [2] of mnist5k row `index`, by the rule of the docstring."""
    rng = np.random.default_rng([SEED, int(index)])
    small = rng.integers(0, CANVAS - SMALL + 1, size=2)
    large = rng.integers(0, CANVAS - LARGE + 1, size=2)
    return small.astype(np.int32), large.astype(np.int32)


def paste(images: np.ndarray, position: np.ndarray) -> np.ndarray:
    """uint8 [N, CANVAS, CANVAS]: each [h, w] image on a blank canvas with its top-left at position[k]."""
    n, h, w = images.shape
    out = np.zeros((n, CANVAS, CANVAS), np.uint8)
    for k, (r, c) in enumerate(np.asarray(position)):
        out[k, r:r + h, c:c + w] = images[k]
    return out


class PastedDigits(DerivedBuilder):
    """mnist5k digits pasted small (10x10) and large (28x28) into 32x32 canvases; mnist5k's fixed split."""

    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: 32x32 canvases, small = 10x10 area average, uniform positions.",
                     "1.1.0": BYTES_NOTE}
    FEATURES = {"small": Feature.levels((CANVAS, CANVAS, 1), 256), "large": Feature.levels((CANVAS, CANVAS, 1), 256),
                "small_position": Feature.integer((2,)), "large_position": Feature.integer((2,)),
                **label_and_index()}
    SUPERVISED_KEYS = ("small", "label")
    CITATION = "Li, Liang, Wei, Xu, Feng & Yan (2017), Perceptual Generative Adversarial Networks for Small " \
               "Object Detection."

    def derive(self, split, images, labels, indices):
        pos = [positions(i) for i in indices]
        small_pos = np.stack([s for s, _ in pos])
        large_pos = np.stack([g for _, g in pos])
        return {"small": paste(area_resize(images, SMALL), small_pos)[..., None],
                "large": paste(images, large_pos)[..., None], "small_position": small_pos,
                "large_position": large_pos, "label": labels, "index": indices}
