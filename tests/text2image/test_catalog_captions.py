"""The text-to-image experiments run unchanged on a 'captions:' catalog dataset made in the test (its vocabulary
size taken from caption_tokens, no tags: the joint embedding's negatives are the images of the other label)."""
import jax
import ml_collections
import numpy as np

from gen_jax import data as data_lib
from gen_jax.core import steps as steps_lib
from gen_jax.core.config import base_config
from gen_jax.core.experiment import get_experiment_class
from gen_jax.data import registry
from tests.data.test_catalog_captions import VOCAB, make_birds

NAME = "captions:birds?feature=captions&max_tokens=12"


def test_gan_cls_trains_a_step_on_a_catalog_caption_set(tmp_path):
    registry._resolve_cached.cache_clear()
    data_dir, _ = make_birds(tmp_path)
    c = base_config()
    c.experiment, c.dataset, c.data_dir = "text2image", NAME, data_dir
    c.optim.learning_rate, c.optim.b1 = 2e-4, 0.5
    c.model = ml_collections.ConfigDict({"latent_dim": 4, "g_features": 4, "d_features": 4, "variant": "gan_cls",
                                         "proj_dim": 4, "d_norm": "layer"})
    c.text_encoder = ml_collections.ConfigDict({"steps": 2, "batch_size": 4, "word_dim": 4, "conv_features": 4,
                                                "hidden": 4, "embed_dim": 4, "image_features": (4,),
                                                "path": str(tmp_path / "enc.msgpack")})
    info = data_lib.dataset_info(NAME, data_dir=data_dir)
    exp = get_experiment_class("text2image")(c, info)
    assert exp.encoder.settings["dataset"] == NAME
    assert exp.encoder.module.vocab_size == len(VOCAB)             # from caption_tokens' num_classes
    batch = next(iter(data_lib.make_loader(NAME, "train", batch_size=4, data_dir=data_dir, seed=0,
                                           features=exp.inputs()["train"].features)))
    assert batch["caption_tokens"].shape == (4, 2, 12)
    state = exp.init_state(jax.random.PRNGKey(0), batch)
    state, metrics = jax.jit(steps_lib.wrap_train_step(exp.train_step))(state, batch)
    metrics = jax.device_get(metrics)
    assert int(state.step) == 1
    assert all(np.isfinite(float(metrics[k])) for k in ("d_loss", "g_loss", "wrong_logit"))
    # no tags: the joint embedding's groups are the class labels (pairs of one label are not negatives)
    from gen_jax.text2image import encoder

    groups = np.asarray(encoder._arrays(NAME, "train", data_dir)[3])
    labels = data_lib.load_arrays(NAME, "train", data_dir=data_dir, features=("label",))["label"]
    np.testing.assert_array_equal(groups, labels[:, None])
    # the grids' captions are written with the dataset's own vocabulary (test-only 'green' is <unk>)
    assert exp.grid_captions() == ["a <unk> bird .", "<unk> <unk> <unk> <unk> red", "blue"]
    # a second experiment restores the saved encoder (same vocabulary, same params)
    again = get_experiment_class("text2image")(c, info)
    jax.tree.map(np.testing.assert_array_equal, again.encoder.params, exp.encoder.params)
    registry._resolve_cached.cache_clear()
