"""Sample quality of a trained 2-D diffusion model against held-out data.

    python -m gen_jax.diffusion.sample_quality --config=experiments/configs/diffusion_ring8.py \
        --workdir=/tmp/diffusion_ring8

Restores the latest checkpoint of `workdir` (EMA parameters), draws N samples (config.sample_quality.num_samples,
2,500 as in VEEGAN/PacGAN) with ancestral DDPM (all T steps) and with DDIM (model.ddim_steps steps, eta=0), and
reports, against the first N points of the held-out test split:
  * energy_distance: V-statistic of 2 E||X-Y|| - E||X-X'|| - E||Y-Y'|| (`gen_jax.metrics.two_sample`);
  * mmd: unbiased MMD^2 with the Gaussian kernel of bandwidth config.sample_quality.mmd_bandwidth (data units);
  * for ring8 / grid25, mode coverage (`gen_jax.metrics.mode_coverage`, threshold 3 sigma): modes captured,
    fraction of high-quality samples, KL of the mode histogram from uniform.
The same figures for N training points against the same test points give the floor a perfect model reaches
(the 'data' row). Results are printed as JSON and written to workdir/sample_quality.json.
"""
from __future__ import annotations

import json
import os

import jax
import numpy as np


def evaluate(config, workdir: str, seed: int = 0) -> dict:
    from gen_jax.core.loop import Trainer
    from gen_jax.data import load_arrays, toy2d
    from gen_jax.metrics.mode_coverage import mode_coverage
    from gen_jax.metrics.two_sample import energy_distance, mmd_rbf

    sq = config.get("sample_quality", None)
    n = int(sq.num_samples) if sq is not None else 2500
    bw = float(sq.mmd_bandwidth) if sq is not None else 0.1
    trainer = Trainer(config, workdir)
    try:
        if trainer.checkpointer.latest_step() is None:
            raise FileNotFoundError(f"no checkpoint in {workdir}: train first with experiments.run")
        state = trainer.restore_or_init()
        exp = trainer.experiment
        if exp.is_image:
            raise ValueError("sample_quality is for 2-D point datasets; image datasets report the NLL bound")
        test = load_arrays(config.dataset, "test", data_dir=config.data_dir)["x"][:n]
        train = load_arrays(config.dataset, "train", data_dir=config.data_dir)["x"][:n]
        try:
            centers, sigma = toy2d.mode_centers(config.dataset)
        except ValueError:
            centers = None
        params = state.eval_params()
        key = jax.random.PRNGKey(seed)
        steps = int(config.model.get("ddim_steps", 50))
        draws = {"data": train,
                 "ddpm": exp.sample(params, jax.random.fold_in(key, 0), n, "ddpm"),
                 f"ddim{steps}": exp.sample(params, jax.random.fold_in(key, 1), n, "ddim", steps=steps, eta=0.0)}
        out = {"dataset": config.dataset, "step": int(jax.device_get(state.step)), "num_samples": n,
               "mmd_bandwidth": bw}
        for name, x in draws.items():
            x = np.asarray(jax.device_get(x), np.float32)
            row = {"energy_distance": energy_distance(x, test), "mmd": mmd_rbf(x, test, bw)}
            if centers is not None:
                row.update(mode_coverage(x, centers, sigma, threshold=3.0))
            out[name] = row
        with open(os.path.join(workdir, "sample_quality.json"), "w") as f:
            json.dump(out, f, indent=2)
        return out
    finally:
        trainer.close()


def main(argv):
    del argv
    from absl import flags, logging

    logging.set_verbosity(logging.WARNING)  # Orbax logs every restore at INFO

    result = evaluate(flags.FLAGS.config, flags.FLAGS.workdir)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    from absl import app, flags
    from ml_collections import config_flags

    config_flags.DEFINE_config_file("config", None, "Path to a diffusion config file on a 2-D dataset.")
    flags.DEFINE_string("workdir", None, "The training run's workdir (with checkpoints).")
    flags.mark_flags_as_required(["config", "workdir"])
    app.run(main)
