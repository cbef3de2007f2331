"""PG2 (Ma et al. 2017, Pose Guided Person Image Generation) on `posed_figures`: stage I (G1, a U-Net from the
condition image and the target pose's 11 Gaussian heat maps, pose-mask L1) for model.stage1_steps steps, then
stage II (G2's difference map added to G1's output, a 16x16 PatchGAN on (condition, image) pairs, G1 fixed).

Command:
    nice -n 10 python -m experiments.run --config=experiments/configs/ganzoo_pg2_figures.py \
        --workdir=/tmp/gen_jax/ganzoo_pg2
Result: see RESULT below (filled in from the run's metrics.jsonl, split 'pose' = the `pose_transfer` evaluator
on the 400 test pairs of 200 persons never seen in training).
Pose-transfer grid: workdir/samples/pose_transfer_*.png (rows: condition, target pose, stage I, stage I+II,
true target).
"""
import ml_collections

from gen_jax.core.config import base_config


def get_config():
    c = base_config()
    c.experiment = "pg2"
    c.dataset = "posed_figures"
    c.batch_size = 16
    c.eval_batch_size = 100
    c.num_train_steps = 1000
    c.log_every = 50
    c.eval_every = 1000
    c.sample_every = 1000
    c.checkpoint_every = 500
    c.optim.learning_rate = 5e-4
    c.optim.b1 = 0.5
    c.model = ml_collections.ConfigDict(dict(
        stage1_steps=600, train_g1_in_stage2=False, l1_weight=10.0, heat_sigma=1.5, mask_radius=2.5,
        generator=dict(features=16, num_downs=3, max_features=64, norm="instance"),
        discriminator=dict(receptive_field=16, features=16, norm="instance")))
    c.evals = ml_collections.ConfigDict({
        "test": dict(kind="split_mean", every=-1),
        "pose": dict(kind="pose_transfer", every=-1),
    })
    return c
