"""`labels2scenes`: generated semantic label maps of random shapes with instance ids, rendered into colour
scenes with one texture per class: pix2pixHD's semantic-synthesis task (Wang et al. 2018: Cityscapes label
and instance maps -> photos) with a known ground truth, made from what scikit-image ships (its bundled
grey textures brick, grass, gravel) and two generated textures; nothing is fetched.

Features: ``label`` int32 [32, 32] (classes 0..4, `CLASS_NAMES`: 0 sky, 1 brick, 2 grass, 3 gravel,
4 water), ``instance`` int32 [32, 32] (0 the background, k = 1..n the k-th object painted), ``x`` uint8
[32, 32, 3] (the scene), ``index``. Splits: train 2,000, test 300 scenes.

Rule (`draw_scene`): with ``rng = np.random.default_rng([SEED, split_id, i])`` (split_id 0 train, 1 test),
n = rng.integers(2, 6) objects, each with class rng.integers(1, 5), shape 'rectangle' or 'ellipse'
(rng.integers(2)), centre (rng.integers(0, 32) twice) and half-sizes (rng.integers(3, 11) twice), painted in
order (later objects cover earlier ones, so two objects of one class may touch: only the instance map
separates them). Rendering (`render`): every pixel of instance k shows its class's texture at an offset
drawn for that instance (rng.integers(0, 64 - 32 + 1) twice, after the shapes), times the class's tint.

Textures (`textures`, 64x64 per split, values in [0, 1]): brick, grass, gravel are scikit-image's 512x512
textures reduced by a 4x4 block mean to 128x128, of which the train split reads the left half columns
0..63 and the test split the right half 64..127 (rows 32..95): no texture pixel serves both splits. Sky is a
smooth vertical gradient, water horizontal sinusoidal ripples (both generated, the same in both splits).
Tints (RGB): sky (0.75, 0.85, 1.0), brick (0.9, 0.45, 0.3), grass (0.35, 0.8, 0.3), gravel (0.8, 0.75,
0.65), water (0.2, 0.4, 0.9); a pixel is round(255 * tint * (0.25 + 0.75 texture)).
"""
from __future__ import annotations

import functools

import numpy as np
import tensorflow_datasets as tfds

from gen_jax.data._derived import DerivedBuilder
from gen_jax.data.features import Feature

CLASS_NAMES = ("sky", "brick", "grass", "gravel", "water")
TINTS = np.array([(0.75, 0.85, 1.0), (0.9, 0.45, 0.3), (0.35, 0.8, 0.3), (0.8, 0.75, 0.65), (0.2, 0.4, 0.9)])
SIZE = 32
TEX = 64
SEED = 20180601
NUM_EXAMPLES = {"train": 2000, "test": 300}


@functools.cache
def textures(split: str) -> np.ndarray:
    """float64 [5, 64, 64] in [0, 1]: the texture of each class for `split` (see the module docstring)."""
    import skimage.data

    from gen_jax.data.mnistm import block_mean

    col = ("train", "test").index(split) * TEX
    out = np.empty((len(CLASS_NAMES), TEX, TEX))
    t = np.arange(TEX, dtype=np.float64)
    out[0] = np.tile(np.linspace(0.9, 0.5, TEX)[:, None], (1, TEX))
    out[4] = np.tile((0.5 + 0.4 * np.sin(2 * np.pi * t / 6.0))[:, None], (1, TEX))
    for c, name in ((1, "brick"), (2, "grass"), (3, "gravel")):
        img = np.asarray(getattr(skimage.data, name)())
        if img.ndim != 2 or img.shape != (512, 512):
            raise RuntimeError(f"skimage.data.{name}: expected a 512x512 grey texture, got {img.shape}")
        small = block_mean(img[..., None], 4)[..., 0].astype(np.float64)[32:32 + TEX, col:col + TEX]
        lo, hi = small.min(), small.max()
        out[c] = (small - lo) / max(hi - lo, 1.0)
    out.flags.writeable = False
    return out


def draw_scene(split: str, i: int):
    """(label [32, 32], instance [32, 32], offsets [n + 1, 2]) of scene i of `split` (the module's rule)."""
    rng = np.random.default_rng([SEED, ("train", "test").index(split), int(i)])
    label = np.zeros((SIZE, SIZE), np.int32)
    instance = np.zeros((SIZE, SIZE), np.int32)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    n = int(rng.integers(2, 6))
    for k in range(1, n + 1):
        cls = int(rng.integers(1, len(CLASS_NAMES)))
        kind = int(rng.integers(2))
        cy, cx = int(rng.integers(0, SIZE)), int(rng.integers(0, SIZE))
        hy, hx = int(rng.integers(3, 11)), int(rng.integers(3, 11))
        if kind == 0:
            mask = (np.abs(yy - cy) <= hy) & (np.abs(xx - cx) <= hx)
        else:
            mask = ((yy - cy) / hy) ** 2 + ((xx - cx) / hx) ** 2 <= 1.0
        label[mask], instance[mask] = cls, k
    offsets = rng.integers(0, TEX - SIZE + 1, size=(n + 1, 2))
    return label, instance, offsets


def render(split: str, label, instance, offsets) -> np.ndarray:
    """uint8 [32, 32, 3]: the scene of a label / instance map with per-instance texture offsets."""
    tex = textures(split)
    out = np.zeros((SIZE, SIZE, 3))
    for k, (r, c) in enumerate(offsets):
        mask = instance == k
        if not mask.any():
            continue
        cls = int(label[mask][0])
        value = 0.25 + 0.75 * tex[cls, r:r + SIZE, c:c + SIZE]
        out[mask] = value[mask][:, None] * TINTS[cls][None, :]
    return np.clip(np.round(255.0 * out), 0, 255).astype(np.uint8)


class Labels2scenes(DerivedBuilder):
    """Label + instance maps of random shapes, rendered with a texture per class (32x32 scenes)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: 5 classes, 2-5 objects, 32x32, skimage textures + 2 generated."}
    FEATURES = {"label": Feature.classes(len(CLASS_NAMES), (SIZE, SIZE)), "instance": Feature.integer((SIZE, SIZE)),
                "x": Feature.levels((SIZE, SIZE, 3), 256), "index": Feature.integer()}
    SUPERVISED_KEYS = ("label", "x")
    CITATION = "Wang, Liu, Zhu, Tao, Kautz & Catanzaro (2018), High-Resolution Image Synthesis and Semantic " \
               "Manipulation with Conditional GANs, CVPR."

    def _split_generators(self, dl_manager):
        del dl_manager   # textures come with scikit-image, shapes are generated
        return {s: self._generate_examples(self.columns(s)) for s in ("train", "test")}

    def columns(self, split):
        labels, instances, images = [], [], []
        for i in range(NUM_EXAMPLES[split]):
            lab, inst, off = draw_scene(split, i)
            labels.append(lab)
            instances.append(inst)
            images.append(render(split, lab, inst, off))
        n = len(labels)
        return {"label": np.stack(labels), "instance": np.stack(instances), "x": np.stack(images),
                "index": np.arange(n, dtype=np.int32)}
