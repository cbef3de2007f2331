"""The FID Inception weights file: where it comes from, its name mapping from torch, and where it is looked up.

NumPy only (no jax, no torch), so that `experiments/convert_inception_weights.py` can run in a venv that has
torch but not jax. The network itself is `gen_jax.metrics.inception`; its docstring says how to get the
weights. The `.npz` holds the Flax variables of `FIDInceptionV3` as float32 arrays named
'params/<module path>/<name>' and 'batch_stats/<module path>/<name>' (and 'meta/...' entries that the loader
ignores); `gen_jax.metrics.inception.load_variables` checks every name and shape against the network.
"""
from __future__ import annotations

import os
from typing import Dict, Optional

import numpy as np

WEIGHTS_ENV = "GEN_JAX_INCEPTION_WEIGHTS"
WEIGHTS_URL = ("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
               "pt_inception-2015-12-05-6726825d.pth")
INPUT_SIZE = 299
NUM_CLASSES = 1008
FEATURE_DIM = 2048
BN_EPS = 1e-3
NUM_CONVS = 94   # BasicConvs of the FID Inception-v3 (5 stem + 3x7 A + 4 B + 4x10 C + 6 D + 2x9 E)
HOW_TO_GET_WEIGHTS = (
    f"download pytorch-fid's FID Inception weights {WEIGHTS_URL} and convert them once with "
    "`python experiments/convert_inception_weights.py --pth=pt_inception-2015-12-05-6726825d.pth "
    "--out=inception_fid.npz` (needs torch), then pass weights=<that .npz> (compare: --weights=) or set "
    f"{WEIGHTS_ENV}=<that .npz>")

_SUFFIX = {"conv.weight": ("params", "conv/kernel"), "bn.weight": ("params", "bn/scale"),
           "bn.bias": ("params", "bn/bias"), "bn.running_mean": ("batch_stats", "bn/mean"),
           "bn.running_var": ("batch_stats", "bn/var")}


def convert_state_dict(state_dict) -> Dict[str, np.ndarray]:
    """A pytorch-fid FID-Inception state_dict (names -> arrays, already numpy) -> the flat Flax variables
    written to the `.npz`: 'X.conv.weight' [O, I, kh, kw] -> 'params/X/conv/kernel' [kh, kw, I, O];
    'X.bn.weight/bias/running_mean/running_var' -> 'params/X/bn/scale', 'params/X/bn/bias',
    'batch_stats/X/bn/mean', 'batch_stats/X/bn/var'; 'fc.weight' [1008, 2048] -> 'params/fc/kernel'
    [2048, 1008], 'fc.bias' -> 'params/fc/bias' (X a dotted module path, e.g. 'Mixed_5b.branch1x1'). Buffers
    'num_batches_tracked' are dropped. Raises on names of no BasicConv or fc, on a wrong fc, and on a count
    of convolutions other than 94 (the loader then checks every name and shape)."""
    out, unexpected = {}, []
    for name, value in state_dict.items():
        a = np.asarray(value)
        if name.endswith("num_batches_tracked"):
            continue
        if name in ("fc.weight", "fc.bias"):
            want = (NUM_CLASSES, FEATURE_DIM) if name == "fc.weight" else (NUM_CLASSES,)
            if a.shape != want:
                raise ValueError(f"convert_state_dict: {name} has shape {a.shape}, the FID Inception's has {want} "
                                 f"(1008 classes; torchvision's ImageNet Inception-v3 has 1000 and other weights)")
            key, a = ("params/fc/kernel", a.T) if name == "fc.weight" else ("params/fc/bias", a)
        else:
            module, _, leaf = name.rpartition(".")
            module, _, layer = module.rpartition(".")
            tail = f"{layer}.{leaf}"
            if tail not in _SUFFIX or not module:
                unexpected.append(name)
                continue
            col, path = _SUFFIX[tail]
            key = f"{col}/{module.replace('.', '/')}/{path}"
            if tail == "conv.weight":
                if a.ndim != 4:
                    raise ValueError(f"convert_state_dict: {name} should be a 4-D conv weight, got {a.shape}")
                a = a.transpose(2, 3, 1, 0)
        out[key] = np.ascontiguousarray(a, dtype=np.float32)
    convs = sum(k.endswith("/conv/kernel") for k in out)
    if unexpected or convs != NUM_CONVS or "params/fc/kernel" not in out:
        raise ValueError(f"convert_state_dict: not the FID Inception-v3 state_dict (pytorch-fid's "
                         f"pt_inception-2015-12-05): {convs} convolutions (expected {NUM_CONVS}), "
                         f"fc {'present' if 'params/fc/kernel' in out else 'missing'}, "
                         f"unexpected entries {unexpected[:5]}")
    return out


def resolve_weights(weights: Optional[str] = None) -> str:
    """The weights path: `weights`, else $GEN_JAX_INCEPTION_WEIGHTS; a clear error when unset or missing."""
    path = weights or os.environ.get(WEIGHTS_ENV)
    if not path:
        raise ValueError(f"the FID Inception network needs its weights file, which the library never downloads: "
                         f"{HOW_TO_GET_WEIGHTS}")
    path = os.path.expanduser(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"FID Inception weights file {path!r} does not exist: {HOW_TO_GET_WEIGHTS}")
    return path
