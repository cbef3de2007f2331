"""`toy2d`: generated 2-D densities, as pure numpy samplers and as a TFDS builder with one config each.

Configs (features: ``x``, continuous float32 [2]; ``label``, the class of the mixture component / mode a
point was drawn from, for the densities that have modes; swiss_roll has no ``label``; its sampler returns
labels -1):

* ``ring8``:      8 Gaussians with means (cos 2 pi i/8, sin 2 pi i/8), i = 0..7, isotropic sigma 0.01,
                  equal weights; label = i.
* ``grid25``:     25 Gaussians with means {-4, -2, 0, 2, 4}^2, isotropic sigma 0.05, equal weights;
                  label = 5 a + b for the mean (-4 + 2 a, -4 + 2 b).
* ``two_moons``:  scikit-learn's two interleaving half circles, (cos t, sin t) and (1 - cos t, 1/2 - sin t),
                  t ~ U[0, pi], Gaussian noise sigma 0.05, then centred and scaled: x -> 2 (x - (1/2, 1/4));
                  points span about [-3, 3] x [-1.6, 1.6]; label = which moon (0 upper, 1 lower), equal weights.
* ``swiss_roll``: the 2-D swiss roll (t cos t, t sin t) / 5 with t = 1.5 pi (1 + 2 u), u ~ U[0, 1), plus
                  Gaussian noise sigma 0.1 (i.e. scikit-learn's make_swiss_roll with noise 0.5, x and z
                  coordinates, divided by 5); points span about [-2.8, 2.8]^2; no label.

Stored splits: 20,000 train and 5,000 test points per config, drawn with
``np.random.default_rng(np.random.SeedSequence([20240, config_number, split_number]))`` where
config_number is the position in (ring8, grid25, two_moons, swiss_roll) and split_number is 0 for train,
1 for test. Once prepared, the stored points never change; use the samplers to draw fresh data.
"""
from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

from gen_jax.data._tfds_base import EmbeddedBuilder
from gen_jax.data.features import Feature

CONFIG_NAMES = ("ring8", "grid25", "two_moons", "swiss_roll")
NUM_TRAIN = 20_000
NUM_TEST = 5_000
SEED = 20240

RING8_SIGMA = 0.01
GRID25_SIGMA = 0.05
TWO_MOONS_NOISE = 0.05
SWISS_ROLL_NOISE = 0.1

NUM_CLASSES = {"ring8": 8, "grid25": 25, "two_moons": 2, "swiss_roll": None}


def _rng(rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _ring8_centers() -> np.ndarray:
    a = 2.0 * np.pi * np.arange(8) / 8.0
    return np.stack([np.cos(a), np.sin(a)], axis=1)


def _grid25_centers() -> np.ndarray:
    v = np.array([-4.0, -2.0, 0.0, 2.0, 4.0])
    a, b = np.meshgrid(v, v, indexing="ij")
    return np.stack([a.ravel(), b.ravel()], axis=1)  # row 5 a + b = (v[a], v[b])


def mode_centers(name: str) -> tuple[np.ndarray, float]:
    """(centers [M, 2] float64, sigma) of the Gaussian mixtures `ring8` and `grid25`.

    Accepts the bare config name or ``toy2d/<config>``; the row index of a center is the ``label`` of the
    points drawn from it. Raises ValueError for densities without Gaussian modes.
    """
    name = name.split("/", 1)[1] if name.startswith("toy2d/") else name
    if name == "ring8":
        return _ring8_centers(), RING8_SIGMA
    if name == "grid25":
        return _grid25_centers(), GRID25_SIGMA
    raise ValueError(f"mode_centers: {name!r} is not a Gaussian mixture; only 'ring8' and 'grid25' have modes")


def _mixture(rng, n: int, centers: np.ndarray, sigma: float):
    rng = _rng(rng)
    label = rng.integers(0, len(centers), size=n)
    x = centers[label] + sigma * rng.standard_normal((n, 2))
    return x.astype(np.float32), label.astype(np.int32)


def sample_ring8(rng, n: int):
    """n points of the ring of 8 Gaussians: (x float32 [n, 2], label int32 [n] in 0..7)."""
    return _mixture(rng, n, _ring8_centers(), RING8_SIGMA)


def sample_grid25(rng, n: int):
    """n points of the 5x5 grid of Gaussians: (x float32 [n, 2], label int32 [n] in 0..24)."""
    return _mixture(rng, n, _grid25_centers(), GRID25_SIGMA)


def sample_two_moons(rng, n: int):
    """n points of the two moons: (x float32 [n, 2], label int32 [n] in {0, 1} = which moon)."""
    rng = _rng(rng)
    label = rng.integers(0, 2, size=n)
    t = rng.uniform(0.0, np.pi, size=n)
    upper = np.stack([np.cos(t), np.sin(t)], axis=1)
    lower = np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], axis=1)
    p = np.where(label[:, None] == 0, upper, lower) + TWO_MOONS_NOISE * rng.standard_normal((n, 2))
    x = 2.0 * (p - np.array([0.5, 0.25]))
    return x.astype(np.float32), label.astype(np.int32)


