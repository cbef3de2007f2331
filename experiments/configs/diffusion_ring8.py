"""DDPM on the ring of 8 Gaussians (radius 1, sigma 0.01), MLP denoiser with a sinusoidal time embedding.

Command:
    python -m experiments.run --config=experiments/configs/diffusion_ring8.py --workdir=/tmp/diffusion_ring8

At the end its `samples_ddpm` and `samples_ddim50` evaluators draw 2,500 DDPM samples (T = 1000 steps) and 2,500
DDIM samples (50 steps, eta = 0) from the EMA parameters and report energy distance and MMD (Gaussian kernel,
bandwidth 0.1) against the held-out test split, and mode coverage (VEEGAN protocol, 3 sigma) on the mixtures.
Expected: see the diffusion section of the README.
"""
import ml_collections

from gen_jax.core.config import base_config


def get_config(dataset: str = "toy2d/ring8", data_scale: float = 1.0, plot_range: float = 1.5):
    c = base_config()
    c.experiment = "diffusion"
    c.dataset = dataset
    c.batch_size = 256
    c.eval_batch_size = 1000
    c.num_train_steps = 6000
    c.log_every = 200
    c.eval_every = 2000
    c.sample_every = 0          # only at the end
    c.checkpoint_every = 2000
    c.num_samples = 2000
    c.optim.learning_rate = 1e-3
    c.optim.schedule = "cosine"
    c.optim.warmup_steps = 100
    c.optim.num_steps = c.num_train_steps
    c.ema_decay = 0.995
    c.model = ml_collections.ConfigDict(dict(
        network="mlp", hidden=128, num_layers=3, emb_dim=64, conditional=False,
        schedule="linear", num_steps=1000, parameterization="eps", loss="simple", variance="small",
        eval_vlb="none", clip_denoised=False, data_scale=data_scale, plot_range=plot_range,
        ddim_steps=50, ddim_eta=0.0))
    points = dict(kind="samples", every=-1, num_samples=2500, batch_size=2500, mmd_bandwidth=0.1)
    c.evals = ml_collections.ConfigDict({
        "test": dict(kind="split_mean"),
        "samples_ddpm": dict(points, sample_kwargs=dict(sampler="ddpm")),
        "samples_ddim50": dict(points, sample_kwargs=dict(sampler="ddim", steps=50, eta=0.0)),
    })
    return c
