"""The one entry point: train (and evaluate) any experiment from its config file.

    python -m experiments.run --config=experiments/configs/vae_digits.py --workdir=/tmp/vae_digits
    python -m experiments.run --config=experiments/configs/vae_digits.py --workdir=/tmp/vae_digits \
        --config.batch_size=32 --config.num_train_steps=500

Re-running with the same --workdir resumes from its latest checkpoint. `--mode=eval` restores the latest
checkpoint and evaluates it on the test split (overrides such as --config.model.eval_iwae_samples=5000
apply), printing the metrics and appending them to metrics.jsonl with split "eval". With
--config.select_best=METRIC (and --config.validation_split=...) both modes report the best state by that
validation metric instead of the last one.
"""
from __future__ import annotations

import json
import os

from absl import app, flags, logging
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file("config", None, "Path to an experiment config file.", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics and samples.")
_MODE = flags.DEFINE_enum("mode", "train", ["train", "eval"], "Train (resuming if possible) or only evaluate.")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.set_verbosity(logging.WARNING)  # Orbax logs every checkpoint step at INFO
    from gen_jax.core import loop

    config, workdir = _CONFIG.value, _WORKDIR.value
    if _MODE.value == "train":
        result = loop.train_and_evaluate(config, workdir)
    else:
        result = loop.evaluate_checkpoint(config, workdir)
    print(json.dumps({k: round(v, 4) for k, v in result.items()}))


if __name__ == "__main__":
    flags.mark_flags_as_required(["config", "workdir"])
    app.run(main)
