"""Autoregressive models: causality measured by gradients, the blind spot, uniform-logit likelihood."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax.autoregressive import losses, models, pixelcnn_pp

K = 3  # levels: small, the outputs only need to exist


def _model(name, C, **kw):
    base = dict(num_levels=K, data_channels=C, features=12)
    if name == "pixelcnn":
        base.update(num_blocks=2, head_features=12)
    elif name == "gated_pixelcnn":
        base.update(num_layers=3, head_features=12)
    elif name == "pixelcnn_pp":
        base.update(num_mixtures=2, num_scales=1, features=8)
    else:
        base.update(num_layers=2, head_features=12)
    base.update(kw)
    return models.make_model(name, **base)


def _output_groups(name, C, P):
    """Which data channel each output feature is used for (-1: the whole pixel, logistic mixture)."""
    if name == "pixelcnn_pp":
        return -np.ones(P, int)
    return np.repeat(np.arange(C), P // C)


@pytest.mark.parametrize("name", sorted(models.MODELS))
def test_output_never_depends_on_current_or_later_subpixels(name):
    """d out(i, c) / d x(j, c') == 0 whenever (j, c') is at or after (i, c) in raster-then-channel order."""
    C, H, W = 3, 4, 4
    model = _model(name, C)
    x = jax.random.uniform(jax.random.PRNGKey(0), (H, W, C), minval=-1, maxval=1)
    params = models.init_params(model, jax.random.PRNGKey(1), x[None])
    P = jax.eval_shape(lambda p: model.apply({"params": p}, x[None]), params).shape[-1]
    proj = jax.random.normal(jax.random.PRNGKey(2), (P,))
    groups = _output_groups(name, C, P)
    # Project each pixel's outputs of one channel group to a scalar: out [H, W, C] (a random direction).
    def f(x1):
        out = model.apply({"params": params}, x1[None])[0] * proj
        if name == "pixelcnn_pp":
            return jnp.sum(out, -1, keepdims=True)
        return jnp.stack([jnp.sum(out[..., groups == g], -1) for g in range(C)], -1)
    jac = np.asarray(jax.jit(jax.jacrev(f))(x))                     # [H, W, Co, H, W, C]
    co = jac.shape[2]
    r, c, o, r2, c2, i = np.meshgrid(*(np.arange(n) for n in (H, W, co, H, W, C)), indexing="ij")
    pix, pix2 = r * W + c, r2 * W + c2
    if name == "pixelcnn_pp":   # the mixture couples channels inside the head: the net sees no part of pixel i
        forbidden = pix2 >= pix
    else:
        forbidden = (pix2 > pix) | ((pix2 == pix) & (i >= o))
    assert np.all(jac[forbidden] == 0.0)
    # ... and the model does use the past (a test that cannot pass vacuously).
    assert np.count_nonzero(jac[~forbidden]) > 0.5 * np.sum(~forbidden)


def _zero_grad_before(model, H, W, pixel):
    """Pixels before `pixel` (raster order) whose value has exactly zero effect on its outputs."""
    x = jax.random.uniform(jax.random.PRNGKey(3), (1, H, W, 1), minval=-1, maxval=1)
    params = models.init_params(model, jax.random.PRNGKey(4), x)
    r, c = pixel
    g = jax.jit(jax.grad(lambda x1: jnp.sum(model.apply({"params": params}, x1)[0, r, c] ** 2)))(x)[0, ..., 0]
    before = (np.arange(H)[:, None] * W + np.arange(W)[None, :]) < r * W + c
    return [tuple(p) for p in np.argwhere(before & (np.asarray(g) == 0.0))]


def test_pixelcnn_has_a_blind_spot_and_gated_pixelcnn_has_none():
    """van den Oord et al. 2016b, Fig. 1: stacked masked convolutions never see a wedge up and to the right.

    With a 7x7 mask-A layer and 3x3 mask-B layers, pixel (r - 1, c + 4) is invisible from (r, c) at any
    depth; the Gated PixelCNN (vertical + horizontal stacks, 5 layers) sees all 59 earlier pixels of 8x8."""
    H = W = 8
    pcnn = models.PixelCNN(num_levels=K, features=8, num_blocks=4, head_features=8)
    blind = _zero_grad_before(pcnn, H, W, (7, 3))
    assert (6, 7) in blind
    gated = models.GatedPixelCNN(num_levels=K, features=8, num_layers=5, head_features=8)
    assert _zero_grad_before(gated, H, W, (7, 3)) == []


@pytest.mark.parametrize("name", ["pixelcnn", "row_lstm"])
def test_uniform_logits_give_d_log_k(name):
    """A model whose last layer is zero outputs uniform logits: -log p(x) = D ln K for every image."""
    Kd, C, H, W = 17, 1, 6, 5
    model = models.make_model(name, num_levels=Kd, data_channels=C, features=8, head_features=8)
    x = jax.random.randint(jax.random.PRNGKey(5), (3, H, W, C), 0, Kd)
    params = models.init_params(model, jax.random.PRNGKey(6), models.scale_input(x, Kd))
    if "out2" in params:
        last = "out2"
    else:
        last = max((k for k in params if k.startswith("MaskedConv2D_")), key=lambda k: int(k.rsplit("_", 1)[1]))
    params = dict(params)
    params[last] = jax.tree_util.tree_map(jnp.zeros_like, params[last])
    nll = jax.jit(lambda p: losses.categorical_nll(model.apply({"params": p}, models.scale_input(x, Kd)), x, Kd))(
        params)
    np.testing.assert_allclose(nll, H * W * C * math.log(Kd), rtol=1e-6)


def test_bad_inputs_give_clear_errors():
    with pytest.raises(ValueError, match="unknown autoregressive model"):
        models.make_model("pixelgan", num_levels=2)
    model = models.PixelCNN(num_levels=2, data_channels=1, features=4)
    with pytest.raises(ValueError, match=r"\[N, H, W, 1\]"):
        jax.eval_shape(model.init, jax.random.PRNGKey(0), jnp.zeros((1, 4, 4, 3)))
    with pytest.raises(ValueError, match="divisible"):
        jax.eval_shape(models.PixelCNNPlusPlus(num_levels=2, num_scales=2).init, jax.random.PRNGKey(0),
                       jnp.zeros((1, 6, 6, 1)))
    with pytest.raises(ValueError, match="class-conditional"):
        jax.eval_shape(models.GatedPixelCNN(num_levels=2, num_classes=3, features=4).init,
                       jax.random.PRNGKey(0), jnp.zeros((1, 4, 4, 1)))


def test_weight_norm_output_depends_on_the_direction_of_v_only():
    """Weight normalization (Salimans & Kingma 2016): w = g v / ||v||, so rescaling v changes nothing and
    each output feature's kernel has norm g."""
    conv = pixelcnn_pp._Conv(4, (2, 3), ((1, 0), (1, 1)), 1, True)
    x = jax.random.normal(jax.random.PRNGKey(9), (1, 5, 5, 3))
    p = jax.jit(conv.init)(jax.random.PRNGKey(10), x)["params"]
    p = {**p, "scale": jnp.array([1.0, 2.0, 0.5, 3.0]), "bias": jnp.zeros(4)}
    y = conv.apply({"params": p}, x)
    y7 = conv.apply({"params": {**p, "kernel": 7.0 * p["kernel"]}}, x)
    np.testing.assert_allclose(y, y7, rtol=1e-5, atol=1e-6)
    # a one-hot input at the bottom-right tap reads one kernel entry per output: compare to g v / ||v||
    v = np.asarray(p["kernel"])
    w = v * np.asarray(p["scale"]) / np.sqrt((v ** 2).sum(axis=(0, 1, 2)))
    e = jnp.zeros((1, 1, 1, 3)).at[0, 0, 0, 1].set(1.0)
    out = conv.apply({"params": p}, e)[0, 0, 0]               # taps: row 1 (current), column 1 (centre)
    np.testing.assert_allclose(out, w[1, 1, 1], rtol=1e-5, atol=1e-6)
