"""CoGAN's measurement: do generated pairs (G1(z), G2(z)) correspond by the known transform of the two domains?

Liu & Tuzel 2016 (Sec. 5, the digit tasks) score a generated pair by the pixel agreement ratio between the
second image and the transform of the first (for edges: the edge operator applied to the generated digit).
Here, per pair:

* `pixel_agreement`: the fraction of pixels where T(a) and b agree: |T(a) - b| <= pixel_tol for grey
  transforms ('invert': T(a) = 1 - a, i.e. 255 - x on stored values), equality after binarising b at 1/2 for
  'edges' (T = `gen_jax.data.edges2digits.edge_map`, the rule that built the dataset, on a rounded to 0..255);
* a pair is CONSISTENT when its agreement is >= pair_threshold; `pair_consistency` is the fraction of such pairs.
The same numbers for mismatched pairs (b of the next pair) give the chance level of an uncoupled model.
"""
from __future__ import annotations

import numpy as np

TRANSFORMS = ("invert", "edges")


def transform(a, name: str) -> np.ndarray:
    """T(a) for images a in [0, 1] ([N, H, W, C]), in [0, 1]."""
    a = np.asarray(a, np.float32)
    if name == "invert":
        return 1.0 - a
    if name == "edges":
        from gen_jax.data.edges2digits import edge_map

        if a.shape[-1] != 1:
            raise ValueError(f"the 'edges' transform needs grey images [..., 1], got shape {a.shape}")
        x = np.clip(np.rint(a[..., 0] * 255.0), 0, 255).astype(np.uint8)
        return edge_map(x)[..., None].astype(np.float32)
    raise ValueError(f"unknown pair transform {name!r}; expected one of {TRANSFORMS}")


def pixel_agreement(a, b, name: str, pixel_tol: float = 0.1) -> np.ndarray:
    """[N] fraction of the pixels of each pair where T(a) and b agree (see the module docstring)."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    if a.shape != b.shape:
        raise ValueError(f"pixel_agreement: the two images of a pair must have one shape, got {a.shape} and "
                         f"{b.shape}")
    t = transform(a, name)
    agree = (t == (b >= 0.5)) if name == "edges" else (np.abs(t - b) <= pixel_tol)
    return agree.reshape(len(a), -1).mean(-1)


def pair_metrics(a, b, name: str, pixel_tol: float = 0.1, pair_threshold: float = 0.9) -> dict:
    """pixel_agreement, pair_consistency and their `_unpaired` chance levels (b shifted by one pair)."""
    if len(a) < 2:
        raise ValueError("pair_metrics needs at least 2 pairs")
    out = {}
    for suffix, bb in (("", b), ("_unpaired", np.roll(np.asarray(b), 1, axis=0))):
        agree = pixel_agreement(a, bb, name, pixel_tol)
        out[f"pixel_agreement{suffix}"] = float(agree.mean())
        out[f"pair_consistency{suffix}"] = float(np.mean(agree >= pair_threshold))
    return out
