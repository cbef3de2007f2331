"""Autoregressive image models: PixelCNN, Gated PixelCNN, PixelCNN++, Row LSTM and Diagonal BiLSTM.

Every model maps an image x [N, H, W, C] scaled to [-1, 1] (`scale_input`) to per-pixel outputs
[N, H, W, P] such that the outputs used for sub-pixel (i, c) depend only on sub-pixels before it in raster
order (rows, then columns, then channels R < G < B). The head turns outputs into log-probabilities
(`gen_jax.autoregressive.losses`): P = C*K logits (categorical) or the logistic-mixture parameters.

Papers:
* PixelCNN and PixelRNN (Row LSTM, Diagonal BiLSTM): van den Oord, Kalchbrenner, Kavukcuoglu 2016,
  "Pixel Recurrent Neural Networks" (ICML).
* Gated PixelCNN: van den Oord et al. 2016, "Conditional Image Generation with PixelCNN Decoders" (NeurIPS).
* PixelCNN++: Salimans, Karpathy, Chen, Kingma 2017, "PixelCNN++" (ICLR).

The convolutional models (PixelCNN, Gated PixelCNN, PixelCNN++) also expose decoding methods that compute the
outputs of one pixel from per-layer caches (`gen_jax.nn.masked`, `pixelcnn_pp._Conv`), used by the fast sampler.

Where they live: `pixelcnn.py` (PixelCNN, Gated PixelCNN), `pixelcnn_pp.py` (PixelCNN++), `pixelrnn.py` (Row
LSTM, Diagonal BiLSTM), `layers.py` (pieces they share). This module is the family's `models.py`: it re-exports
the classes and holds the registry (`MODELS`, `make_model`) and the fast initializer (`init_params`).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import flax.linen as nn
import numpy as np

from gen_jax.autoregressive.layers import scale_input
from gen_jax.autoregressive.pixelcnn import GatedPixelCNN, PixelCNN
from gen_jax.autoregressive.pixelcnn_pp import PixelCNNPlusPlus
from gen_jax.autoregressive.pixelrnn import PixelRNN

__all__ = ["CACHED_MODELS", "GatedPixelCNN", "MODELS", "PixelCNN", "PixelCNNPlusPlus", "PixelRNN", "init_params",
           "make_model", "scale_input"]


MODELS = {
    "pixelcnn": PixelCNN,
    "gated_pixelcnn": GatedPixelCNN,
    "pixelcnn_pp": PixelCNNPlusPlus,
    "row_lstm": lambda **kw: PixelRNN(kind="row_lstm", **kw),
    "diagonal_bilstm": lambda **kw: PixelRNN(kind="diagonal_bilstm", **kw),
}
CACHED_MODELS = ("pixelcnn", "gated_pixelcnn", "pixelcnn_pp")


def make_model(name: str, **kwargs) -> nn.Module:
    """Builds a model by registry name (`MODELS`) with its keyword attributes."""
    if name not in MODELS:
        raise ValueError(f"unknown autoregressive model {name!r}; expected one of {sorted(MODELS)}")
    return MODELS[name](**kwargs)


def init_params(model: nn.Module, key, x, label=None):
    """Parameters for `model` on inputs like x: fan-in scaled normal kernels, zero biases, unit WN scales.

    Same distribution as the modules' own initializers, drawn as ONE normal vector sliced per parameter:
    XLA compiles one random-number kernel instead of one per parameter, which makes initializing a deep
    model on CPU take well under a second instead of tens of seconds.
    """
    shapes = jax.eval_shape(lambda k: model.init(k, x, label), key)["params"]
    leaves, treedef = jax.tree_util.tree_flatten_with_path(shapes)
    sizes = [int(np.prod(leaf.shape)) for _, leaf in leaves]

    @jax.jit
    def make(key):
        z = jax.random.normal(key, (sum(sizes),), jnp.float32)
        out, start = [], 0
        for (path, leaf), size in zip(leaves, sizes):
            name = getattr(path[-1], "key", str(path[-1]))
            if name == "bias":
                out.append(jnp.zeros(leaf.shape, leaf.dtype))
            elif name == "scale":
                out.append(jnp.ones(leaf.shape, leaf.dtype))
            else:
                fan_in = int(np.prod(leaf.shape[:-1])) if len(leaf.shape) > 1 else 1
                out.append((z[start:start + size] / np.sqrt(fan_in)).reshape(leaf.shape).astype(leaf.dtype))
            start += size
        return jax.tree_util.tree_unflatten(treedef, out)

    return make(key)
