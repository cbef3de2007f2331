"""The Inception-v3 network of FID / IS / KID, in Flax, with weights from a local `.npz` the user supplies.

This is the network of the reference FID implementation (Heusel et al. 2017, TTUR code) and of the Inception
Score (Salimans et al. 2016): TensorFlow's 2015-12-05 Inception-v3 graph (`inception-2015-12-05.tgz`), as
ported to PyTorch by pytorch-fid (`FIDInceptionA/C/E_1/E_2`), whose weights are the de-facto standard
(torch-fidelity and clean-fid use the same graph). It differs from the Inception-v3 of Szegedy et al. 2016
(torchvision's `Inception3`) in:

* the 3x3 average pools of the A, C and first E blocks (Mixed_5b-d, 6b-e, 7b) exclude the zero padding from
  their mean (TensorFlow's SAME average pool; PyTorch's `count_include_pad=False`);
* the pool branch of the last E block (Mixed_7c) is a 3x3 *max* pool (stride 1, padding 1), not an average;
* 1008 classes (1000 ImageNet classes and 8 unused ones); IS uses the softmax over all 1008.

Every convolution is a BasicConv: conv (no bias) -> batch norm in inference form (running statistics, eps 1e-3)
-> ReLU. Preprocessing (`preprocess`), as pytorch-fid's `InceptionV3(resize_input=True, normalize_input=True)`:
images in [0, 1] are resized to 299x299 by bilinear interpolation with PyTorch's `F.interpolate(...,
mode='bilinear', align_corners=False)` semantics (half-pixel centres, source coordinates clamped at 0, no
antialiasing when downsampling), then mapped to [-1, 1] by 2x - 1. Grey images (1 channel) are repeated to 3
channels first. Outputs: `pool3`, the 2048-d global average of Mixed_7c (FID / KID / precision-recall
features), `logits`, the 1008-way fc layer on pool3, and `logits_unbiased`, the same without its bias: the
Inception Score's logits, as the IS reference code (improved-gan) and torch-fidelity compute them.

Weights: never downloaded by the library. Download pytorch-fid's port of the TF weights,

    https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth

and convert it once (the converter needs torch; the library does not, and reads no pickle):

    python experiments/convert_inception_weights.py --pth=pt_inception-2015-12-05-6726825d.pth \
        --out=~/inception_fid.npz

then pass `weights=~/inception_fid.npz` (or set GEN_JAX_INCEPTION_WEIGHTS). The `.npz` holds the Flax
variables flattened as 'params/<module path>/kernel' etc.; `convert_state_dict`
(`gen_jax.metrics.inception_weights`, NumPy only) maps the torch names and
layouts (OIHW kernels, [out, in] fc) onto them and is the one code path of the converter script and of the
golden test (`tests/metrics/test_inception.py`, random weights against an independent PyTorch implementation).
"""
from __future__ import annotations

import functools
import os
from typing import Dict, Optional, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from gen_jax.metrics.inception_weights import (  # noqa: F401  (re-exported: the weights file's API)
    BN_EPS,
    FEATURE_DIM,
    HOW_TO_GET_WEIGHTS,
    INPUT_SIZE,
    NUM_CLASSES,
    WEIGHTS_ENV,
    WEIGHTS_URL,
    convert_state_dict,
    resolve_weights,
)

_HIGHEST = jax.lax.Precision.HIGHEST


