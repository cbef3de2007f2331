"""DDPM on the embedded digits (8x8, 17 grey levels): small U-Net, T = 1000 linear schedule, L_simple.

Command:
    python -m experiments.run --config=experiments/configs/diffusion_digits.py --workdir=/tmp/diffusion_digits

Sample grids from ancestral DDPM (all T = 1000 steps, sigma_t^2 = beta-tilde_t) and DDIM (50 steps, eta = 0)
are written to workdir/samples/. The test NLL bound during training is the unbiased estimate (eval_vlb_samples
random t per image); the README's figure is the full bound, every one of the T terms, from the checkpoint:
    python -m experiments.run --config=experiments/configs/diffusion_digits.py --workdir=/tmp/diffusion_digits \
        --mode=eval --config.model.eval_vlb=full

The bound uses a discretized Gaussian decoder over the 17 levels (level k at 2k/16 - 1, bins of half-width 1/16,
outer bins to +-inf), so it bounds -log P(x) of the discrete test images directly (no dequantization term).
Schedule: linear from beta_1 = 1e-3 (not DDPM's 1e-4) to beta_T = 0.02. For 8-bit images DDPM's first step has
noise std 0.01, about 2.5 bin half-widths (1/255); for 17 levels the half-width is 1/16, and with beta_1 = 1e-4
the bound is dominated by its first few KL terms (t = 1: 25 nats, t = 2: 13 nats, ~1/t after), which measure
how exactly the network snaps x0_hat onto the grid at noise levels far below the bin width. Raising beta_1
to 1e-3 (decoder std sqrt(beta~_1) = 0.022, a third of a half-width) keeps the decoder term small and removes
most of those terms (the lesson of learning the SNR end points in Kingma et al. 2021, "Variational diffusion
models"). Measured (3,000 steps, full bound, README): 3.335 bits/dim with beta_1 = 1e-4
(--config.model.beta_start=1e-4), 2.267 bits/dim with 1e-3.
"""
import ml_collections

from gen_jax.core.config import base_config


def get_config():
    c = base_config()
    c.experiment = "diffusion"
    c.dataset = "digits"
    c.batch_size = 64
    c.eval_batch_size = 120
    c.num_train_steps = 3000
    c.log_every = 100
    c.eval_every = 0            # only at the end
    c.sample_every = 0
    c.checkpoint_every = 1000
    c.num_samples = 64
    c.optim.learning_rate = 1e-3
    c.optim.schedule = "cosine"
    c.optim.warmup_steps = 100
    c.optim.num_steps = c.num_train_steps
    c.optim.grad_clip_norm = 1.0
    c.ema_decay = 0.999
    c.model = ml_collections.ConfigDict(dict(
        network="unet", ch=32, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(4,), num_heads=1,
        dropout=0.1, groups=8, conditional=False, p_uncond=0.1, guidance_scale=0.0,
        schedule="linear", num_steps=1000, parameterization="eps", loss="simple", variance="small",
        eval_vlb="estimate", eval_vlb_samples=4, clip_denoised=True, ddim_steps=50, ddim_eta=0.0,
        # beta_1 = 1e-3 instead of DDPM's 1e-4 (beta_T stays 0.02): with 17 levels the bins are 16x wider than
        # with 256, so the first steps' tiny noise only adds KL terms the network cannot make small (see the
        # module docstring). None gives the DDPM end points.
        beta_start=1e-3,
        beta_end=ml_collections.config_dict.placeholder(float)))
    return c
