"""`mnistm`: MNIST-M-style digits (Ganin et al. 2016, Sec. 5.1: each MNIST digit blended over a random patch
of a colour photo, output ``|patch - digit|`` per channel), made from the 5,000 mnist5k digits and the colour
photos that scikit-image 0.26 ships inside its wheel (Ganin et al. used BSDS500, which no package ships).

Features: ``x`` uint8 [28, 28, 3] (256 levels), ``label`` (0..9), ``index`` (the mnist5k row), ``photo``
(classes 0..6, the position in `PHOTO_NAMES`), ``patch_position`` int32 [2] (row, column of the patch's
top-left pixel in ``photos()[photo]``). Splits: mnist5k's fixed 4,000 / 1,000 split, increasing index.

Rule (`blend`, `draw_patch`): ``x = |photos()[photo][r:r+28, c:c+28, :] - digit[..., None]|`` in integers
0..255, where (r, c) = ``patch_position`` and digit is the mnist5k image of row ``index``. Every parameter is
stored, and recomputable: for mnist5k row i, with ``rng = np.random.default_rng([SEED, i])``,
``photo = rng.integers(7)``, then ``t = rng.integers(len(tiles))`` over that photo's tiles of the split,
then ``(dr, dc) = rng.integers(0, 29, size=2)``, and (r, c) = tile corner + (dr, dc).

Photos (`PHOTO_NAMES`, read with ``skimage.data.<name>()``; every one is a file bundled in the wheel, so
nothing is fetched): astronaut, chelsea, coffee, rocket, motorcycle_left (the left image of
``stereo_motorcycle()``), retina, immunohistochemistry. Left out: hubble_deep_field (89% of its pixels are
near black: its patches would leave most digits unchanged), motorcycle_right (the stereo twin of
motorcycle_left: the same scene on both sides of the split), logo and colorwheel (flat graphics, not photos).
Each photo is reduced by an integer block mean of factor ``max(1, min(H, W) // 256)`` (astronaut and
immunohistochemistry 2, retina 5, the others 1), so that a 28x28 patch holds texture rather than a smooth
area of a large photo.

Train and test use DISJOINT PHOTO REGIONS of the same seven photos: each reduced photo is cut into 56x56
tiles (a remainder at the right and bottom edges is unused); tiles with (tile row + tile column) even serve
the train split, odd ones the test split, like the squares of a chessboard. A patch lies inside one tile, so
no photo pixel appears in both splits, while both splits see every photo (the same distribution of
backgrounds).
"""
from __future__ import annotations

import functools

import numpy as np
import tensorflow_datasets as tfds

from gen_jax.data._derived import BYTES_NOTE, DerivedBuilder, label_and_index
from gen_jax.data.features import Feature

PHOTO_NAMES = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle_left", "retina", "immunohistochemistry")
SEED = 20160527
PATCH = 28
TILE = 56
TARGET_SIDE = 256


def _load_photo(name: str) -> np.ndarray:
    import skimage.data

    if name == "motorcycle_left":
        img = skimage.data.stereo_motorcycle()[0]
    else:
        img = getattr(skimage.data, name)()
    img = np.asarray(img)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise RuntimeError(f"skimage.data.{name}: expected an RGB uint8 photo, got {img.dtype} {img.shape}")
    return img


def block_mean(img: np.ndarray, factor: int) -> np.ndarray:
    """[H, W, C] uint8 -> [H // f, W // f, C] uint8: the mean of each f x f block, rounded half up."""
    h, w = (img.shape[0] // factor) * factor, (img.shape[1] // factor) * factor
    blocks = img[:h, :w].astype(np.int64).reshape(h // factor, factor, w // factor, factor, img.shape[2])
    total = blocks.sum(axis=(1, 3))
    return ((2 * total + factor * factor) // (2 * factor * factor)).astype(np.uint8)


@functools.lru_cache(maxsize=None)
def photos() -> tuple[np.ndarray, ...]:
    """The reduced photos, in `PHOTO_NAMES` order (read-only uint8 [H, W, 3] arrays)."""
    out = []
    for name in PHOTO_NAMES:
        img = _load_photo(name)
        img = block_mean(img, max(1, min(img.shape[:2]) // TARGET_SIDE))
        img.flags.writeable = False
        out.append(img)
    return tuple(out)


def tiles(photo: int, split: str) -> np.ndarray:
    """int64 [n, 2]: the top-left corners (row, column) of the 56x56 tiles of a reduced photo that serve
    `split`, in row-major tile order (train: tile row + column even; test: odd)."""
    h, w = photos()[photo].shape[:2]
    ty, tx = np.meshgrid(np.arange(h // TILE), np.arange(w // TILE), indexing="ij")
    keep = (ty + tx) % 2 == ("train", "test").index(split)
    return np.stack([ty[keep], tx[keep]], axis=1).astype(np.int64) * TILE


def draw_photo_patch(rng: np.random.Generator, split: str, side: int) -> tuple[int, np.ndarray]:
    """(photo, top-left corner [2] int32) of a `side` x `side` patch inside one of `split`'s tiles: a photo,
    one of its tiles and a place in that tile, drawn in this order from `rng` (the builders that paste onto
    photo patches, mnistm, composites and dressed_digits, share this rule)."""
    photo = int(rng.integers(len(PHOTO_NAMES)))
    corners = tiles(photo, split)
    corner = corners[int(rng.integers(len(corners)))]
    return photo, (corner + rng.integers(0, TILE - side + 1, size=2)).astype(np.int32)


def draw_patch(index: int, split: str) -> tuple[int, np.ndarray]:
    """(photo, patch_position [2]) of mnist5k row `index` in `split`, by the rule of the module docstring."""
    return draw_photo_patch(np.random.default_rng([SEED, int(index)]), split, PATCH)


def blend(digits: np.ndarray, photo: np.ndarray, patch_position: np.ndarray) -> np.ndarray:
    """uint8 [n, 28, 28, 3]: |patch - digit| per channel of [n, 28, 28] digits over the patches of the
    reduced photos ``photos()[photo[k]]`` at ``patch_position[k]`` (row, column)."""
    pics = photos()
    out = np.empty(np.shape(digits)[:3] + (3,), np.uint8)
    for k, (p, (r, c)) in enumerate(zip(np.asarray(photo), np.asarray(patch_position))):
        patch = pics[p][r:r + PATCH, c:c + PATCH].astype(np.int16)
        out[k] = np.abs(patch - np.asarray(digits[k], np.int16)[..., None])
    return out


class Mnistm(DerivedBuilder):
    """MNIST-M-style: mnist5k digits blended over patches of scikit-image's bundled photos (disjoint regions
    for train and test); mnist5k's fixed split."""

    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: 7 bundled photos, 56x56 chessboard tiles split train/test.",
                     "1.1.0": BYTES_NOTE}
    FEATURES = {"x": Feature.levels((28, 28, 3), 256), **label_and_index(),
                "photo": Feature.classes(len(PHOTO_NAMES)), "patch_position": Feature.integer((2,))}
    SUPERVISED_KEYS = ("x", "label")
    CITATION = "Ganin, Ustinova, Ajakan, Germain, Larochelle, Laviolette, Marchand & Lempitsky (2016), " \
               "Domain-Adversarial Training of Neural Networks, JMLR 17."

    def derive(self, split, images, labels, indices):
        drawn = [draw_patch(i, split) for i in indices]
        photo = np.asarray([p for p, _ in drawn], np.int32)
        position = np.stack([q for _, q in drawn]).astype(np.int32)
        return {"x": blend(images, photo, position), "label": labels, "index": indices, "photo": photo,
                "patch_position": position}
