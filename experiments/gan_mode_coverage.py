"""Mode coverage on the 2-D ring and grid, N seeds trained as ONE compiled program (jax.vmap over seeds).

For each variant (loss, packing) the script builds the `gan` Experiment's pure two-player step
(`gen_jax.gan.steps.GAN.train_step`), wraps it exactly as the engine does (`gen_jax.core.steps.wrap_train_step`:
key = fold_in(state.rng, step), step + 1, non-finite check), vmaps it over a leading seed axis and scans it
over training steps inside `jax.jit`. Batches are drawn (with replacement, per seed) from the stored train
split. At the end each seed generates 2,500 samples and `gen_jax.metrics.mode_coverage` scores them
(Mahalanobis < 3 high quality; a mode is captured by >= 1 high-quality sample; KL of the mode histogram
of high-quality samples from uniform).

    python -m experiments.gan_mode_coverage --dataset=ring8
    python -m experiments.gan_mode_coverage --dataset=grid25
    python -m experiments.gan_mode_coverage --dataset=ring8 --variants=nonsaturating,pacgan2 --seeds=5

Published references (PacGAN, Lin et al. 2018, Table 1; 10 trials, their larger networks and longer training):
ring GAN 6.3 modes / 98.2% / KL 0.45, PacGAN2 7.9 / 95.6% / 0.07;
grid GAN 17.3 / 94.8% / 0.70, PacGAN2 23.8 / 91.3% / 0.13.
"""
from __future__ import annotations

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np

from gen_jax.core.steps import wrap_train_step
from gen_jax.gan.steps import GAN
from gen_jax.metrics.mode_coverage import mode_coverage_arrays

# variant name -> overrides of config.model (and d_steps / optimizer where the recipe differs)
VARIANTS = {
    "minimax": dict(loss="minimax"),
    "nonsaturating": dict(loss="nonsaturating"),
    "wgan_gp": dict(loss="wgan_gp", penalty="gp", gp_weight=0.1, d_steps=5),  # lambda and k of the WGAN-GP toy code
    "hinge": dict(loss="hinge"),
    "pacgan2": dict(loss="nonsaturating", pack=2),
}
BATCH_STATS = True
PUBLISHED = {  # PacGAN Table 1 (Lin et al. 2018), mean over 10 trials
    "ring8": {"GAN (PacGAN Table 1)": (6.3, 0.982, 0.45), "PacGAN2 (PacGAN Table 1)": (7.9, 0.956, 0.07)},
    "grid25": {"GAN (PacGAN Table 1)": (17.3, 0.948, 0.70), "PacGAN2 (PacGAN Table 1)": (23.8, 0.913, 0.13)},
}


def load_config(dataset):
    import importlib

    return importlib.import_module(f"experiments.configs.gan_{dataset}").get_config()


def load_train_points(dataset):
    try:
        from gen_jax.data import load_arrays

        return np.asarray(load_arrays(f"toy2d/{dataset}", "train")["x"], np.float32)
    except Exception as err:  # noqa: BLE001 - fall back to the same generator the stored split uses
        from gen_jax.data import toy2d

        print(f"(load_arrays unavailable: {type(err).__name__}: {err}; drawing the train split with "
              f"gen_jax.data.toy2d.split_rng)")
        return toy2d.sample(dataset, toy2d.split_rng(dataset, "train"), toy2d.NUM_TRAIN)[0]


def run_variant(dataset, variant, seeds, steps, batch_size, num_samples=2500, chunk=500, base_seed=0,
                overrides=None):
    from gen_jax.data import toy2d

    config = load_config(dataset)
    config.batch_size = batch_size
    config.num_train_steps = steps
    config.optim.num_steps = steps
    for k, v in VARIANTS[variant].items():
        config.model[k] = v
    if overrides:  # after the variant's own settings, so that --set can change them
        config.update_from_flattened_dict(overrides)
    data = jnp.asarray(load_train_points(dataset))
    centers, sigma = toy2d.mode_centers(dataset)
    gan = GAN(config.model, (2,), None, toy2d.NUM_CLASSES[dataset])
    step = wrap_train_step(gan.train_step, "skip")
    keys = jax.random.split(jax.random.PRNGKey(base_seed), seeds)
    states = jax.vmap(lambda k: gan.make_state(k, config))(keys)
    data_keys = jax.vmap(lambda k: jax.random.fold_in(k, 12345))(keys)

    def one(state, dkey):
        idx = jax.random.randint(jax.random.fold_in(dkey, state.step), (batch_size,), 0, data.shape[0])
        batch = {"x": data[idx], "label": jnp.zeros((batch_size,), jnp.int32)}
        return step(state, batch)

    @jax.jit
    def train_chunk(states):
        def body(s, _):
            s, m = jax.vmap(one)(s, data_keys)
            return s, m["skipped"]
        return jax.lax.scan(body, states, None, length=chunk)

    @jax.jit
    def evaluate(states, keys):
        def per_seed(state, key):
            z = gan.sample_latent(jax.random.fold_in(key, 777), num_samples)
            x = gan.sample(state, z, use_ema=False, batch_stats=BATCH_STATS)
            return mode_coverage_arrays(jnp.where(jnp.isfinite(x), x, 1e6), centers, sigma)
        return jax.vmap(per_seed)(states, keys)

    if steps % chunk:
        raise ValueError(f"--steps={steps} must be a multiple of the chunk {chunk}")
    t0 = time.time()
    skipped = 0.0
    for _ in range(steps // chunk):
        states, sk = train_chunk(states)
        skipped += float(jnp.sum(sk))
    out = jax.device_get(evaluate(states, keys))
    return dict(variant=variant, modes=out["modes"].tolist(), high_quality=out["high_quality"].tolist(),
                kl=out["kl"].tolist(), skipped_steps=skipped, seconds=time.time() - t0)


def summarize(r):
    f = lambda v, s=1.0: f"{np.mean(v) * s:.2f} ± {np.std(v) * s:.2f}"
    return f"| {r['variant']} (ours, {len(r['modes'])} seeds) | {f(r['modes'])} | {f(r['high_quality'], 100)} | {f(r['kl'])} |"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", choices=("ring8", "grid25"), default="ring8")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=0, help="0: the config's num_train_steps")
    ap.add_argument("--batch_size", type=int, default=0, help="0: the config's batch_size")
    ap.add_argument("--out", default="")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="config override, e.g. --set optim.learning_rate=1e-3 --set model.d_features=(256,256)")
    args = ap.parse_args()
    config = load_config(args.dataset)
    steps = args.steps or config.num_train_steps
    bs = args.batch_size or config.batch_size
    import ast

    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        try:
            overrides[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            overrides[key] = value
    rows = []
    print(f"{args.dataset}: {args.seeds} seeds, {steps} steps, batch {bs}, 2,500 samples per seed, "
          f"overrides {overrides}")
    for v in args.variants.split(","):
        if v not in VARIANTS:
            raise SystemExit(f"unknown variant {v!r}; known: {', '.join(VARIANTS)}")
        r = run_variant(args.dataset, v, args.seeds, steps, bs, overrides=overrides)
        rows.append(r)
        print(json.dumps(r), flush=True)
    print("\n| variant | modes (of %d) | high quality (%%) | KL |" % (8 if args.dataset == "ring8" else 25))
    print("|---|---|---|---|")
    for name, (m, hq, kl) in PUBLISHED[args.dataset].items():
        print(f"| {name} | {m} | {hq * 100:.1f} | {kl} |")
    for r in rows:
        print(summarize(r))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
