"""DDPM on CIFAR-10 with the settings of Ho et al. 2020 (Sec. 4 and Appendix B). NOT YET VERIFIED HERE.

Command (needs cifar10 prepared in array_record format under the data_dir; see gen_jax.data for the command,
and an accelerator: 800k steps of a 35.7M-parameter U-Net):
    python -m experiments.run --config=experiments/configs/diffusion_cifar10.py --workdir=/tmp/diffusion_cifar10
    python -m experiments.run --config=experiments/configs/diffusion_cifar10.py --workdir=/tmp/diffusion_cifar10 \
        --mode=eval --config.model.eval_vlb=full

Paper references (Ho et al. 2020, Table 1, unconditional CIFAR-10): the L_simple model trained here reports
FID 3.17 and Inception score 9.46 +- 0.11 (50k samples, 1000 ancestral steps), with a test NLL bound
<= 3.75 bits/dim; the model trained on the true bound L with fixed isotropic variance reports <= 3.70 bits/dim
(FID 13.51). Set model.loss='vlb' for that variant. None of these figures has been reproduced by this
codebase yet: no run of this config has been made (the library has no FID / IS evaluator on CIFAR yet).

The bound uses the discretized Gaussian decoder over K = 256 levels (bins of half-width 1/255 in [-1, 1]), as
in the paper, so bits/dim are those of the discrete 8-bit images.
"""
import ml_collections

from gen_jax.core.config import base_config

PAPER_REFERENCES = {"fid": 3.17, "inception_score": 9.46, "nll_bpd_upper_bound_L_simple": 3.75,
                    "nll_bpd_upper_bound_L": 3.70, "verified_here": False}


def get_config():
    c = base_config()
    c.experiment = "diffusion"
    c.dataset = "cifar10"
    c.batch_size = 128
    c.eval_batch_size = 256
    c.num_train_steps = 800_000
    c.log_every = 1000
    c.eval_every = 50_000
    c.sample_every = 50_000
    c.checkpoint_every = 10_000
    c.num_samples = 64
    c.optim.learning_rate = 2e-4
    c.optim.warmup_steps = 5000
    c.optim.grad_clip_norm = 1.0
    c.ema_decay = 0.9999
    c.model = ml_collections.ConfigDict(dict(
        network="unet", ch=128, ch_mult=(1, 2, 2, 2), num_res_blocks=2, attn_resolutions=(16,), num_heads=1,
        dropout=0.1, groups=32, conditional=False, p_uncond=0.1, guidance_scale=0.0,
        schedule="linear", num_steps=1000, parameterization="eps", loss="simple", variance="large",
        eval_vlb="estimate", eval_vlb_samples=1, clip_denoised=True, ddim_steps=50, ddim_eta=0.0))
    c.paper_references = ml_collections.ConfigDict(PAPER_REFERENCES)
    return c
