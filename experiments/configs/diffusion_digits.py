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
Expected: see the diffusion section of the README (measured figures and the command that produced them).
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
        # None: the DDPM end points (1e-4, 0.02 for T = 1000); set to override the linear schedule's ends.
        beta_start=ml_collections.config_dict.placeholder(float),
        beta_end=ml_collections.config_dict.placeholder(float)))
    return c