def sample_swiss_roll(rng, n: int):
    """n points of the 2-D swiss roll: (x float32 [n, 2], label int32 [n], all -1)."""
    rng = _rng(rng)
    t = 1.5 * np.pi * (1.0 + 2.0 * rng.uniform(0.0, 1.0, size=n))
    x = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / 5.0 + SWISS_ROLL_NOISE * rng.standard_normal((n, 2))
    return x.astype(np.float32), np.full((n,), -1, np.int32)


SAMPLERS = {
    "ring8": sample_ring8,
    "grid25": sample_grid25,
    "two_moons": sample_two_moons,
    "swiss_roll": sample_swiss_roll,
}


def sample(name: str, rng, n: int):
    """Dispatches to ``sample_<name>``; accepts the bare config name or ``toy2d/<config>``."""
    name = name.split("/", 1)[1] if name.startswith("toy2d/") else name
    if name not in SAMPLERS:
        raise ValueError(f"unknown toy2d density {name!r}; known: {', '.join(CONFIG_NAMES)}")
    return SAMPLERS[name](rng, n)


def split_rng(config: str, split: str) -> np.random.Generator:
    """The generator that draws the stored split (see the module docstring)."""
    return np.random.default_rng(
        np.random.SeedSequence([SEED, CONFIG_NAMES.index(config), ("train", "test").index(split)])
    )


class Toy2d(EmbeddedBuilder):
    """Generated 2-D densities (ring8, grid25, two_moons, swiss_roll), 20,000 train / 5,000 test each."""

    VERSION = tfds.core.Version("2.0.0")
    RELEASE_NOTES = {
        "1.0.0": "Initial release.",
        "2.0.0": "The same points and labels as a fresh 1.0.0 copy, in generation order; swiss_roll has no "
                 "'label' feature (1.0.0 stored -1 for every point), and labels are class features. Copies of "
                 "ring8 1.0.0 prepared before the builder set disable_shuffling=True hold the same points in a "
                 "shuffled stored order; the new version makes such copies unreachable, and every load now "
                 "checks the stored fingerprint of its version.",
    }
    BUILDER_CONFIGS = [tfds.core.BuilderConfig(name=n, description=n) for n in CONFIG_NAMES]

    def gen_jax_features(self):
        features = {"x": Feature.continuous((2,))}
        num_classes = NUM_CLASSES[self.builder_config.name]
        if num_classes is not None:
            features["label"] = Feature.classes(num_classes)
        return features

    def _split_generators(self, dl_manager):
        del dl_manager
        name = self.builder_config.name
        sizes = {"train": NUM_TRAIN, "test": NUM_TEST}
        return {s: self._generate_examples(*SAMPLERS[name](split_rng(name, s), n)) for s, n in sizes.items()}

    def _generate_examples(self, x, label):
        labelled = NUM_CLASSES[self.builder_config.name] is not None
        for i in range(len(x)):
            yield i, ({"x": x[i], "label": np.int32(label[i])} if labelled else {"x": x[i]})
