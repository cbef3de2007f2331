"""`photo_patches` and `photo_whole`: super-resolution data (x4) from the colour photographs that installed
packages ship: scikit-image 0.26's bundled photos and scikit-learn's two sample images (all read from files
inside the wheels; nothing is fetched).

SRGAN's protocol (Ledig et al. 2017, Sec. 3.1): "we obtained the LR images by downsampling the HR images using
a bicubic kernel with downsampling factor r = 4"; training on random HR crops (96x96 in the paper, 32x32
here), testing on whole held-out images.

Photos (`TRAIN_PHOTOS` and `TEST_PHOTOS` are disjoint: no scene appears in both):
  * train: astronaut, motorcycle_left (``stereo_motorcycle()[0]``), immunohistochemistry, retina (skimage),
    china, flower (sklearn); each reduced by an integer block mean of factor ``max(1, min(H, W) // 256)``
    (as `gen_jax.data.mnistm` does), so a 32x32 crop holds texture rather than a smooth area of a large photo;
  * held out: chelsea, coffee, rocket (skimage): all three have aspect 3:2, and each is resized WHOLE to
    128x192 (the HR test image) by PIL's bicubic filter (antialiased).

`photo_patches` features: ``hr`` uint8 [32, 32, 3], ``lr`` uint8 [8, 8, 3] (``bicubic_down(hr, 4)``),
``photo`` (classes 0..8, the position in `PHOTO_NAMES`), ``position`` int32 [2] (row, column of the crop's
top-left pixel in its reduced photo), ``index``. Splits: train = 6,000 crops of the train photos; test =
600 crops of the held-out HR test images (for the training-time validation loss). Rule: for example i of a
split, ``rng = np.random.default_rng([SEED, split_id, i])`` (split_id 0 train, 1 test), ``photo`` =
``rng.integers(n)`` over that split's photos, then ``position = rng.integers(0, side - 32 + 1)`` per axis.

`photo_whole` features: ``hr`` uint8 [128, 192, 3], ``lr`` uint8 [32, 48, 3], ``photo``, ``index``; one
split, ``test``: the three held-out images, whole (the set SRGAN-style PSNR / SSIM are reported on).

`bicubic_down` is PIL's ``Image.resize(..., Image.BICUBIC)`` (the support of the cubic kernel is widened by
the factor, i.e. antialiased like MATLAB's imresize, the tool of the SR literature), rounded to uint8.
"""
from __future__ import annotations

import functools

import numpy as np
import tensorflow_datasets as tfds

from gen_jax.data._derived import DerivedBuilder
from gen_jax.data.features import Feature

TRAIN_PHOTOS = ("astronaut", "motorcycle_left", "immunohistochemistry", "retina", "china", "flower")
TEST_PHOTOS = ("chelsea", "coffee", "rocket")
PHOTO_NAMES = TRAIN_PHOTOS + TEST_PHOTOS
SEED = 20170525
SCALE = 4
PATCH = 32
WHOLE = (128, 192)
TARGET_SIDE = 256
NUM_EXAMPLES = {"train": 6000, "test": 600}


def _load(name: str) -> np.ndarray:
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        img = load_sample_image(f"{name}.jpg")
    else:
        import skimage.data

        img = skimage.data.stereo_motorcycle()[0] if name == "motorcycle_left" else getattr(skimage.data, name)()
    img = np.asarray(img)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise RuntimeError(f"photo {name!r}: expected an RGB uint8 photo, got {img.dtype} {img.shape}")
    return img


def bicubic_resize(img: np.ndarray, size) -> np.ndarray:
    """uint8 [h, w, 3]: PIL's antialiased bicubic resize of a uint8 [H, W, 3] image to size = (h, w)."""
    from PIL import Image

    h, w = size
    return np.asarray(Image.fromarray(np.ascontiguousarray(img)).resize((int(w), int(h)), Image.BICUBIC))


