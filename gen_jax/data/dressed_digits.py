"""`dressed_digits`: an offline stand-in for the LookBook dataset of PixelDTGAN (Yoo et al. 2016, Sec. 5.1:
photos of dressed people, each associated with the product photo of the top the person wears). Here the
"dressed person" is an mnist5k digit worn at another size (18-26 pixels for 28), blended over a patch of a colour photo
(the MNIST-M blend of `gen_jax.data.mnistm`, ``|patch - digit|``), roughly centred as LookBook's models are
(within 3 pixels of the centre) but at another scale, and the "product photo" is the SAME digit
clean, full-size and centred on a blank canvas: a source -> target transfer that is semantic (the target is
not pixel-aligned with the source: another size, another place, no background) with one known associated
target per source, as LookBook's. The digit's class is the semantic content (LookBook: the garment).

Features: ``source`` uint8 [32, 32, 3] (256 levels), ``x`` uint8 [32, 32, 1] (the associated target: the
28x28 digit at offset (2, 2); named ``x`` so the library's classifiers and the `translation` evaluator
train on the real targets), ``digit_size`` int32 (side of the digit in the source, 18..26),
``digit_position`` int32 [2] (row, column of its top-left pixel in the 32x32 source), ``photo`` (0..6,
`mnistm.PHOTO_NAMES`), ``patch_position`` int32 [2] (row, column of the 32x32 patch in the reduced photo),
``label`` (0..9), ``index`` (the mnist5k row). Splits: mnist5k's fixed 4,000 / 1,000 split, index order.

Rule: for mnist5k row i, ``rng = np.random.default_rng([SEED, i])``; ``photo = rng.integers(7)``; a tile of
that photo's split ``t = rng.integers(len(tiles))`` (the chessboard tiles of `gen_jax.data.mnistm`, so no
photo pixel serves both splits); ``(dr, dc) = rng.integers(0, 25, size=2)`` inside the 56x56 tile;
``digit_size = rng.integers(18, 27)``; ``digit_position = (32 - digit_size) // 2 + rng.integers(-3, 4, size=2)``
(the centred place jittered by up to 3 pixels per axis). The
digit is area-resized to digit_size (`pasted_digits.area_resize`), pasted into a blank 32x32 canvas at
digit_position, and ``source = |patch - canvas|`` per channel.
"""
from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

from gen_jax.data import mnistm
from gen_jax.data._derived import DerivedBuilder, label_and_index
from gen_jax.data.features import Feature
from gen_jax.data.pasted_digits import area_resize

SEED = 20160324
SIDE = 32
MIN_SIZE, MAX_SIZE = 18, 26
JITTER = 3


def draw(index: int, split: str):
    """(photo, patch_position [2], digit_size, digit_position [2]) of mnist5k row `index` in `split`."""
    rng = np.random.default_rng([SEED, int(index)])
    photo, pos = mnistm.draw_photo_patch(rng, split, SIDE)
    size = int(rng.integers(MIN_SIZE, MAX_SIZE + 1))
    at = ((SIDE - size) // 2 + rng.integers(-JITTER, JITTER + 1, size=2)).astype(np.int32)
    return photo, pos, size, at


def worn(digit: np.ndarray, size: int, at) -> np.ndarray:
    """uint8 [32, 32]: the [28, 28] digit area-resized to `size` and pasted at `at` (row, column)."""
    canvas = np.zeros((SIDE, SIDE), np.uint8)
    r, c = int(at[0]), int(at[1])
    canvas[r:r + size, c:c + size] = area_resize(np.asarray(digit)[None], size)[0]
    return canvas


def centred(digits: np.ndarray) -> np.ndarray:
    """uint8 [n, 32, 32, 1]: the [n, 28, 28] digits on blank 32x32 canvases at offset (2, 2)."""
    return np.pad(np.asarray(digits, np.uint8), ((0, 0), (2, 2), (2, 2)))[..., None]


class DressedDigits(DerivedBuilder):
    """Digits worn small at a random place over colour photo patches (source) and the same digit clean and
    centred (the associated target); mnistm's photos and tiles, mnist5k's split."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: 32x32, digit side 18-26 within 3 px of the centre, |patch - digit|."}
    FEATURES = {"source": Feature.levels((SIDE, SIDE, 3), 256), "x": Feature.levels((SIDE, SIDE, 1), 256),
                "digit_size": Feature.integer(), "digit_position": Feature.integer((2,)),
                "photo": Feature.classes(len(mnistm.PHOTO_NAMES)), "patch_position": Feature.integer((2,)),
                **label_and_index()}
    SUPERVISED_KEYS = ("source", "x")
    CITATION = "Yoo, Kim, Park, Paek & Kweon (2016), Pixel-Level Domain Transfer, ECCV."

    def derive(self, split, images, labels, indices):
        pics = mnistm.photos()
        drawn = [draw(i, split) for i in indices]
        photo = np.asarray([d[0] for d in drawn], np.int32)
        pos = np.stack([d[1] for d in drawn])
        size = np.asarray([d[2] for d in drawn], np.int32)
        at = np.stack([d[3] for d in drawn])
        source = np.empty((len(indices), SIDE, SIDE, 3), np.uint8)
        for k, (p, (r, c)) in enumerate(zip(photo, pos)):
            patch = pics[p][r:r + SIDE, c:c + SIDE].astype(np.int16)
            source[k] = np.abs(patch - worn(images[k], size[k], at[k]).astype(np.int16)[..., None])
        return {"source": source, "x": centred(images), "digit_size": size, "digit_position": at,
                "photo": photo, "patch_position": pos, "label": labels, "index": indices}
