"""Train the classical autoencoder on the engine, then report reconstruction error and the linear probe.

    python -m experiments.classical_autoencoder --config=experiments/configs/classical_autoencoder_mlp.py \
        --workdir=/tmp/gen_jax/classical_autoencoder_mlp

Training goes through `gen_jax.core.loop.Trainer` (checkpoints, metrics.jsonl, PNG grids in --workdir; a rerun
resumes). Then the encoder's codes of the train split feed a multinomial logistic regression whose test accuracy
is printed beside the same classifier on raw pixels.
"""
from __future__ import annotations

import json
import os

from absl import app, flags, logging
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file("config", None, "Path to an autoencoder config file.", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics and samples.")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.set_verbosity(logging.WARNING)
    import jax

    from gen_jax import data
    from gen_jax.classical import steps
    from gen_jax.core import loop

    config, workdir = _CONFIG.value, _WORKDIR.value
    os.makedirs(workdir, exist_ok=True)
    trainer = loop.Trainer(config, workdir)
    try:
        trainer.run()
        state = trainer.state
        result = trainer.evaluate(state)
    finally:
        trainer.close()
    params = jax.device_get(state.eval_params())
    train = data.load_arrays(config.dataset, "train", data_dir=config.data_dir)
    test = data.load_arrays(config.dataset, "test", data_dir=config.data_dir)
    result.update(steps.linear_probe(trainer.experiment, params, train, test))
    print(json.dumps({k: round(float(v), 4) for k, v in result.items()}))


if __name__ == "__main__":
    flags.mark_flags_as_required(["config", "workdir"])
    app.run(main)