# ----------------------------------------------------------------------------------------------- preprocessing
def bilinear_matrix(in_size: int, out_size: int) -> np.ndarray:
    """[out_size, in_size] weights of 1-D linear interpolation as PyTorch's `F.interpolate(mode='bilinear',
    align_corners=False, size=...)` computes it: source coordinate s = (i + 0.5) in/out - 0.5, clamped at 0;
    x0 = floor(s), x1 = min(x0 + 1, in - 1), weights (1 - (s - x0), s - x0). No antialiasing (a plain
    2-tap interpolation also when downsampling)."""
    if in_size < 1 or out_size < 1:
        raise ValueError(f"bilinear_matrix: sizes must be >= 1, got {in_size} -> {out_size}")
    scale = in_size / out_size
    src = np.maximum((np.arange(out_size) + 0.5) * scale - 0.5, 0.0)
    x0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    x1 = np.minimum(x0 + 1, in_size - 1)
    lam = src - x0
    m = np.zeros((out_size, in_size), np.float64)
    np.add.at(m, (np.arange(out_size), x0), 1.0 - lam)
    np.add.at(m, (np.arange(out_size), x1), lam)
    return m.astype(np.float32)


def resize_bilinear(images, size: Tuple[int, int]):
    """Images [N, H, W, C] -> [N, size[0], size[1], C] with PyTorch's bilinear, align_corners=False."""
    if images.ndim != 4:
        raise ValueError(f"resize_bilinear: expected images [N, H, W, C], got shape {images.shape}")
    h, w = images.shape[1:3]
    if (h, w) == tuple(size):
        return images
    a, b = jnp.asarray(bilinear_matrix(h, size[0])), jnp.asarray(bilinear_matrix(w, size[1]))
    return jnp.einsum("ih,jw,nhwc->nijc", a, b, images, precision=_HIGHEST)


def preprocess(images):
    """Images in [0, 1], [N, H, W, 1 or 3] -> the network's input [N, 299, 299, 3] in [-1, 1]."""
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"Inception input: expected images [N, H, W, 1 or 3] in [0, 1], got shape {images.shape}")
    images = jnp.asarray(images, jnp.float32)
    if images.shape[-1] == 1:
        images = jnp.repeat(images, 3, axis=-1)
    return 2.0 * resize_bilinear(images, (INPUT_SIZE, INPUT_SIZE)) - 1.0


# -------------------------------------------------------------------------------------------------- network
def _pad(p):
    return ((p[0], p[0]), (p[1], p[1]))


class BasicConv(nn.Module):
    """Conv (no bias) -> batch norm (inference, eps 1e-3) -> ReLU."""
    features: int
    kernel: Tuple[int, int] = (1, 1)
    stride: int = 1
    padding: Tuple[int, int] = (0, 0)

    @nn.compact
    def __call__(self, x):
        x = nn.Conv(self.features, self.kernel, strides=self.stride, padding=_pad(self.padding), use_bias=False,
                    precision=_HIGHEST, name="conv")(x)
        x = nn.BatchNorm(use_running_average=True, epsilon=BN_EPS, name="bn")(x)
        return nn.relu(x)


def _avg_pool_3x3_excluding_padding(x):
    return nn.avg_pool(x, (3, 3), strides=(1, 1), padding=((1, 1), (1, 1)), count_include_pad=False)


def _max_pool_3x3_s2(x):
    return nn.max_pool(x, (3, 3), strides=(2, 2), padding="VALID")


class InceptionA(nn.Module):
    """35x35 block (Mixed_5b-d): 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avgpool(excl. padding)-1x1."""
    pool_features: int

    @nn.compact
    def __call__(self, x):
        b1 = BasicConv(64, name="branch1x1")(x)
        b5 = BasicConv(48, name="branch5x5_1")(x)
        b5 = BasicConv(64, (5, 5), padding=(2, 2), name="branch5x5_2")(b5)
        b3 = BasicConv(64, name="branch3x3dbl_1")(x)
        b3 = BasicConv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(b3)
        b3 = BasicConv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_3")(b3)
        bp = BasicConv(self.pool_features, name="branch_pool")(_avg_pool_3x3_excluding_padding(x))
        return jnp.concatenate([b1, b5, b3, bp], axis=-1)


