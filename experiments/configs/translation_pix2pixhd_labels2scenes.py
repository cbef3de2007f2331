"""pix2pixHD (Wang et al. 2018) on labels2scenes (generated label maps of random shapes with instance ids ->
the scenes rendered with a texture per class; `gen_jax.data.labels2scenes`, the stand-in for Cityscapes' label
and instance maps -> photos). Input: the label map one-hot plus the instance boundary map. Generator: the
global generator G1 (c7s1-k, 2 downsamplings, 4 residual blocks, 2 upsamplings, c7s1-3) on the x2-downsampled
input, inside the local enhancer G2 (front end on the full 32x32 input added to G1's last features, 2
residual blocks); 3 multi-scale PatchGAN discriminators (16x16 receptive field at each scale), LSGAN loss plus
10 x the discriminator feature-matching loss; the coarse-to-fine schedule of Sec. 3.2: model.global_steps of
G1 alone at half resolution, then model.fix_global_steps of G2 with G1 fixed, then jointly. Adam(2e-4,
beta1 = 0.5). Scaled down in resolution (32x32; the paper 2048x1024), width (16 base features; the paper 64),
depth (2 downsamplings and 4 blocks; the paper 4 and 9) and training (no VGG loss, no instance-feature encoder).

Command (train; at the end the FCN-score analogue (`scene_fcn`): a per-pixel classifier that the library trains
on the REAL train scenes labels every pixel of G(label map) on the 300 test scenes: per-pixel accuracy,
per-class accuracy and mean IoU, with the same on the real test scenes as the ceiling, and L1 to the true scene):
    python -m experiments.run --config=experiments/configs/translation_pix2pixhd_labels2scenes.py \
        --workdir=/tmp/gen_jax/pix2pixhd
The global generator alone (G1 trained for all steps, scored at its half resolution upsampled x2):
    --config.model.global_steps=<num_train_steps> --config.model.fix_global_steps=0
    --config.model.eval_generator=global
Result (240 steps, commit 06c724c, 16 min of training on a loaded shared 2-core CPU; 300 test scenes, the
segmenter trained 300 steps on the real train scenes): G1 + local enhancer pixel accuracy 0.862, class accuracy
0.731, mean IoU 0.625, L1 0.126; G1 alone (240 steps, the override above, 4.5 min) 0.712, 0.404, 0.316, L1 0.111;
real test scenes 0.988, 0.977, 0.964. The coarse-to-fine generator scores far higher on the FCN-score analogue
(the paper's Table 1 ordering over pix2pix / lower resolution), while G1's blurrier upsampled output has the
lower L1 (a pixel distance favours the blur). (With eval_generator=global the split_mean `l1` is still the full
generator's, here with an untrained local enhancer; the scene_fcn `l1` is the scored generator's.)
"""
import ml_collections

from gen_jax.core.config import base_config


def get_config():
    c = base_config()
    c.experiment = "pix2pixhd"
    c.dataset = "labels2scenes"
    c.batch_size = 16
    c.eval_batch_size = 100
    c.num_train_steps = 240
    c.log_every = 100
    c.eval_every = 0
    c.sample_every = 240
    c.checkpoint_every = 240
    c.num_samples = 8
    c.optim.learning_rate = 2e-4
    c.optim.b1 = 0.5
    c.model = ml_collections.ConfigDict(dict(
        label="label", instance="instance", target="x", feature_matching_weight=10.0,
        global_steps=100, fix_global_steps=40, eval_generator="full",
        generator=dict(features=16, global_downsamples=2, global_blocks=4, local_blocks=2, norm="instance"),
        discriminator=dict(num_scales=3, features=16, receptive_field=16, max_features=64, norm="instance")))
    c.evals = ml_collections.ConfigDict({
        "test": dict(kind="split_mean", every=-1),
        "fcn": dict(kind="scene_fcn", every=-1, classifier_steps=300),
    })
    return c
