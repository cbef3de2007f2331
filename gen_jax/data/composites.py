"""`composites`: copy-paste composites for image blending (GP-GAN, Wu et al. 2017, Sec. 5.1), built the way the
paper built its training set from the Transient Attributes database: a region of one photograph of a scene is
pasted into ANOTHER photograph of THE SAME scene taken under different illumination, so the well-blended
ground truth is known: it is the destination photograph itself. Here the "other photograph" is a colour /
illumination shift of a patch of a colour photo that scikit-image ships (the photos and the train/test
chessboard tiles of `gen_jax.data.mnistm`, so no photo pixel serves both splits), and the pasted region is
the shape of an mnist5k digit (one example per mnist5k row, mnist5k's fixed 4,000 / 1,000 split).

Features (all uint8 images, 32x32): ``composite`` [32, 32, 3] (copy-paste: ``region * source + (1 - region) *
target``), ``source`` [32, 32, 3] (the shifted photograph: the object's image), ``target`` [32, 32, 3] (the
destination photograph: the ground truth), ``region`` [32, 32, 1] (the mask, 2 levels: 1 inside the pasted region; not named
'mask', which the evaluators reserve for padding),
``shift`` int32 [6] (per channel gain in percent, then bias in levels), ``photo`` (0..6, `mnistm.PHOTO_NAMES`),
``patch_position`` int32 [2], ``label`` (the digit's class), ``index`` (the mnist5k row).

Rule: for mnist5k row i, ``rng = np.random.default_rng([SEED, i])``; ``photo = rng.integers(7)``; a tile of that
photo's split ``t = rng.integers(len(tiles))``; ``(dr, dc) = rng.integers(0, 25, size=2)`` inside the 56x56
tile; gains ``rng.integers(60, 141, size=3)`` percent and biases ``rng.integers(-40, 41, size=3)``;
``source = clip(round(target * gain / 100 + bias), 0, 255)``. The region (mask) is the digit (pixel >= 128) dilated by
one pixel (3x3), placed at the centre of the 32x32 patch (offset 2, 2).
"""
from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

from gen_jax.data import mnistm
from gen_jax.data._derived import DerivedBuilder, label_and_index
from gen_jax.data.features import Feature

SEED = 20170321
SIDE = 32


def draw(index: int, split: str):
    """(photo, patch_position [2], shift [6]) of mnist5k row `index` in `split` (the docstring's rule)."""
    rng = np.random.default_rng([SEED, int(index)])
    photo, pos = mnistm.draw_photo_patch(rng, split, SIDE)
    shift = np.concatenate([rng.integers(60, 141, size=3), rng.integers(-40, 41, size=3)]).astype(np.int32)
    return photo, pos, shift


def digit_mask(digits: np.ndarray) -> np.ndarray:
    """uint8 [n, 32, 32]: the [n, 28, 28] digits thresholded at 128, dilated by a 3x3 square, centred."""
    on = np.pad(np.asarray(digits) >= 128, ((0, 0), (3, 3), (3, 3)))
    out = np.zeros_like(on)
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            out |= np.roll(np.roll(on, dr, 1), dc, 2)
    return out[:, 1:-1, 1:-1].astype(np.uint8)


def shifted(target: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """The illumination shift of the docstring: clip(round(target * gain / 100 + bias), 0, 255), per channel."""
    out = np.asarray(target, np.float64) * (shift[:3] / 100.0) + shift[3:]
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


class Composites(DerivedBuilder):
    """Copy-paste composites of a digit-shaped region of an illumination-shifted photo patch into the same
    patch, with the ground truth; mnistm's photos and tiles, mnist5k's split."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: 32x32 patches, digit-shaped masks, gain 60-140%, bias +-40."}
    FEATURES = {"composite": Feature.levels((SIDE, SIDE, 3), 256), "source": Feature.levels((SIDE, SIDE, 3), 256),
                "target": Feature.levels((SIDE, SIDE, 3), 256), "region": Feature.levels((SIDE, SIDE, 1), 2),
                "shift": Feature.integer((6,)), "photo": Feature.classes(len(mnistm.PHOTO_NAMES)),
                "patch_position": Feature.integer((2,)), **label_and_index()}
    SUPERVISED_KEYS = ("composite", "target")
    CITATION = "Wu, Zheng, Zhang & Huang (2017), GP-GAN: Towards Realistic High-Resolution Image Blending."

    def derive(self, split, images, labels, indices):
        pics = mnistm.photos()
        drawn = [draw(i, split) for i in indices]
        photo = np.asarray([d[0] for d in drawn], np.int32)
        pos = np.stack([d[1] for d in drawn])
        shift = np.stack([d[2] for d in drawn])
        target = np.stack([pics[p][r:r + SIDE, c:c + SIDE] for p, (r, c) in zip(photo, pos)])
        source = np.stack([shifted(t, s) for t, s in zip(target, shift)])
        region = digit_mask(images)[..., None]
        composite = np.where(region == 1, source, target).astype(np.uint8)
        return {"composite": composite, "source": source, "target": target, "region": region, "shift": shift,
                "photo": photo, "patch_position": pos, "label": labels, "index": indices}