class InceptionB(nn.Module):
    """35 -> 17 reduction (Mixed_6a): 3x3/2 | 1x1-3x3-3x3/2 | maxpool 3x3/2."""

    @nn.compact
    def __call__(self, x):
        b3 = BasicConv(384, (3, 3), stride=2, name="branch3x3")(x)
        bd = BasicConv(64, name="branch3x3dbl_1")(x)
        bd = BasicConv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(bd)
        bd = BasicConv(96, (3, 3), stride=2, name="branch3x3dbl_3")(bd)
        return jnp.concatenate([b3, bd, _max_pool_3x3_s2(x)], axis=-1)


class InceptionC(nn.Module):
    """17x17 block (Mixed_6b-e) with factorised 7x7 convolutions; avgpool excludes padding."""
    channels_7x7: int

    @nn.compact
    def __call__(self, x):
        c7 = self.channels_7x7
        b1 = BasicConv(192, name="branch1x1")(x)
        b7 = BasicConv(c7, name="branch7x7_1")(x)
        b7 = BasicConv(c7, (1, 7), padding=(0, 3), name="branch7x7_2")(b7)
        b7 = BasicConv(192, (7, 1), padding=(3, 0), name="branch7x7_3")(b7)
        bd = BasicConv(c7, name="branch7x7dbl_1")(x)
        bd = BasicConv(c7, (7, 1), padding=(3, 0), name="branch7x7dbl_2")(bd)
        bd = BasicConv(c7, (1, 7), padding=(0, 3), name="branch7x7dbl_3")(bd)
        bd = BasicConv(c7, (7, 1), padding=(3, 0), name="branch7x7dbl_4")(bd)
        bd = BasicConv(192, (1, 7), padding=(0, 3), name="branch7x7dbl_5")(bd)
        bp = BasicConv(192, name="branch_pool")(_avg_pool_3x3_excluding_padding(x))
        return jnp.concatenate([b1, b7, bd, bp], axis=-1)


class InceptionD(nn.Module):
    """17 -> 8 reduction (Mixed_7a): 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | maxpool 3x3/2."""

    @nn.compact
    def __call__(self, x):
        b3 = BasicConv(192, name="branch3x3_1")(x)
        b3 = BasicConv(320, (3, 3), stride=2, name="branch3x3_2")(b3)
        b7 = BasicConv(192, name="branch7x7x3_1")(x)
        b7 = BasicConv(192, (1, 7), padding=(0, 3), name="branch7x7x3_2")(b7)
        b7 = BasicConv(192, (7, 1), padding=(3, 0), name="branch7x7x3_3")(b7)
        b7 = BasicConv(192, (3, 3), stride=2, name="branch7x7x3_4")(b7)
        return jnp.concatenate([b3, b7, _max_pool_3x3_s2(x)], axis=-1)


