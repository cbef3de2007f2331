"""The translation family on a catalog dataset by name: a prepared `cycle_gan/horse2zebra` (made in the test in
array_record format with the catalog's layout: splits trainA / trainB / testA / testB, features `image` and
`label`) feeds CycleGAN's two loaders through their split names, and one step trains both generators."""
import jax
import numpy as np

from gen_jax import data as data_lib
from gen_jax.core import steps as steps_lib
from gen_jax.translation import steps as tr
from tests.translation.test_steps import G_RESNET, two_domain_config

N = {"trainA": 6, "trainB": 5, "testA": 3, "testB": 2}


def _fake_cycle_gan(tmp_path):
    import tensorflow_datasets as tfds
    from PIL import Image

    rng = np.random.default_rng(3)
    truth = {s: rng.integers(0, 256, (n, 16, 16, 3), dtype=np.uint8) for s, n in N.items()}

    class CycleGan(tfds.core.GeneratorBasedBuilder, skip_registration=True):
        name = "cycle_gan"
        VERSION = tfds.core.Version("2.0.0")
        BUILDER_CONFIGS = [tfds.core.BuilderConfig(name="horse2zebra")]
        code_path = None

        def _info(self):
            return tfds.core.DatasetInfo(builder=self, disable_shuffling=True, features=tfds.features.FeaturesDict(
                {"image": tfds.features.Image(shape=(16, 16, 3)), "label": tfds.features.ClassLabel(num_classes=2)}))

        def _split_generators(self, dl_manager):
            return {s: self._generate_examples(s) for s in N}

        def _generate_examples(self, split):
            for i, im in enumerate(truth[split]):
                yield i, {"image": Image.fromarray(im), "label": int(split.endswith("B"))}

    data_dir = str(tmp_path / "tfds")
    CycleGan(data_dir=data_dir, config="horse2zebra", file_format="array_record").download_and_prepare()
    return data_dir, truth


def test_cyclegan_trains_on_a_catalog_set_by_its_split_names(tmp_path):
    data_dir, truth = _fake_cycle_gan(tmp_path)
    name = "cycle_gan/horse2zebra"
    info = data_lib.dataset_info(name, data_dir=data_dir)
    assert info.splits == N and info.features["x"] == data_lib.Feature.levels((16, 16, 3), 256)
    for split in N:
        np.testing.assert_array_equal(data_lib.load_arrays(name, split, data_dir=data_dir)["x"], truth[split])

    c = two_domain_config(generator=G_RESNET)
    c.dataset, c.data_dir = name, data_dir
    c.inputs.A = dict(dataset=name, split="trainA")
    c.inputs.B = dict(dataset=name, split="trainB")
    exp = tr.CycleGAN(c, info)
    loaders = {d: data_lib.make_loader(name, f"train{d}", batch_size=4, data_dir=data_dir, shuffle=False,
                                       features=("x",)) for d in "AB"}
    batch = {d: next(iter(loader)) for d, loader in loaders.items()}
    np.testing.assert_array_equal(batch["A"]["x"], truth["trainA"][:4])
    s0 = exp.init_state(jax.random.PRNGKey(0), batch)
    s1, metrics = steps_lib.run_train_steps(exp, [batch], devices=jax.devices()[:1])
    assert np.isfinite(float(metrics["g_loss"])) and {"cycle_a", "cycle_b"} <= set(metrics)
    for g in ("G_AB", "G_BA"):          # both generators moved
        before, after = s0.params["generators"][g], s1.params["generators"][g]
        assert any(not np.allclose(a, b) for a, b in zip(jax.tree.leaves(before), jax.tree.leaves(after)))
