"""VAE on dynamically binarized MNIST, the setting of Burda, Grosse & Salakhutdinov (2016), Table 1.

Reference (NOT YET VERIFIED HERE: this machine has no MNIST and no network): VAE, one stochastic layer of
50 units, two deterministic layers of 200 tanh units, k = 1 training: test NLL 86.76 nats, estimated with
IWAE-5000. Prepare MNIST once on a machine with network (array_record format; see the README, "Data"):
    tfds build mnist --data_dir=$DATA --file_format=array_record
then:
    python -m experiments.run --config=experiments/configs/vae_binarized_mnist.py --workdir=/tmp/vae_bmnist \
        --config.data_dir=$DATA
    python -m experiments.run --config=experiments/configs/vae_binarized_mnist.py --workdir=/tmp/vae_bmnist \
        --config.data_dir=$DATA --mode=eval --config.model.eval_iwae_samples=5000
Burda et al. trained for 3^8 = 6,561 passes with a decaying learning rate; num_train_steps below is one
tenth of that budget and should come within a few nats; raise it to reproduce the figure.
"""
import ml_collections

from gen_jax.core.config import base_config


def get_config():
    c = base_config()
    c.experiment = "vae"
    c.dataset = "mnist"
    c.batch_size = 20 * 8   # Burda et al. used 20; 160 keeps 8 devices busy (use 20 on one device)
    c.eval_batch_size = 400
    c.num_train_steps = 250_000
    c.log_every = 500
    c.eval_every = 25_000
    c.sample_every = 25_000
    c.checkpoint_every = 5_000
    c.optim.learning_rate = 1e-3
    c.optim.b2 = 0.999
    c.optim.eps = 1e-4
    c.optim.schedule = "cosine"
    c.optim.num_steps = c.num_train_steps
    c.model = ml_collections.ConfigDict(dict(
        arch="mlp", hidden=(200, 200), activation="tanh", features=(32, 64), latent_dim=50,
        likelihood="bernoulli", binarize="dynamic", beta=1.0, conditional=False, eval_iwae_samples=100))
    c.reference = ml_collections.ConfigDict(dict(
        source="Burda et al. 2016, Table 1, VAE k=1", test_nll_nats=86.76, verified_here=False))
    return c
