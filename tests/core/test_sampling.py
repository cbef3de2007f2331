"""Sample mode: deterministic for a seed, the same on 8 devices as on 1, npz and PNG output."""
import os

import jax
import numpy as np
from PIL import Image

from gen_jax.core import loop, sampling
from tests.core.test_loop import tiny_vae_config


def test_samples_are_the_same_on_8_devices_as_on_1_and_written_as_npz_and_png(tmp_path):
    workdir = str(tmp_path / "w")
    config = tiny_vae_config(num_train_steps=5, eval_every=0)
    loop.train_and_evaluate(config, workdir)
    trainer = loop.Trainer(config, workdir, mode="eval")
    state = trainer.restore_or_init()
    trainer.close()
    one = sampling.draw(trainer.experiment, state, 50, seed=3, chunk=8, devices=jax.devices()[:1], progress=False)
    eight = sampling.draw(trainer.experiment, state, 50, seed=3, chunk=8, devices=jax.devices(), progress=False)
    np.testing.assert_array_equal(one[1], np.arange(50))
    np.testing.assert_allclose(one[0], eight[0], atol=1e-6)
    other = sampling.draw(trainer.experiment, state, 50, seed=4, chunk=8, progress=False)
    assert not np.allclose(one[0], other[0])
    out = str(tmp_path / "out")
    info = sampling.sample_checkpoint(config, workdir, 20, out, seed=3, chunk=8, formats=("npz", "png"))
    assert info["step"] == 5 and info["written"] == 21
    with np.load(os.path.join(out, "samples.npz")) as f:
        np.testing.assert_allclose(f["x"], one[0][:20], atol=1e-6)
    png = np.asarray(Image.open(os.path.join(out, "000007.png")))
    np.testing.assert_array_equal(png, np.round(one[0][7, ..., 0] * 255).astype(np.uint8))
