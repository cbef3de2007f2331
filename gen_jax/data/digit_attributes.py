"""Attributes measured on grey digit images: stroke thickness, slant, size and position (numpy / scikit-image).

Every function takes a batch ``images`` of shape [N, H, W] (or [N, H, W, 1]) of grey levels with ink bright
on a dark background, and ``max_value``, the value of full ink: images are read as ``u = images / max_value``
(clipped to [0, 1]). ``max_value`` defaults to 1.0 for floating-point images (generated images in [0, 1]);
for integer images it must be given (255 for mnist5k, 16 for digits), since the dtype does not say it.
The results are deterministic (no randomness, no learned parts) and depend only on each image itself.

Definitions, with rows y = 0..H-1 downwards and columns x = 0..W-1 rightwards, pixel centres at integers:

* ink mask: ``u >= 0.5`` (`INK_THRESHOLD`).
* ``mass``: the sum of u (pixels of full ink); ``area``: the number of ink-mask pixels.
* ``centroid``: the u-weighted mean (y, x), in pixels; the image centre ((H-1)/2, (W-1)/2) when mass is 0.
* ``box``: (top, left, bottom, right) of the ink mask, inclusive pixel indices; (-1, -1, -1, -1) if empty.
  ``height = bottom - top + 1`` and ``width = right - left + 1`` in pixels (0 if empty); ``box_center``
  ((top + bottom) / 2, (left + right) / 2), the image centre if empty.
* ``slant``: the shear angle of the u-weighted second moments, in DEGREES from the vertical,
  ``atan(-mu_xy / mu_yy)`` with ``mu_xy = E[(x - cx)(y - cy)]`` and ``mu_yy = E[(y - cy)^2]``: the angle of
  the shear ``x -> x + tan(slant) (cy - y)`` that the digit is of an upright one (the moment-based deskew
  of MNIST). Positive = the top leans RIGHT (like an italic "/"), negative = leans left; 0 when
  mu_yy = 0 or the image is empty. In (-90, 90).
* ``thickness``: mean stroke width in pixels, ``mass / skeleton_length``. The skeleton is scikit-image's
  `morphology.skeletonize` of the ink mask; its length is the Euclidean length of the chain of skeleton
  pixels: each pair of 4-adjacent skeleton pixels counts 1, each pair of diagonal neighbours sqrt(2) unless
  they share a 4-adjacent skeleton neighbour (a staircase corner, already counted by its two unit steps),
  plus 1 per 8-connected skeleton component (half a pixel at each end of an open stroke, so that a straight
  line of k pixels has length k). A one-pixel line along a row or column has thickness 1 exactly (a
  diagonal one 0.72: a staircase of pixels touching at their corners); a straight bar 32 pixels long is
  measured within 15% of its rasterised width (area / length) when axis-aligned and within 25% at any
  angle (the skeleton loses the ends of the bar; see tests/data/test_digit_attributes.py); 0 when there
  is no ink.
"""
from __future__ import annotations

import numpy as np

INK_THRESHOLD = 0.5


def unit(images, max_value: float | None = None) -> np.ndarray:
    """float64 [N, H, W]: images / max_value clipped to [0, 1] (a trailing channel of 1 is dropped)."""
    a = np.asarray(images)
    if a.ndim == 4 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim != 3:
        raise ValueError(f"digit attributes are measured on [N, H, W] or [N, H, W, 1] grey images, got {a.shape}")
    if max_value is None:
        if a.dtype == bool:
            max_value = 1.0
        elif np.issubdtype(a.dtype, np.floating):
            max_value = 1.0
        else:
            raise ValueError(f"integer images ({a.dtype}) need max_value, the level of full ink "
                             "(255 for mnist5k, 16 for digits)")
    return np.clip(a.astype(np.float64) / float(max_value), 0.0, 1.0)


def ink_mask(images, max_value: float | None = None) -> np.ndarray:
    """bool [N, H, W]: u >= INK_THRESHOLD."""
    return unit(images, max_value) >= INK_THRESHOLD


def _moments(u):
    """(mass, cy, cx, mu_yy, mu_xy) [N] of unit images [N, H, W] (raw moments by matrix products)."""
    h, w = u.shape[1:]
    y, x = np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64)
    rows = u.sum(axis=2)                   # [N, H]: mass per row
    mass = rows.sum(axis=1)
    safe = np.where(mass > 0, mass, 1.0)
    cy = np.where(mass > 0, rows @ y / safe, (h - 1) / 2)
    cx = np.where(mass > 0, u.sum(axis=1) @ x / safe, (w - 1) / 2)
    mu_yy = np.maximum(rows @ (y * y) / safe - cy * cy, 0.0)
    mu_xy = (u @ x) @ y / safe - cx * cy
    return mass, cy, cx, mu_yy, mu_xy


def centroid(images, max_value: float | None = None) -> np.ndarray:
    """float64 [N, 2]: the ink-weighted mean (row, column) in pixels (the image centre for a blank image)."""
    _, cy, cx, _, _ = _moments(unit(images, max_value))
    return np.stack([cy, cx], axis=1)


