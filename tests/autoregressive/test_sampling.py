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


@pytest.mark.parametrize("case", ["pixelcnn_rgb", "gated_conditional"])
def test_cached_sampler_gives_exactly_the_naive_samples(case):
    if case == "pixelcnn_rgb":
        K, shape = 4, (4, 5, 3)
        model = models.PixelCNN(num_levels=K, data_channels=3, features=6, num_blocks=2, head_features=12)
        labels = None
    else:
        K, shape = 5, (5, 6, 1)
        model = models.GatedPixelCNN(num_levels=K, features=8, num_layers=3, head_features=8, num_classes=3)
        labels = jnp.array([0, 1, 2, 1])
    params = _params(model, shape, labels)
    n = 4
    key = jax.random.PRNGKey(42)
    naive = sampling.sample(model, params, key, n, shape, K, labels=labels)
    cached = sampling.sample(model, params, key, n, shape, K, labels=labels, cached=True)
    np.testing.assert_array_equal(naive, cached)
    assert len(np.unique(np.asarray(naive))) == K           # a non-degenerate sample
    # Completion: keep the top two rows of `naive`'s images, redraw the rest with another key.
    key2 = jax.random.PRNGKey(7)
    comp_n = sampling.sample(model, params, key2, n, shape, K, labels=labels, x_init=naive, start_row=2)
    comp_c = sampling.sample(model, params, key2, n, shape, K, labels=labels, x_init=naive, start_row=2,
                             cached=True)
    np.testing.assert_array_equal(comp_n, comp_c)
    np.testing.assert_array_equal(comp_n[:, :2], naive[:, :2])
    assert np.any(np.asarray(comp_n[:, 2:]) != np.asarray(naive[:, 2:]))


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
