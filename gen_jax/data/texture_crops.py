"""`texture_crops`: 32x32 grey crops of the three texture photographs scikit-image 0.26 ships inside its wheel
(``skimage.data.brick()``, ``grass()``, ``gravel()``: 512x512 uint8, read from files of the installed package;
nothing is fetched), for texture synthesis (MGAN, Li & Wand 2016), with HELD-OUT crops for scoring.

Each photo is reduced by a 2x2 block mean (to 256x256, rounded) so that a 32x32 crop holds several texture
elements (bricks, blades, stones). Rows 0..191 of the reduced photo are the train region, rows 192..255 the
held-out region: no train crop shares a pixel with a test crop.

Features: ``x`` uint8 [32, 32, 1], ``label`` (classes 3: 0 brick, 1 grass, 2 gravel, `TEXTURES`), ``position``
int32 [2] (row, column of the crop's top-left pixel in its reduced photo), ``index``. Splits: train = 1,000
crops per texture, test = 100 per texture, ORDERED BY TEXTURE (train[:1000] is brick, train[1000:2000] grass,
train[2000:] gravel; test[:100], test[100:200], test[200:]), so one texture is a split slice. Rule: crop i of
texture t in a split draws ``rng = np.random.default_rng([SEED, split_id, t, i])`` (split_id 0 train, 1 test)
and ``position = (rng.integers(r0, r1 - 32 + 1), rng.integers(0, 256 - 32 + 1))`` with [r0, r1) the split's rows.
"""
from __future__ import annotations

import functools

import numpy as np
import tensorflow_datasets as tfds

from gen_jax.data._derived import DerivedBuilder
from gen_jax.data.features import Feature

TEXTURES = ("brick", "grass", "gravel")
SEED = 20160415
PATCH = 32
SIDE = 256
ROWS = {"train": (0, 192), "test": (192, 256)}
PER_TEXTURE = {"train": 1000, "test": 100}


@functools.cache
def textures() -> tuple[np.ndarray, ...]:
    """The reduced photos [256, 256] uint8 (read-only), in `TEXTURES` order."""
    import skimage.data

    out = []
    for name in TEXTURES:
        img = np.asarray(getattr(skimage.data, name)(), np.float64)
        if img.shape != (512, 512):
            raise RuntimeError(f"skimage.data.{name}(): expected a 512x512 grey photo, got {img.shape}")
        small = np.round(img.reshape(SIDE, 2, SIDE, 2).mean((1, 3))).astype(np.uint8)
        small.flags.writeable = False
        out.append(small)
    return tuple(out)


def position(split: str, texture: int, i: int) -> np.ndarray:
    rng = np.random.default_rng([SEED, ("train", "test").index(split), int(texture), int(i)])
    r0, r1 = ROWS[split]
    return np.array([rng.integers(r0, r1 - PATCH + 1), rng.integers(0, SIDE - PATCH + 1)], np.int32)


class TextureCrops(DerivedBuilder):
    """32x32 crops of scikit-image's brick, grass and gravel; held-out rows for the test crops."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: brick, grass, gravel at half size, 1,000 / 100 crops each."}
    FEATURES = {"x": Feature.levels((PATCH, PATCH, 1), 256), "label": Feature.classes(len(TEXTURES)),
                "position": Feature.integer((2,)), "index": Feature.integer()}
    SUPERVISED_KEYS = ("x", "label")
    CITATION = "Li & Wand (2016), Precomputed Real-Time Texture Synthesis with Markovian Generative " \
               "Adversarial Networks, ECCV."

    def columns(self, split):
        pics = textures()
        x, label, pos = [], [], []
        for t in range(len(TEXTURES)):
            for i in range(PER_TEXTURE[split]):
                r, c = position(split, t, i)
                x.append(pics[t][r:r + PATCH, c:c + PATCH, None])
                label.append(t)
                pos.append((r, c))
        return {"x": np.stack(x), "label": np.asarray(label, np.int32), "position": np.asarray(pos, np.int32),
                "index": np.arange(len(x), dtype=np.int32)}

    def _split_generators(self, dl_manager):
        del dl_manager   # the photos come with scikit-image
        return {s: self._generate_examples(self.columns(s)) for s in ("train", "test")}
