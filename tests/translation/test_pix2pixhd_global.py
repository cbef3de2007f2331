"""pix2pixHD's model.eval_generator='global': G1 alone on the x2-downsampled input, upsampled x2 (the ablation
of the coarse-to-fine generator), independent of the local enhancer's parameters; a bad value is named."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax.translation import pix2pixhd as hd
from tests.translation.test_pix2pixhd import hd_config, scene_batches, tiny_info


def test_global_translation_is_g1_upsampled_and_ignores_the_local_enhancer():
    exp = hd.Pix2PixHD(hd_config(eval_generator="global"), tiny_info())
    b = scene_batches(1, b=2)[0]
    state = exp.init_state(jax.random.PRNGKey(0), b)
    glob = jax.jit(exp.translate)
    out = glob(state, b)
    s = hd.label_input(b["label"], b["instance"], exp.num_classes)
    low = exp._global_module().apply({"params": state.params["global"]}, hd.downsample(s))[0]  # pylint: disable=protected-access
    assert low.shape[1:3] == (16, 16) and out.shape == (2, 32, 32, 3)
    np.testing.assert_allclose(out, hd.to01(jax.image.resize(low, (2, 32, 32, 3), method="linear")), atol=1e-6)
    moved = state.replace(params=dict(state.params, local=jax.tree.map(lambda p: p + 1.0, state.params["local"])))
    np.testing.assert_allclose(glob(moved, b), out, atol=0)
    full = jax.jit(hd.Pix2PixHD(hd_config(), tiny_info()).translate)
    assert not np.allclose(full(moved, b), full(state, b))
    assert float(jnp.max(jnp.abs(out - full(state, b)))) > 0


def test_bad_eval_generator_is_named():
    with pytest.raises(ValueError, match="eval_generator"):
        hd.Pix2PixHD(hd_config(eval_generator="local"), tiny_info())
