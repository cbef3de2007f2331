"""3DGAN (Wu et al. 2016) on the procedural voxel shapes (`voxel_shapes/16`: spheres, boxes, cylinders, tori,
cones; random sizes, rotations and centres): 3-D transposed convs from a 200-d latent (the paper's), a 3-D conv
discriminator, the adaptive rule (D's update applied only when its batch accuracy is <= 80%), Adam(beta1 0.5)
with the paper's learning rates (G 0.0025, D 1e-5), widths scaled down for 16^3 on a CPU.

Measurement (`voxel_stats`): a 3-D CNN classifier trained by the library on the train split classifies 500
generated shapes (fraction recognised with confidence > 0.9, class shares, number of classes with >= 5% of
the samples); a logistic-regression probe on the discriminator's max-pooled features of real shapes (the
paper's representation protocol, Sec. 4.2), test accuracy, against an untrained discriminator's features.

Command:
    nice -n 10 python -m experiments.run --config=experiments/configs/ganzoo_3dgan_shapes.py \
        --workdir=/tmp/gen_jax/ganzoo_3dgan
Result (seed 0, REDUCED budget: --config.num_train_steps=150 --config.batch_size=32 --config.model.g_features=8
--config.model.d_features=8 --config.evals.shapes.classifier_steps=200 --config.evals.shapes.num_samples=200;
~15 min on a loaded 2-core CPU, 3-D convs compile and run slowly there): NOT trained yet. The library's 3-D
classifier reaches 0.714 test accuracy on the real shapes; all 200 generated shapes are classified 'torus'
(class coverage 1 of 5, mode collapse); D's features give 0.466 linear-probe accuracy vs 0.488 for an
untrained D (chance 0.2). D's accuracy stays far below 80% at the paper's learning rates (D 1e-5, G 2.5e-3),
so the adaptive rule never skipped an update in this run. Renders: workdir/samples/views_*.png (depth maps along x, y, z per shape).
"""
import ml_collections

from gen_jax.core.config import base_config


def get_config():
    c = base_config()
    c.experiment = "3dgan"
    c.dataset = "voxel_shapes/16"
    c.batch_size = 64
    c.eval_batch_size = 100
    c.num_train_steps = 1000
    c.log_every = 100
    c.eval_every = 1000
    c.sample_every = 1000
    c.checkpoint_every = 500
    c.optim.learning_rate = 2.5e-3
    c.optim.b1 = 0.5
    c.d_optim = ml_collections.ConfigDict(dict(name="adam", learning_rate=1e-5, b1=0.5, b2=0.999, eps=1e-8,
                                               weight_decay=0.0, grad_clip_norm=0.0, warmup_steps=0,
                                               schedule="constant", num_steps=0))
    c.model = ml_collections.ConfigDict(dict(latent_dim=200, g_features=16, d_features=16, loss="nonsaturating",
                                             d_accuracy_threshold=0.8))
    c.evals = ml_collections.ConfigDict({
        "test": dict(kind="split_mean", every=-1),
        "shapes": dict(kind="voxel_stats", every=-1, num_samples=500, classifier_steps=300),
    })
    return c
