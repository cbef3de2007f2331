"""Defaults shared by every experiment config. A config file starts from `base_config()` and overrides."""
from __future__ import annotations

import ml_collections


def base_config() -> ml_collections.ConfigDict:
    """The engine's settings; family-specific settings live under `config.model` (and `config.loss`, ...)."""
    c = ml_collections.ConfigDict()
    c.experiment = ""            # registry name of the family's Experiment, e.g. 'vae', 'gan'
    c.seed = 0
    # Data.
    c.dataset = "digits"
    c.data_dir = ml_collections.config_dict.placeholder(str)   # None: $GEN_JAX_DATA_DIR or ~/tensorflow_datasets
    c.batch_size = 64            # global batch, split over all devices of all processes
    c.eval_batch_size = 256
    c.shuffle_seed = 0
    # Splits, by TFDS-style name, sliced or not ('train', 'train[:1200]', 'train[90%:]'): see
    # gen_jax.data.split_bounds. Metrics of eval_split are logged with split label 'test'.
    c.train_split = "train"
    c.eval_split = "test"
    c.validation_split = ""      # '': none; else evaluated at every eval interval too (label 'validation')
    # Model selection (early stopping): keep the state with the best validation value of this eval metric
    # (e.g. 'nll_nats', 'loss') in workdir/best, and report the eval_split metrics of that state.
    c.select_best = ""           # '': off (the last state is reported); needs validation_split
    c.select_best_mode = "min"   # 'min' | 'max'
    # Schedule.
    c.num_train_steps = 1000
    c.log_every = 50
    c.eval_every = 500           # 0: only at the end
    c.sample_every = 500         # 0: only at the end
    c.checkpoint_every = 500     # 0: only at the end
    c.keep_checkpoints = 3
    c.progress_bar = True
    # Robustness.
    c.nonfinite = "stop"         # 'stop': raise naming the step and metric; 'skip': keep the previous state
    c.max_consecutive_skips = 10  # nonfinite='skip': stop after more skipped steps in a row than this
    c.max_skip_fraction = 0.1     # ... or when more than this fraction of the steps run so far were skipped
    # Optimisation.
    c.optim = ml_collections.ConfigDict(dict(
        name="adam", learning_rate=1e-3, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0,
        grad_clip_norm=0.0, warmup_steps=0, schedule="constant", num_steps=0))
    c.ema_decay = 0.0            # 0: no EMA
    # Mixed precision: the compute dtype of activations ('float32' | 'bfloat16'); parameters and optimizer
    # state stay float32 (gen_jax.core.precision).
    c.dtype = "float32"
    # Model: family-specific.
    c.model = ml_collections.ConfigDict()
    # Evaluation and sampling.
    c.num_samples = 64           # images in each sample grid
    # Optional (see gen_jax.core.evaluators / gen_jax.core.experiment), as ConfigDicts keyed by name:
    #   c.evals = {prefix: {kind, every, dataset, split, ...}}   (default: split_mean 'test' [+ 'validation'])
    #   c.inputs = {loader: {dataset, split, batch_size, seed}}   (default: one loader of c.dataset)
    # Distributed: 'auto' initialises jax.distributed when the environment describes several processes.
    c.distributed = "auto"       # 'auto' | 'on' | 'off'
    return c
