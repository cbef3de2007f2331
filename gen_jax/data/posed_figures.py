"""`posed_figures`: generated articulated stick figures ("persons"), each rendered in two poses, for pose-guided
person image generation (PG2, Ma et al. 2017): the target image of a (person, pose) pair is known exactly.

A figure has 11 keypoints (`KEYPOINTS`: head, neck, pelvis, elbows, hands, knees, feet) joined by the 10 limbs
of `LIMBS`, drawn as capsules (every pixel whose centre lies within half the limb width of the segment) of
the width of the person, and a head disc; the person's four part colours (head, torso, arms, legs: 4
distinct colours of `PALETTE`) stay the same in both poses, on a plain background of the person's grey level
(`BACKGROUNDS`). Images are 32x32 RGB; coordinates are (row, column) in pixels, pixel (i, j) has centre
(i + 0.5, j + 0.5).

Rule: person p draws from ``rng = np.random.default_rng([SEED, p])``, in this order: the limb width
(``rng.choice([2.0, 2.5, 3.0])``), the scale (U[0.85, 1.1]), the four part colours (``rng.permutation(8)[:4]``),
the background (``rng.integers(3)``), then two poses. A pose draws the pelvis position (row U[15, 18], column
U[13, 19]), the torso's lean (U[-0.3, 0.3] rad from vertical), then for each arm and leg the upper-segment
angle and the bend of the lower segment (arms: U[-2.6, 2.6] from hanging down and U[-1.5, 1.5];
legs: U[-0.7, 0.7] and U[-1.0, 1.0]); segment lengths (torso 8, neck-head 3.5, upper arm 4.5, forearm 4,
thigh 5, shin 5) are multiplied by the scale. Points are clipped into [1, 31].

Features of an example (one ordered pair of the poses of a person): ``condition`` uint8 [32, 32, 3] (the
person in the source pose), ``target`` uint8 [32, 32, 3] (the same person in the target pose),
``condition_keypoints`` and ``target_keypoints`` float32 [11, 2], ``target_silhouette`` uint8 [32, 32] levels 2
(the pixels the target figure covers), ``palette`` uint8 [4, 3] (the part colours, `PARTS` order),
``background`` uint8 [3], ``width`` float32 (the limb width), ``person`` int32, ``index`` int32.
Examples 2p and 2p + 1 are person p's pose 0 -> 1 and 1 -> 0. Splits: persons 0..1999 (train, 4,000 pairs)
and 2000..2199 (test, 400 pairs): no test person is seen in training.
"""
from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

from gen_jax.data._derived import DerivedBuilder
from gen_jax.data.features import Feature

SEED = 20170523
SIZE = 32
KEYPOINTS = ("head", "neck", "pelvis", "l_elbow", "l_hand", "r_elbow", "r_hand", "l_knee", "l_foot", "r_knee",
             "r_foot")
LIMBS = ((1, 2), (0, 1), (1, 3), (3, 4), (1, 5), (5, 6), (2, 7), (7, 8), (2, 9), (9, 10))
PARTS = ("head", "torso", "arms", "legs")
LIMB_PART = (1, 1, 2, 2, 2, 2, 3, 3, 3, 3)       # the part (colour) of each limb of LIMBS
HEAD_RADIUS = 2.5
PALETTE = np.array([[230, 40, 40], [40, 200, 40], [50, 80, 240], [240, 220, 30], [220, 50, 220],
                    [40, 220, 220], [255, 140, 20], [250, 250, 250]], np.uint8)
BACKGROUNDS = np.array([[0, 0, 0], [40, 40, 40], [80, 80, 80]], np.uint8)
NUM_PERSONS = {"train": 2000, "test": 200}
LENGTHS = dict(torso=8.0, head=3.5, upper_arm=4.5, forearm=4.0, thigh=5.0, shin=5.0)


def _step(p, angle, length):
    """The point `length` away from p in direction `angle` (0 = straight down, positive towards +column)."""
    return p + length * np.array([np.cos(angle), np.sin(angle)])


def draw_pose(rng, scale: float) -> np.ndarray:
    """float32 [11, 2] keypoints (row, column) of one pose, by the rule of the module docstring."""
    s = {k: v * scale for k, v in LENGTHS.items()}
    pelvis = np.array([rng.uniform(15, 18), rng.uniform(13, 19)])
    lean = rng.uniform(-0.3, 0.3)
    neck = _step(pelvis, np.pi + lean, s["torso"])
    head = _step(neck, np.pi + lean, s["head"])
    pts = {"head": head, "neck": neck, "pelvis": pelvis}
    for side in ("l", "r"):
        a, b = rng.uniform(-2.6, 2.6), rng.uniform(-1.5, 1.5)
        pts[f"{side}_elbow"] = _step(neck, a, s["upper_arm"])
        pts[f"{side}_hand"] = _step(pts[f"{side}_elbow"], a + b, s["forearm"])
    for side in ("l", "r"):
        a, b = rng.uniform(-0.7, 0.7), rng.uniform(-1.0, 1.0)
        pts[f"{side}_knee"] = _step(pelvis, a, s["thigh"])
        pts[f"{side}_foot"] = _step(pts[f"{side}_knee"], a + b, s["shin"])
    return np.clip(np.stack([pts[k] for k in KEYPOINTS]), 1.0, SIZE - 1.0).astype(np.float32)


def segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distance of points [..., 2] to the segment from a to b ([2] each)."""
    ab = b - a
    t = np.clip(((points - a) @ ab) / max(float(ab @ ab), 1e-12), 0.0, 1.0)
    return np.linalg.norm(points - (a + t[..., None] * ab), axis=-1)


def pixel_centres(size: int = SIZE) -> np.ndarray:
    c = np.arange(size) + 0.5
    return np.stack(np.meshgrid(c, c, indexing="ij"), -1)


def render(keypoints, width: float, palette, background) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 [32, 32, 3] image, uint8 [32, 32] silhouette) of a figure: limbs in LIMBS order, then the head
    disc, each painted over what is below it."""
    p = pixel_centres()
    img = np.broadcast_to(np.asarray(background, np.uint8), (SIZE, SIZE, 3)).copy()
    sil = np.zeros((SIZE, SIZE), np.uint8)
    kp = np.asarray(keypoints, np.float64)
    for (i, j), part in zip(LIMBS, LIMB_PART):
        m = segment_distance(p, kp[i], kp[j]) <= width / 2
        img[m], sil[m] = palette[part], 1
    m = np.linalg.norm(p - kp[0], axis=-1) <= HEAD_RADIUS
    img[m], sil[m] = palette[0], 1
    return img, sil


def person(p: int) -> dict:
    """Person p: width, palette [4, 3], background [3], and its two poses [2, 11, 2]."""
    rng = np.random.default_rng([SEED, int(p)])
    width = float(rng.choice([2.0, 2.5, 3.0]))
    scale = rng.uniform(0.85, 1.1)
    palette = PALETTE[rng.permutation(len(PALETTE))[:4]]
    background = BACKGROUNDS[rng.integers(len(BACKGROUNDS))]
    poses = np.stack([draw_pose(rng, scale) for _ in range(2)])
    return dict(width=width, palette=palette, background=background, poses=poses)


class PosedFigures(DerivedBuilder):
    """Stick figures with per-person widths and colours in two poses each (see the module docstring)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: 11 keypoints, 10 limbs, 32x32 RGB, 2,000 / 200 persons."}
    FEATURES = {"condition": Feature.levels((SIZE, SIZE, 3), 256), "target": Feature.levels((SIZE, SIZE, 3), 256),
                "condition_keypoints": Feature.continuous((len(KEYPOINTS), 2)),
                "target_keypoints": Feature.continuous((len(KEYPOINTS), 2)),
                "target_silhouette": Feature.levels((SIZE, SIZE), 2),
                "palette": Feature.integer((len(PARTS), 3), dtype="uint8"),
                "background": Feature.integer((3,), dtype="uint8"),
                "width": Feature.continuous(()), "person": Feature.integer(), "index": Feature.integer()}
    SUPERVISED_KEYS = ("condition", "target")
    CITATION = "Ma, Jia, Sun, Schiele, Tuytelaars & Van Gool (2017), Pose Guided Person Image Generation, NeurIPS."

    def columns(self, split):
        first = 0 if split == "train" else NUM_PERSONS["train"]
        cols = {k: [] for k in self.FEATURES}
        for k, p in enumerate(range(first, first + NUM_PERSONS[split])):
            f = person(p)
            renders = [render(kp, f["width"], f["palette"], f["background"]) for kp in f["poses"]]
            for src, tgt in ((0, 1), (1, 0)):
                cols["condition"].append(renders[src][0])
                cols["target"].append(renders[tgt][0])
                cols["target_silhouette"].append(renders[tgt][1])
                cols["condition_keypoints"].append(f["poses"][src])
                cols["target_keypoints"].append(f["poses"][tgt])
                cols["palette"].append(f["palette"])
                cols["background"].append(f["background"])
                cols["width"].append(f["width"])
                cols["person"].append(p)
                cols["index"].append(2 * k + (src == 1))
        return {k: np.stack(v) if np.ndim(v[0]) else np.asarray(v) for k, v in cols.items()}

    def _split_generators(self, dl_manager):
        del dl_manager   # generated
        return {s: self._generate_examples(self.columns(s)) for s in ("train", "test")}
