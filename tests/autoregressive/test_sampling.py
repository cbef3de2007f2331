"""Samplers: cached == naive for the same key, completion keeps the given rows, draws follow the model."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax.autoregressive import losses, models, sampling


def _params(model, shape, label=None):
    x = jnp.zeros((2,) + shape)
    lab = None if label is None else jnp.zeros((2,), jnp.int32)
    return models.init_params(model, jax.random.PRNGKey(0), x, lab)


def _case(case):
    """(model, K, shape, labels) for the models with a cached decoder."""
    if case == "pixelcnn_rgb":
        K, shape = 4, (4, 5, 3)
        return models.PixelCNN(num_levels=K, data_channels=3, features=6, num_blocks=2, head_features=12), \
            K, shape, None
    if case == "gated_conditional":
        K, shape = 5, (5, 6, 1)
        return models.GatedPixelCNN(num_levels=K, features=8, num_layers=3, head_features=8, num_classes=3), \
            K, shape, jnp.array([0, 1, 2, 1])
    # Two stride-2 scales (4x8 -> 2x4 -> 1x2), two resnets per scale, RGB mixture head, weight norm: every
    # path of the scheduled decoder (rows and pixels at each scale, upsampling caches, shortcuts).
    K, shape = 6, (4, 8, 3)
    return models.PixelCNNPlusPlus(num_levels=K, data_channels=3, features=6, num_resnet=2, num_scales=2,
                                   weight_norm=True, num_mixtures=2), K, shape, None


CASES = ["pixelcnn_rgb", "gated_conditional", "pixelcnn_pp_two_scales"]


def _head(model):
    return dict(head=model.head, num_mixtures=model.num_mixtures)


@pytest.mark.parametrize("case", CASES)
def test_cached_decoding_reproduces_the_full_forward_pass(case):
    """Teacher forcing: decoding a fixed image pixel by pixel from the caches gives, at every pixel, the
    outputs of one full forward pass (so the caches hold exactly what the full network computes)."""
    model, K, shape, labels = _case(case)
    H, W, C = shape
    n = 4
    params = _params(model, shape, labels)
    x = models.scale_input(jax.random.randint(jax.random.PRNGKey(3), (n,) + shape, 0, K), K)
    full = model.apply({"params": params}, x, labels)

    @jax.jit
    def decode_all(x):
        _, cache = model.apply({"params": params}, jnp.zeros_like(x), labels, mutable=["cache"])
        cache = cache["cache"]
        out = jnp.zeros_like(full)

        def step(i, carry):
            out, cache = carry
            r, c = i // W, i % W
            v = {"params": params, "cache": cache}
            _, upd = model.apply(v, x[:, jnp.maximum(r - 1, 0)], r, labels, method="decode_row",
                                 mutable=["cache"])
            cache = jax.lax.cond(c == 0, lambda: upd["cache"], lambda: cache)
            v = {"params": params, "cache": cache}
            o, upd = model.apply(v, x[:, r, c], r, c, labels, method="decode_pixel", mutable=["cache"])
            v = {"params": params, "cache": upd["cache"]}
            _, upd = model.apply(v, x[:, r, c], r, c, labels, method="decode_commit", mutable=["cache"])
            return out.at[:, r, c].set(o), upd["cache"]

        return jax.lax.fori_loop(0, H * W, step, (out, cache))[0]

    np.testing.assert_allclose(decode_all(x), full, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", CASES)
def test_cached_sampler_gives_exactly_the_naive_samples(case):
    model, K, shape, labels = _case(case)
    params = _params(model, shape, labels)
    n = 4
    key = jax.random.PRNGKey(42)
    naive = sampling.sample(model, params, key, n, shape, K, labels=labels, **_head(model))
    cached = sampling.sample(model, params, key, n, shape, K, labels=labels, cached=True, **_head(model))
    np.testing.assert_array_equal(naive, cached)
    assert len(np.unique(np.asarray(naive))) == K           # a non-degenerate sample
    # Completion: keep the top rows of `naive`'s images, redraw the rest with another key. Row 1 is not a
    # row of the coarser PixelCNN++ scales, row 2 is: both schedules start right.
    key2 = jax.random.PRNGKey(7)
    for start in (1, 2):
        comp_n = sampling.sample(model, params, key2, n, shape, K, labels=labels, x_init=naive,
                                 start_row=start, **_head(model))
        comp_c = sampling.sample(model, params, key2, n, shape, K, labels=labels, x_init=naive,
                                 start_row=start, cached=True, **_head(model))
        np.testing.assert_array_equal(comp_n, comp_c)
        np.testing.assert_array_equal(comp_n[:, :start], naive[:, :start])
        assert np.any(np.asarray(comp_n[:, start:]) != np.asarray(naive[:, start:]))


def _frequencies(x, K):
    return np.bincount(np.asarray(x).ravel(), minlength=K) / x.size


def test_categorical_draws_follow_the_softmax():
    """A PixelCNN with zero weights and output bias b outputs b everywhere: pixels are iid softmax(b)."""
    K, shape = 4, (2, 2, 1)
    model = models.PixelCNN(num_levels=K, features=4, num_blocks=1, head_features=4)
    params = jax.tree_util.tree_map(jnp.zeros_like, _params(model, shape))
    bias = jnp.array([1.0, -0.5, 0.3, -2.0])
    params["out2"]["bias"] = bias
    x = sampling.sample(model, params, jax.random.PRNGKey(1), 1000, shape, K)
    p = np.asarray(jax.nn.softmax(bias))
    se = np.sqrt(p * (1 - p) / x.size)
    np.testing.assert_array_less(np.abs(_frequencies(x, K) - p), 5 * se)


def test_logistic_mixture_draws_follow_the_discretized_mixture():
    """The mixture head's sampling path (the one PixelCNN++ uses), on a cheap-to-compile PixelCNN body."""
    K, M, shape = 6, 2, (2, 2, 1)
    model = models.PixelCNN(num_levels=K, features=4, num_blocks=1, head_features=4, head="logistic_mixture",
                            num_mixtures=M)
    params = jax.tree_util.tree_map(jnp.zeros_like, _params(model, shape))
    mix = jnp.array([0.5, -0.5, -0.6, 0.4, -1.0, -1.5])            # logits, means, log-scales
    params["out2"]["bias"] = mix
    x = sampling.sample(model, params, jax.random.PRNGKey(2), 1000, shape, K, head="logistic_mixture",
                        num_mixtures=M)
    p = np.exp(np.asarray(losses.logistic_mixture_log_probs(mix.reshape(1, 6), jnp.zeros((1, 1), jnp.int32),
                                                            K, M))[0, 0])
    np.testing.assert_allclose(p.sum(), 1.0, rtol=1e-5)
    se = np.sqrt(p * (1 - p) / x.size)
    np.testing.assert_array_less(np.abs(_frequencies(x, K) - p), 5 * se + 1e-9)


def test_bad_arguments_give_clear_errors():
    model = models.PixelRNN(num_levels=2, features=4)
    params = _params(model, (3, 3, 1))
    with pytest.raises(ValueError, match="no cached decoding"):
        sampling.sample(model, params, jax.random.PRNGKey(0), 2, (3, 3, 1), 2, cached=True)
    with pytest.raises(ValueError, match="x_init"):
        sampling.sample(model, params, jax.random.PRNGKey(0), 2, (3, 3, 1), 2, start_row=1)