class InceptionE(nn.Module):
    """8x8 block with expanded filter banks (Mixed_7b: avg pool excluding padding; Mixed_7c: max pool)."""
    max_pool: bool = False

    @nn.compact
    def __call__(self, x):
        b1 = BasicConv(320, name="branch1x1")(x)
        b3 = BasicConv(384, name="branch3x3_1")(x)
        b3 = jnp.concatenate([BasicConv(384, (1, 3), padding=(0, 1), name="branch3x3_2a")(b3),
                              BasicConv(384, (3, 1), padding=(1, 0), name="branch3x3_2b")(b3)], axis=-1)
        bd = BasicConv(448, name="branch3x3dbl_1")(x)
        bd = BasicConv(384, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(bd)
        bd = jnp.concatenate([BasicConv(384, (1, 3), padding=(0, 1), name="branch3x3dbl_3a")(bd),
                              BasicConv(384, (3, 1), padding=(1, 0), name="branch3x3dbl_3b")(bd)], axis=-1)
        if self.max_pool:
            pooled = nn.max_pool(x, (3, 3), strides=(1, 1), padding=((1, 1), (1, 1)))
        else:
            pooled = _avg_pool_3x3_excluding_padding(x)
        bp = BasicConv(192, name="branch_pool")(pooled)
        return jnp.concatenate([b1, b3, bd, bp], axis=-1)


class _FC(nn.Module):
    """The 2048 -> 1008 classifier: (pool3 W, pool3 W + b). The Inception Score's reference code (Salimans et
    al. 2016, improved-gan `inception_score/model.py`) rebuilds the softmax from W alone, without the bias
    (torch-fidelity's 'logits_unbiased' does the same); pytorch-fid's / torchvision's fc adds b."""

    @nn.compact
    def __call__(self, pool3):
        kernel = self.param("kernel", nn.initializers.lecun_normal(), (pool3.shape[-1], NUM_CLASSES))
        bias = self.param("bias", nn.initializers.zeros, (NUM_CLASSES,))
        unbiased = jnp.dot(pool3, kernel, precision=_HIGHEST)
        return unbiased, unbiased + bias


class FIDInceptionV3(nn.Module):
    """The FID Inception-v3 (see the module docstring). `__call__(images)` -> {'pool3' [N, 2048],
    'logits' [N, 1008] (fc with bias), 'logits_unbiased' [N, 1008] (pool3 W: those of the Inception Score)}
    (and, with `intermediates=True`, the block outputs 'input' (preprocessed), 'block0' (maxpool1, 64 ch),
    'block1' (maxpool2, 192 ch), 'block2' (Mixed_6e, 768 ch), 'block3' (Mixed_7c)).

    `images`: [N, H, W, 1 or 3] in [0, 1] (preprocessed here), or, with `preprocessed=True`, the network's
    input [N, 299, 299, 3] in [-1, 1]."""

    @nn.compact
    def __call__(self, images, preprocessed: bool = False, intermediates: bool = False):
        x = images if preprocessed else preprocess(images)
        acts = {"input": x}
        x = BasicConv(32, (3, 3), stride=2, name="Conv2d_1a_3x3")(x)
        x = BasicConv(32, (3, 3), name="Conv2d_2a_3x3")(x)
        x = BasicConv(64, (3, 3), padding=(1, 1), name="Conv2d_2b_3x3")(x)
        acts["block0"] = x = _max_pool_3x3_s2(x)
        x = BasicConv(80, name="Conv2d_3b_1x1")(x)
        x = BasicConv(192, (3, 3), name="Conv2d_4a_3x3")(x)
        acts["block1"] = x = _max_pool_3x3_s2(x)
        x = InceptionA(32, name="Mixed_5b")(x)
        x = InceptionA(64, name="Mixed_5c")(x)
        x = InceptionA(64, name="Mixed_5d")(x)
        x = InceptionB(name="Mixed_6a")(x)
        for name, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
            x = InceptionC(c7, name=name)(x)
        acts["block2"] = x
        x = InceptionD(name="Mixed_7a")(x)
        x = InceptionE(max_pool=False, name="Mixed_7b")(x)
        acts["block3"] = x = InceptionE(max_pool=True, name="Mixed_7c")(x)
        pool3 = jnp.mean(x, axis=(1, 2))
        logits_unbiased, logits = _FC(name="fc")(pool3)
        out = {"pool3": pool3, "logits": logits, "logits_unbiased": logits_unbiased}
        if intermediates:
            out.update(acts)
        return out


# ------------------------------------------------------------------------------------------------- weights
@functools.lru_cache(maxsize=1)
def variable_shapes() -> Dict[str, Tuple[int, ...]]:
    """{'params/Conv2d_1a_3x3/conv/kernel': (3, 3, 3, 32), ...}: every variable the network needs."""
    from flax import traverse_util

    v = jax.eval_shape(FIDInceptionV3().init, jax.random.PRNGKey(0), jnp.zeros((1, 75, 75, 3)))
    return {k: tuple(a.shape) for k, a in traverse_util.flatten_dict(dict(v), sep="/").items()}


def load_variables(weights: Optional[str] = None):
    """Flax variables {'params', 'batch_stats'} of the network from the converted `.npz` (no pickle)."""
    from flax import traverse_util

    path = resolve_weights(weights)
    with np.load(path, allow_pickle=False) as f:
        flat = {k: f[k] for k in f.files if not k.startswith("meta/")}
    expected = variable_shapes()
    missing, extra = sorted(set(expected) - set(flat)), sorted(set(flat) - set(expected))
    bad = [f"{k}: {flat[k].shape} != {expected[k]}" for k in sorted(set(flat) & set(expected))
           if flat[k].shape != expected[k]]
    if missing or extra or bad:
        raise ValueError(f"{path!r} is not a converted FID Inception weights file (missing {missing[:3]}, "
                         f"unexpected {extra[:3]}, wrong shapes {bad[:3]}): {HOW_TO_GET_WEIGHTS}")
    return traverse_util.unflatten_dict({k: jnp.asarray(v, jnp.float32) for k, v in flat.items()}, sep="/")


# ----------------------------------------------------------------------------------------------- extractor
class InceptionExtractor:
    """The feature extractor of the standard metrics: `features(images)` -> pool3 [N, 2048],
    `logits(images)` -> the Inception Score's logits [N, 1008] (`logits_unbiased`: pool3 W, no bias, as the
    IS reference code), `features_and_logits(images)` -> both from one pass.

    Images [N, H, W, 1 or 3] in [0, 1] (grey images repeated to 3 channels; values clipped to [0, 1], as
    writing them to PNG would). Evaluated `batch_size` at a time (the last batch padded) so that one
    compilation per image shape serves every call. `standard = True`: sample metrics computed with it carry
    the papers' names (fid, is, kid), which no other extractor gets."""

    standard = True
    name = "inception"

    def __init__(self, variables, batch_size: int = 50):
        self.variables = variables
        self.batch_size = int(batch_size)
        net = FIDInceptionV3()
        self._apply = jax.jit(lambda v, x: net.apply(v, x))

    @classmethod
    def from_weights(cls, weights: Optional[str] = None, batch_size: int = 50) -> "InceptionExtractor":
        return cls(load_variables(weights), batch_size=batch_size)

    def features_and_logits(self, images) -> Tuple[np.ndarray, np.ndarray]:
        images = np.asarray(images, np.float32)
        if images.ndim != 4 or images.shape[-1] not in (1, 3):
            raise ValueError(f"Inception extractor: expected images [N, H, W, 1 or 3] in [0, 1], got shape "
                             f"{images.shape}")
        images = np.clip(images, 0.0, 1.0)
        n, b = len(images), self.batch_size
        feats, logits = [], []
        for s in range(0, n, b):
            chunk = images[s:s + b]
            m = len(chunk)
            if m < b:
                chunk = np.concatenate([chunk, np.zeros((b - m,) + chunk.shape[1:], np.float32)])
            out = jax.device_get(self._apply(self.variables, jnp.asarray(chunk)))
            feats.append(np.asarray(out["pool3"])[:m])
            logits.append(np.asarray(out["logits_unbiased"])[:m])
        if not feats:
            return np.zeros((0, FEATURE_DIM), np.float32), np.zeros((0, NUM_CLASSES), np.float32)
        return np.concatenate(feats), np.concatenate(logits)

    def features(self, images) -> np.ndarray:
        return self.features_and_logits(images)[0]

    def logits(self, images) -> np.ndarray:
        return self.features_and_logits(images)[1]


@functools.lru_cache(maxsize=2)
def _cached_extractor(path: str, batch_size: int) -> InceptionExtractor:
    return InceptionExtractor.from_weights(path, batch_size=batch_size)


def inception_extractor(weights: Optional[str] = None, batch_size: int = 50) -> InceptionExtractor:
    """The extractor for `weights` (or $GEN_JAX_INCEPTION_WEIGHTS), loaded once per process and path."""
    return _cached_extractor(os.path.abspath(resolve_weights(weights)), int(batch_size))