def bicubic_down(img: np.ndarray, factor: int = SCALE) -> np.ndarray:
    """uint8 [H / f, W / f, 3]: the LR image of an HR uint8 image (H, W multiples of f)."""
    h, w = img.shape[:2]
    if h % factor or w % factor:
        raise ValueError(f"bicubic_down: image {h}x{w} is not a multiple of the factor {factor}")
    return bicubic_resize(img, (h // factor, w // factor))


@functools.cache
def photos() -> tuple[np.ndarray, ...]:
    """The photos as used, in `PHOTO_NAMES` order: the train photos block-mean reduced, the held-out ones
    resized whole to `WHOLE` (read-only uint8 [H, W, 3])."""
    from gen_jax.data.mnistm import block_mean

    out = []
    for name in PHOTO_NAMES:
        img = _load(name)
        if name in TEST_PHOTOS:
            img = bicubic_resize(img, WHOLE)
        else:
            img = block_mean(img, max(1, min(img.shape[:2]) // TARGET_SIDE))
        img = np.array(img)
        img.flags.writeable = False
        out.append(img)
    return tuple(out)


def draw_crop(split: str, i: int) -> tuple[int, np.ndarray]:
    """(photo, position [2]) of example i of `split`, by the rule of the module docstring."""
    names = TRAIN_PHOTOS if split == "train" else TEST_PHOTOS
    rng = np.random.default_rng([SEED, ("train", "test").index(split), int(i)])
    photo = PHOTO_NAMES.index(names[int(rng.integers(len(names)))])
    h, w = photos()[photo].shape[:2]
    return photo, np.array([rng.integers(0, h - PATCH + 1), rng.integers(0, w - PATCH + 1)], np.int32)


class _PhotoBuilder(DerivedBuilder):
    CITATION = "Ledig et al. (2017), Photo-Realistic Single Image Super-Resolution Using a Generative " \
               "Adversarial Network, CVPR."

    def _split_generators(self, dl_manager):
        del dl_manager   # the photos come with installed packages
        return {s: self._generate_examples(self.columns(s)) for s in self.SPLITS}


class PhotoPatches(_PhotoBuilder):
    """32x32 HR crops of the train photos (train) and of the held-out images (test), with their x4 LR."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: 6 train photos, 3 held-out images, 32x32 crops, PIL bicubic x4."}
    SPLITS = ("train", "test")
    FEATURES = {"hr": Feature.levels((PATCH, PATCH, 3), 256),
                "lr": Feature.levels((PATCH // SCALE, PATCH // SCALE, 3), 256),
                "photo": Feature.classes(len(PHOTO_NAMES)), "position": Feature.integer((2,)),
                "index": Feature.integer()}
    SUPERVISED_KEYS = ("lr", "hr")

    def columns(self, split):
        pics = photos()
        drawn = [draw_crop(split, i) for i in range(NUM_EXAMPLES[split])]
        hr = np.stack([pics[p][r:r + PATCH, c:c + PATCH] for p, (r, c) in drawn])
        return {"hr": hr, "lr": np.stack([bicubic_down(x) for x in hr]),
                "photo": np.array([p for p, _ in drawn], np.int32),
                "position": np.stack([q for _, q in drawn]).astype(np.int32),
                "index": np.arange(len(drawn), dtype=np.int32)}


class PhotoWhole(_PhotoBuilder):
    """The three held-out images, whole: HR 128x192 and their x4 bicubic LR 32x48 (split 'test' only)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: chelsea, coffee, rocket at 128x192, PIL bicubic x4."}
    SPLITS = ("test",)
    FEATURES = {"hr": Feature.levels(WHOLE + (3,), 256),
                "lr": Feature.levels((WHOLE[0] // SCALE, WHOLE[1] // SCALE, 3), 256),
                "photo": Feature.classes(len(PHOTO_NAMES)), "index": Feature.integer()}
    SUPERVISED_KEYS = ("lr", "hr")

    def columns(self, split):
        pics = photos()
        ids = [PHOTO_NAMES.index(n) for n in TEST_PHOTOS]
        hr = np.stack([pics[p] for p in ids])
        return {"hr": hr, "lr": np.stack([bicubic_down(x) for x in hr]), "photo": np.array(ids, np.int32),
                "index": np.arange(len(ids), dtype=np.int32)}
