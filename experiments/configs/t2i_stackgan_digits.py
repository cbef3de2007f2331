"""StackGAN (Zhang et al. 2017) on captioned_digits: Stage-I at 4x4, Stage-II refining to 8x8, 200 + 200 steps:
t2i_stackgan_mnist5k's model at the budget this CPU affords.

Command:
    python -m experiments.run --config=experiments/configs/t2i_stackgan_digits.py --workdir=/tmp/gen_jax/t2i_digits_stackgan
"""
from experiments.configs import t2i_stackgan_mnist5k


def get_config():
    c = t2i_stackgan_mnist5k.get_config()
    c.dataset = "captioned_digits"
    c.batch_size = 64
    c.eval_batch_size = 120
    c.num_train_steps = 400
    c.model.stage1_steps = 200
    c.sample_every = 500
    c.checkpoint_every = 500
    for name in ("stage1", "stage2"):
        c.evals[name].extractor = "classifier:captioned_digits"
        c.evals[name].classifier_cache = "/tmp/gen_jax/classifier_captioned_digits.msgpack"
    return c
