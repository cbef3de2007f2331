"""`voxel_shapes`: procedural 3-D shapes voxelised on a 16^3 grid (config ``voxel_shapes/32`` for 32^3), labelled
by class, for 3DGAN (Wu et al. 2016): 0 sphere, 1 box, 2 cylinder, 3 torus, 4 cone.

Each shape is a signed-distance function in the unit cube [-1, 1]^3 (a cell is filled when the SDF at its
centre is <= 0), with a random size, a random rotation (a uniformly random rotation matrix: the Q factor of
a 3x3 standard normal matrix with the signs fixed so that diag(R) > 0, det = +1) and a random centre offset:

* sphere: radius r ~ U[0.35, 0.8];
* box: half-sides ~ U[0.25, 0.7] each;
* cylinder (axis z): radius ~ U[0.2, 0.55], half-height ~ U[0.35, 0.8];
* torus (axis z): major radius R ~ U[0.4, 0.65], minor radius ~ U[0.12, 0.25];
* cone (axis z, apex up): base radius ~ U[0.35, 0.7], half-height ~ U[0.4, 0.8] (the exact SDF of a capped cone);
  centres ~ U[-0.15, 0.15]^3.

Example i (``index``) has class i % 5 and draws its parameters from ``np.random.default_rng([SEED, size, i])``
in the order: size parameters, rotation, centre. Splits: 2,000 train (i = 0..1999), 500 test (i = 2000..2499).
Features: ``x`` levels 2 uint8 [S, S, S, 1], ``label`` classes 5, ``index`` int32.
"""
from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

from gen_jax.data._tfds_base import EmbeddedBuilder
from gen_jax.data.features import Feature

SEED = 20161024
CLASSES = ("sphere", "box", "cylinder", "torus", "cone")
NUM_TRAIN, NUM_TEST = 2000, 500
SIZES = (16, 32)


def grid(size: int) -> np.ndarray:
    """float64 [S, S, S, 3]: the cell centres of an S^3 grid over [-1, 1]^3 (axis order x, y, z)."""
    c = (np.arange(size) + 0.5) / size * 2.0 - 1.0
    return np.stack(np.meshgrid(c, c, c, indexing="ij"), -1)


def random_rotation(rng) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def sdf(label: int, params, p: np.ndarray) -> np.ndarray:
    """The signed distance of shape `label` with size parameters `params` at points p [..., 3] (its frame)."""
    x, y, z = p[..., 0], p[..., 1], p[..., 2]
    if label == 0:
        return np.linalg.norm(p, axis=-1) - params[0]
    if label == 1:
        q = np.abs(p) - np.asarray(params)
        return np.linalg.norm(np.maximum(q, 0), axis=-1) + np.minimum(q.max(-1), 0)
    if label == 2:
        d = np.stack([np.hypot(x, y) - params[0], np.abs(z) - params[1]], -1)
        return np.linalg.norm(np.maximum(d, 0), axis=-1) + np.minimum(d.max(-1), 0)
    if label == 3:
        return np.hypot(np.hypot(x, y) - params[0], z) - params[1]
    if label == 4:   # capped cone: base radius r at z = -h, apex at z = +h
        r, h = params
        q = np.stack([np.hypot(x, y), z], -1)
        k1 = np.array([0.0, h])
        k2 = np.array([-r, 2 * h])
        ca = np.stack([q[..., 0] - np.minimum(q[..., 0], np.where(q[..., 1] < 0, r, 0.0)), np.abs(q[..., 1]) - h], -1)
        t = np.clip(((k1 - q) @ k2) / (k2 @ k2), 0.0, 1.0)
        cb = q - k1 + k2 * t[..., None]
        s = np.where((cb[..., 0] < 0) & (ca[..., 1] < 0), -1.0, 1.0)
        return s * np.sqrt(np.minimum((ca ** 2).sum(-1), (cb ** 2).sum(-1)))
    raise ValueError(f"unknown shape class {label}; classes: {CLASSES}")


def shape_params(label: int, rng):
    u = rng.uniform
    return {0: lambda: [u(0.35, 0.8)], 1: lambda: list(u(0.25, 0.7, size=3)),
            2: lambda: [u(0.2, 0.55), u(0.35, 0.8)], 3: lambda: [u(0.4, 0.65), u(0.12, 0.25)],
            4: lambda: [u(0.35, 0.7), u(0.4, 0.8)]}[label]()


def voxelize(label: int, params, rotation, centre, size: int) -> np.ndarray:
    """uint8 [S, S, S]: 1 where the rotated, shifted shape's SDF is <= 0 at the cell centre."""
    p = (grid(size) - np.asarray(centre)) @ np.asarray(rotation)   # world -> shape frame (R orthogonal)
    return (sdf(label, params, p) <= 0).astype(np.uint8)


def example(index: int, size: int = 16) -> dict:
    label = int(index) % len(CLASSES)
    rng = np.random.default_rng([SEED, size, int(index)])
    params = shape_params(label, rng)
    rotation = random_rotation(rng)
    centre = rng.uniform(-0.15, 0.15, size=3)
    return {"x": voxelize(label, params, rotation, centre, size)[..., None], "label": label,
            "index": np.int32(index)}


class VoxelShapes(EmbeddedBuilder):
    """Procedural voxel shapes (sphere, box, cylinder, torus, cone) at 16^3 or 32^3."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: five SDF shape classes, random sizes, rotations and centres."}
    BUILDER_CONFIGS = [tfds.core.BuilderConfig(name=str(s), description=f"{s}^3 voxels") for s in SIZES]
    SUPERVISED_KEYS = ("x", "label")

    def gen_jax_features(self):
        s = int(self.builder_config.name)
        return {"x": Feature.levels((s, s, s, 1), 2), "label": Feature.classes(len(CLASSES)),
                "index": Feature.integer()}

    def _split_generators(self, dl_manager):
        del dl_manager
        s = int(self.builder_config.name)
        return {"train": self._generate_examples(range(NUM_TRAIN), s),
                "test": self._generate_examples(range(NUM_TRAIN, NUM_TRAIN + NUM_TEST), s)}

    def _generate_examples(self, indices, size):
        for i in indices:
            yield int(i), example(i, size)
