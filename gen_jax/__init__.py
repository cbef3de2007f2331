"""gen_jax: generative models in JAX/Flax, one package per family on one shared engine."""

__version__ = "0.1.0"
