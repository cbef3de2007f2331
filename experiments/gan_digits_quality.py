"""Sample quality of a digits GAN: Frechet distance, KID and class coverage in the digits classifier's features.

    python -m experiments.gan_digits_quality --config=experiments/configs/gan_dcgan_digits.py \
        --workdir=/tmp/gen_jax/gan_dcgan_digits
    python -m experiments.gan_digits_quality --config=experiments/configs/gan_cgan_digits.py \
        --workdir=/tmp/gen_jax/gan_cgan_digits

It trains (or resumes, or skips when the workdir's run is complete) with the engine, restores the final
state, draws --num_samples samples (a conditional GAN: the same number per class) with the generator's EMA
params when config.ema_decay > 0, and compares them with the 360 test digits in the 128-d feature space of
`gen_jax.metrics.digits_classifier` (trained here by the library, seed 0). Also printed, for scale: the train
split against the test split (real data), and uniform noise. Class coverage: the share of each class among
generated samples by the classifier's argmax; for a conditional GAN also the fraction whose predicted class
is the class asked for. Results are appended to <workdir>/quality.json.
"""
from __future__ import annotations

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file("config", None, "GAN config file.", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (trained first if needed).")
_NUM = flags.DEFINE_integer("num_samples", 1000, "Generated samples to score.")
_REFS = flags.DEFINE_bool("references", True, "Also score the train split and uniform noise.")


def main(argv):
    del argv
    from gen_jax.core import loop
    from gen_jax.data import load_arrays
    from gen_jax.data import preprocess as pp
    from gen_jax.metrics import sample_quality as sq
    from gen_jax.metrics.digits_classifier import DigitsClassifier, class_coverage

    config, workdir = _CONFIG.value, _WORKDIR.value
    if config.dataset != "digits":
        raise app.UsageError(f"this script scores digits GANs; the config trains on {config.dataset!r}")
    os.makedirs(workdir, exist_ok=True)
    loop.train_and_evaluate(config, workdir)
    trainer = loop.Trainer(config, workdir, devices=jax.devices()[:1])
    state = trainer.restore_or_init()
    trainer.close()
    gan = trainer.experiment.gan
    n = _NUM.value
    key = jax.random.PRNGKey(2024)
    z = gan.sample_latent(key, n)
    y = jnp.arange(n) % gan.num_classes if gan.num_classes else None
    fake = np.asarray(gan.to_images01(gan.sample(state, z, y)))
    clf = DigitsClassifier.train(seed=0, data_dir=config.data_dir)
    test = np.asarray(pp.scale01(load_arrays("digits", "test", data_dir=config.data_dir)["x"], 17))
    kid = dict(num_subsets=100, subset_size=300)
    result = {"step": int(state.step), "classifier_test_accuracy": clf.accuracy_on_test(), "num_samples": n}
    result["generated"] = sq.evaluate_samples(clf.features, test, fake, **kid)
    pred = np.asarray(clf.predict(fake))
    result["generated"]["class_coverage"] = class_coverage(pred, 10)
    if y is not None:
        result["generated"]["label_accuracy"] = float(np.mean(pred == np.asarray(y)))
    if _REFS.value:
        train = np.asarray(pp.scale01(load_arrays("digits", "train", data_dir=config.data_dir)["x"], 17))
        result["train_split"] = sq.evaluate_samples(clf.features, test, train, **kid)
        noise = np.random.default_rng(0).uniform(size=(n, 8, 8, 1)).astype(np.float32)
        result["uniform_noise"] = sq.evaluate_samples(clf.features, test, noise, **kid)
    print(json.dumps(result, indent=1))
    with open(os.path.join(workdir, "quality.json"), "a") as f:
        f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    flags.mark_flags_as_required(["config", "workdir"])
    app.run(main)
