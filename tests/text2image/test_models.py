"""Text-to-image networks: the text encoder's padding invariance, conditioning augmentation, pixel shuffle."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax.data import captioned
from gen_jax.text2image import models as M


def test_text_encoder_embedding_is_invariant_to_padding():
    enc = M.TextEncoder(vocab_size=len(captioned.VOCABULARY), word_dim=8, conv_features=8, hidden=8, out_dim=6)
    texts = ["a small thin seven leaning right in the top left", "the digit two , large and thick , standing upright at the top"]
    short = jnp.asarray(np.stack([captioned.tokenize(t, 16) for t in texts]))
    long = jnp.asarray(np.stack([captioned.tokenize(t, 40) for t in texts]))
    params = enc.init(jax.random.PRNGKey(0), short)
    a, b = enc.apply(params, short), enc.apply(params, long)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert float(jnp.abs(a[0] - a[1]).max()) > 1e-3              # different captions, different embeddings
    # one word changed changes the embedding; word order matters (an RNN, not a bag of words)
    other = jnp.asarray(captioned.tokenize(texts[0].replace("seven", "eight"), 16))[None]
    assert float(jnp.abs(enc.apply(params, other)[0] - a[0]).max()) > 1e-4
    with pytest.raises(ValueError, match="integer ids"):
        enc.apply(params, short.astype(jnp.float32))


def test_conditioning_augmentation_samples_around_mu():
    ca = M.ConditioningAugmentation(c_dim=4)
    phi = jax.random.normal(jax.random.PRNGKey(0), (3, 10))
    params = ca.init(jax.random.PRNGKey(1), phi)
    c, mu, ls = ca.apply(params, phi, jax.random.PRNGKey(2))
    eps = jax.random.normal(jax.random.PRNGKey(2), mu.shape)
    np.testing.assert_allclose(c, mu + jnp.exp(ls) * eps, rtol=1e-6)
    c0, mu0, _ = ca.apply(params, phi)
    np.testing.assert_allclose(c0, mu0)


def test_pixel_shuffle_places_channels_as_sub_pixels():
    x = jnp.arange(2 * 2 * 3 * 8, dtype=jnp.float32).reshape(2, 2, 3, 8)   # C = 2, r = 2
    y = np.asarray(M.pixel_shuffle(x, 2))
    assert y.shape == (2, 4, 6, 2)
    for h in range(2):
        for w in range(3):
            for i in range(2):
                for j in range(2):
                    np.testing.assert_array_equal(y[:, 2 * h + i, 2 * w + j, :], np.asarray(x)[:, h, w, (2 * i + j) * 2:(2 * i + j) * 2 + 2])


def test_players_shapes_and_conditioning():
    g = M.TextConditionedGenerator(image_size=8, features=4, proj_dim=4)
    d = M.MatchingDiscriminator(image_size=8, features=4, proj_dim=4, norm="none")
    z, h = jnp.ones((2, 3)), jax.random.normal(jax.random.PRNGKey(0), (2, 5))
    gv = g.init(jax.random.PRNGKey(1), z, h, train=False)
    x = g.apply(gv, z, h, train=False)
    assert x.shape == (2, 8, 8, 1) and float(jnp.abs(x).max()) <= 1.0
    dv = d.init(jax.random.PRNGKey(2), x, h)
    s1, s2 = d.apply(dv, x, h), d.apply(dv, x, h[::-1])
    assert s1.shape == (2,) and float(jnp.abs(s1 - s2).max()) > 0      # D's score depends on the text
    sr = M.SRResNetGenerator(image_size=8, features=4, num_blocks=2, num_upsamples=2)
    sv = sr.init(jax.random.PRNGKey(3), z, jnp.zeros((2, 27)), train=False)
    assert sr.apply(sv, z, jnp.zeros((2, 27)), train=False).shape == (2, 8, 8, 1)
    td = M.TagDiscriminator(num_tags=27, features=4)
    adv, tags = td.apply(td.init(jax.random.PRNGKey(4), x), x)
    assert adv.shape == (2,) and tags.shape == (2, 27)