def _slant(mass, mu_yy, mu_xy):
    ok = (mass > 0) & (mu_yy > 1e-9)
    return np.where(ok, np.degrees(np.arctan(-mu_xy / np.where(ok, mu_yy, 1.0))), 0.0)


def slant(images, max_value: float | None = None) -> np.ndarray:
    """float64 [N]: the shear angle in degrees from the vertical, positive when the top leans right."""
    mass, _, _, mu_yy, mu_xy = _moments(unit(images, max_value))
    return _slant(mass, mu_yy, mu_xy)


def bounding_box(images, max_value: float | None = None) -> np.ndarray:
    """int32 [N, 4]: (top, left, bottom, right) of the ink mask, inclusive; (-1, -1, -1, -1) if empty."""
    return _box(ink_mask(images, max_value))


def _box(mask):
    rows, cols = mask.any(axis=2), mask.any(axis=1)
    h, w = mask.shape[1:]
    empty = ~rows.any(axis=1)
    top = np.argmax(rows, axis=1)
    bottom = h - 1 - np.argmax(rows[:, ::-1], axis=1)
    left = np.argmax(cols, axis=1)
    right = w - 1 - np.argmax(cols[:, ::-1], axis=1)
    box = np.stack([top, left, bottom, right], axis=1).astype(np.int32)
    box[empty] = -1
    return box


def skeleton(images, max_value: float | None = None) -> np.ndarray:
    """bool [N, H, W]: scikit-image's skeletonize of each image's ink mask."""
    from skimage.morphology import skeletonize

    mask = ink_mask(images, max_value)
    return np.stack([skeletonize(m) for m in mask]) if len(mask) else mask


def skeleton_length(skel: np.ndarray) -> np.ndarray:
    """float64 [N]: the Euclidean length of [N, H, W] skeletons (see the module docstring)."""
    from scipy import ndimage

    s = np.asarray(skel, bool)
    n, h, w = s.shape
    p = np.pad(s, [(0, 0), (1, 1), (1, 1)])

    def at(dy, dx):
        return p[:, 1 + dy:1 + dy + h, 1 + dx:1 + dx + w]

    axial = (s & at(0, 1)).sum(axis=(1, 2)) + (s & at(1, 0)).sum(axis=(1, 2))
    diag_down_right = s & at(1, 1) & ~at(0, 1) & ~at(1, 0)
    diag_down_left = s & at(1, -1) & ~at(0, -1) & ~at(1, 0)
    diagonal = diag_down_right.sum(axis=(1, 2)) + diag_down_left.sum(axis=(1, 2))
    structure = np.zeros((3, 3, 3), bool)
    structure[1] = True  # 8-connectivity within an image, none across the batch
    labels, _ = ndimage.label(s, structure=structure)
    # labels are numbered in raster order of their first pixel, so those of image k follow those of image k-1
    last = np.maximum.accumulate(labels.reshape(n, -1).max(axis=1)) if n else np.zeros(0, np.int64)
    components = np.diff(np.concatenate([[0], last]))
    return axial + np.sqrt(2.0) * diagonal + components


def thickness(images, max_value: float | None = None) -> np.ndarray:
    """float64 [N]: mean stroke width in pixels, ink mass / skeleton length (0 for a blank image)."""
    u = unit(images, max_value)
    length = skeleton_length(skeleton(u, 1.0))
    mass = u.sum(axis=(1, 2))
    return np.where(length > 0, mass / np.where(length > 0, length, 1.0), 0.0)


def measure(images, max_value: float | None = None) -> dict[str, np.ndarray]:
    """Every attribute of the module docstring at once: {'mass', 'area', 'thickness', 'slant' [N] float64,
    'height', 'width' [N] int32, 'box' [N, 4] int32, 'centroid', 'box_center' [N, 2] float64}."""
    u = unit(images, max_value)
    n, h, w = u.shape
    mask = u >= INK_THRESHOLD
    box = _box(mask)
    empty = box[:, 0] < 0
    height = np.where(empty, 0, box[:, 2] - box[:, 0] + 1).astype(np.int32)
    width = np.where(empty, 0, box[:, 3] - box[:, 1] + 1).astype(np.int32)
    box_center = np.stack([np.where(empty, (h - 1) / 2, (box[:, 0] + box[:, 2]) / 2),
                           np.where(empty, (w - 1) / 2, (box[:, 1] + box[:, 3]) / 2)], axis=1)
    mass, cy, cx, mu_yy, mu_xy = _moments(u)
    return {"mass": mass, "area": mask.sum(axis=(1, 2)).astype(np.float64), "thickness": thickness(u, 1.0),
            "slant": _slant(mass, mu_yy, mu_xy), "height": height, "width": width, "box": box,
            "centroid": np.stack([cy, cx], axis=1), "box_center": box_center}
