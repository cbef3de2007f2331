"""StackGAN (Zhang et al. 2017) on captioned_mnist5k: Stage-I at 14x14 (2x2 averages of the real images),
Stage-II refining to 28x28, both conditioned on the frozen text encoder's phi(t) through their own
conditioning augmentation, trained in the paper's two stages within one run: Stage-I for
model.stage1_steps steps, then Stage-II with Stage-I frozen.

Command (the text encoder of t2i_gan_cls_mnist5k is loaded from its path, or trained there; at the end two
`caption_attributes` evaluators score the 1,000 held-out test captions' images of Stage-I, upsampled
bilinearly to 28x28, and of Stage-II: the paper's claim is that Stage-II improves on Stage-I at the higher
resolution; grids of both stages go to workdir/samples):
    python -m experiments.run --config=experiments/configs/t2i_stackgan_mnist5k.py --workdir=/tmp/gen_jax/t2i_stackgan

Scaled from the paper by config only: widths 32 (the paper: Ng = 128-d c, 64x64 -> 256x256, 2 residual
blocks in Stage-II: kept), c_dim 128 as in the paper, KL weight 2 / c_dim on the summed KL (= the released
code's coefficient 2 on the per-dimension mean), Adam(2e-4, beta1 0.5), batch 32 (the paper: 64), 400 +
400 steps (the paper: 600 + 600 epochs).
"""
import ml_collections

from experiments.configs import t2i_gan_cls_mnist5k


def get_config():
    c = t2i_gan_cls_mnist5k.get_config()
    c.experiment = "stackgan"
    c.model = ml_collections.ConfigDict(dict(
        latent_dim=100, g_features=32, d_features=32, d_norm="batch", proj_dim=128, c_dim=128, kl_weight=0.0,
        num_blocks=2, stage1_steps=400, finetune_stage1=False, standardize_embedding=True))
    stage2 = dict(c.evals.attributes)
    c.evals = ml_collections.ConfigDict({
        "stage1": dict(stage2, sample_kwargs=dict(stage=1)),
        "stage2": dict(stage2, sample_kwargs=dict(stage=2)),
    })
    return c
