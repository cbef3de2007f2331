"""Class-conditional DDPM on digits with classifier-free guidance (Ho & Salimans 2021).

The U-Net of diffusion_digits.py with a learned class embedding; during training the label is replaced by the
null class with probability p_uncond = 0.1, so the same network models p(x | y) and p(x). Sample grids use
guidance weight w = guidance_scale (eps~ = (1 + w) eps(x, y) - w eps(x, null)) with class i % 10 in position i.
The test NLL bound is evaluated with the null label, i.e. it bounds -log p(x) (comparable with the
unconditional model).

Command:
    python -m experiments.run --config=experiments/configs/diffusion_digits_cond.py \
        --workdir=/tmp/diffusion_digits_cond
"""
from experiments.configs import diffusion_digits


def get_config():
    c = diffusion_digits.get_config()
    c.model.conditional = True
    c.model.p_uncond = 0.1
    c.model.guidance_scale = 1.0
    return c
