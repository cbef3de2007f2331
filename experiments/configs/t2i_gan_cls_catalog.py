"""GAN-INT-CLS (Reed et al. 2016b) on a TFDS catalog dataset with captions of your own preparing (e.g. CUB-200
or Oxford-102 flowers with Reed et al.'s captions, prepared in array_record format), through the
``captions:`` dataset names of `gen_jax.data.catalog_captions`: the caption text is tokenized over a
vocabulary built from the train split's captions (saved under DIR/gen_jax_captions/), served as
caption_tokens [num_captions, max_tokens]; the text encoder's vocabulary size is that feature's num_classes.

Command (name the dataset, its caption feature and the data_dir; the image must be square and of a fixed
shape, e.g. 32x32 or 64x64: a catalog image of variable size, as coco_captions', is skipped by the catalog
reader; the text encoder is trained on first use and saved to
config.text_encoder.path, which must differ per dataset: its settings name the dataset):
    python -m experiments.run --config=experiments/configs/t2i_gan_cls_catalog.py --workdir=/tmp/gen_jax/t2i_birds \
        --config.data_dir=DIR --config.dataset='captions:cub_captions?feature=caption&max_tokens=32&min_count=2'
Expected: sample grids per_caption / caption_interpolation in workdir/samples (rows = the test split's first
captions, `TextToImageGAN.grid_captions()`) that follow their captions as far as this budget allows; no figure has been measured
on a real catalog set in this library (none can be downloaded here). The evaluation is the default split mean
of D's logits; the caption_attributes evaluator is for the captioned digits only.

Scaled from the paper by config only as t2i_gan_cls_mnist5k.py: DCGAN widths 32, z 100, phi(t) compressed to
128, Adam(2e-4, beta1 0.5), batch 32.
"""
import ml_collections

from gen_jax.core.config import base_config


def get_config():
    c = base_config()
    c.experiment = "text2image"
    c.dataset = "captions:name_your_catalog_dataset?feature=caption"   # set with --config.dataset
    c.batch_size = 32
    c.eval_batch_size = 100
    c.num_train_steps = 2000
    c.log_every = 100
    c.eval_every = 0
    c.sample_every = 500
    c.checkpoint_every = 500
    c.optim.learning_rate = 2e-4
    c.optim.b1 = 0.5
    c.optim.b2 = 0.999
    c.model = ml_collections.ConfigDict(dict(
        variant="gan_int_cls", int_beta=0.5, latent_dim=100, g_features=32, d_features=32, d_norm="batch",
        proj_dim=128, g_steps=1, standardize_embedding=True))
    c.text_encoder = ml_collections.ConfigDict(dict(
        path="/tmp/gen_jax/t2i_text_encoder_catalog.msgpack", steps=1500, batch_size=64, learning_rate=1e-3,
        seed=0, margin=1.0, word_dim=32, conv_features=64, hidden=64, embed_dim=64, image_features=(32, 64)))
    return c
