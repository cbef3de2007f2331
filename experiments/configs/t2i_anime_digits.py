"""The anime-character GAN (Jin et al. 2017) on the tags of captioned_digits (8x8), with and without DRAGAN:
t2i_anime_mnist5k's model at the budget this CPU affords.

Command:
    python -m experiments.run --config=experiments/configs/t2i_anime_digits.py --workdir=/tmp/gen_jax/t2i_digits_anime
    python -m experiments.run --config=experiments/configs/t2i_anime_digits.py --workdir=/tmp/gen_jax/t2i_digits_anime_nodragan --config.model.dragan_weight=0
"""
from experiments.configs import t2i_anime_mnist5k


def get_config():
    c = t2i_anime_mnist5k.get_config()
    c.dataset = "captioned_digits"
    c.batch_size = 64
    c.eval_batch_size = 120
    c.num_train_steps = 300
    c.sample_every = 500
    c.checkpoint_every = 500
    c.evals.attributes.extractor = "classifier:captioned_digits"
    c.evals.attributes.classifier_cache = "/tmp/gen_jax/classifier_captioned_digits.msgpack"
    return c
