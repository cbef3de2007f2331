"""The one entry point: train, evaluate or sample any experiment from its config file.

    python -m experiments.run --config=experiments/configs/vae_digits.py --workdir=/tmp/vae_digits
    python -m experiments.run --config=experiments/configs/vae_digits.py --workdir=/tmp/vae_digits \
        --config.batch_size=32 --config.num_train_steps=500

Re-running with the same --workdir resumes from its latest checkpoint. `--mode=eval` restores the latest
checkpoint's model state and runs the config's evaluators on it (overrides such as
--config.model.eval_iwae_samples=5000 or --config.dataset=npz:FILE apply), printing the results and
appending one record per evaluator to the workdir's evaluations.jsonl (what was scored: dataset, split,
number of examples, settings, overrides). With --config.select_best=METRIC both modes
report the best state by that metric instead of the last one.

`--mode=sample --num_samples=N --out=DIR` writes N samples of the checkpoint (npz and/or PNG; see
`gen_jax.core.sampling`).

Errors are printed as one line (`ErrorClass: message`); `--traceback` (or GEN_JAX_TRACEBACK=1) shows the
whole traceback instead. An unknown config field is named with the closest existing ones.
"""
from __future__ import annotations

import difflib
import importlib.util
import json
import os
import re
import sys

from absl import app, flags, logging
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file("config", None, "Path to an experiment config file.", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics and samples.")
_MODE = flags.DEFINE_enum("mode", "train", ["train", "eval", "sample"],
                          "Train (resuming if possible), only evaluate, or write samples of the checkpoint.")
_NUM_SAMPLES = flags.DEFINE_integer("num_samples", 1000, "--mode=sample: how many samples.")
_OUT = flags.DEFINE_string("out", None, "--mode=sample: the output directory.")
_SAMPLE_SEED = flags.DEFINE_integer("sample_seed", 0, "--mode=sample: the seed of the sample keys.")
_SAMPLE_CHUNK = flags.DEFINE_integer("sample_chunk", 250, "--mode=sample: samples per call of the sample hook.")
_SAMPLE_FORMAT = flags.DEFINE_list("sample_format", ["npz"], "--mode=sample: npz and/or png.")
_SAMPLE_KWARGS = flags.DEFINE_string("sample_kwargs", "{}", "--mode=sample: JSON keyword arguments of the hook.")
_TRACEBACK = flags.DEFINE_bool("traceback", False, "Show the whole traceback of an error, not one line.")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.set_verbosity(logging.WARNING)  # Orbax logs every checkpoint step at INFO
    from gen_jax.core import loop

    config, workdir = _CONFIG.value, _WORKDIR.value
    if _MODE.value == "sample":
        from gen_jax.core import sampling

        if not _OUT.value:
            raise app.UsageError("--mode=sample needs --out=DIR")
        result = sampling.sample_checkpoint(config, workdir, _NUM_SAMPLES.value, _OUT.value, _SAMPLE_SEED.value,
                                            _SAMPLE_CHUNK.value, tuple(_SAMPLE_FORMAT.value),
                                            json.loads(_SAMPLE_KWARGS.value))
        print(json.dumps(result))
        return
    if _MODE.value == "train":
        result = loop.train_and_evaluate(config, workdir)
    else:
        overrides = [a for a in sys.argv[1:] if a.startswith("--config.")]
        result = loop.evaluate_checkpoint(config, workdir, overrides=overrides)
    print(json.dumps({k: round(v, 4) for k, v in result.items()}))


def _load_config_file(spec: str):
    path, _, arg = spec.partition(":")
    module_spec = importlib.util.spec_from_file_location("_gen_jax_config_file", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.get_config(arg) if arg else module.get_config()


def _paths(cfg, prefix=""):
    for key, value in cfg.items():
        path = f"{prefix}{key}"
        yield path
        if hasattr(value, "items"):
            yield from _paths(value, path + ".")


def unknown_fields(argv) -> list:
    """One message per `--config.<path>=...` override whose path is not a field of the config file."""
    spec = next((a.split("=", 1)[1] for a in argv if a.startswith("--config=")), None)
    if spec is None:
        return []
    try:
        cfg = _load_config_file(spec)
    except Exception:  # the real error surfaces elsewhere
        return []
    known = list(_paths(cfg))
    out = []
    for a in argv:
        m = re.match(r"^--config\.([\w.]+)(=|$)", a)
        if m and m.group(1) not in known:
            close = difflib.get_close_matches(m.group(1), known, n=3, cutoff=0.5)
            hint = f"; closest: {', '.join(close)}" if close else ""
            out.append(f"unknown config field {m.group(1)!r} in {spec}{hint}")
    return out


def _wants_traceback(argv) -> bool:
    return os.environ.get("GEN_JAX_TRACEBACK", "") not in ("", "0") or any(
        a in ("--traceback", "--traceback=true", "--traceback=True", "--traceback=1") for a in argv)


def cli(argv=None):
    """`app.run(main)`, with every error reduced to one line unless a traceback is asked for."""
    argv = list(sys.argv if argv is None else argv)
    try:
        flags.mark_flags_as_required(["config", "workdir"])
        app.run(main, argv=argv)
    except SystemExit:
        raise
    except BaseException as e:  # noqa: BLE001 - the CLI's one-line report of any failure
        if _wants_traceback(argv):
            raise
        if isinstance(e, KeyboardInterrupt):
            print("interrupted", file=sys.stderr)
            sys.exit(130)
        lines = unknown_fields(argv) if isinstance(e, AttributeError) else []
        message = "; ".join(lines) if lines else str(e).splitlines()[0] if str(e) else ""
        print(f"{type(e).__name__}: {message}" if not lines else f"ConfigError: {message}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    cli()
