"""VAE train / eval / sample steps on the engine (`config.experiment = 'vae'`).

The likelihood (config.model.likelihood) fixes what the decoder models and how the test NLL is reported
under the common protocol (`gen_jax.metrics.likelihood`); `losses.Likelihood` implements them:
  'categorical': a K-way softmax per pixel over the raw levels (K = 17 for digits). Discrete: the IWAE
                 bound is an upper bound on -log P(x) of the discrete images directly.
  'bernoulli':   binary pixels, with config.model.binarize 'static' (pixel >= K/2, fixed) or 'dynamic'
                 (Bernoulli(x / (K-1)) redrawn every step). Reported in nats on the binarized data.
  'gaussian':    a diagonal Gaussian on dequantized data y = (x + u) / K in [0, 1]^D; the reported NLL adds
                 D log K, an upper bound on the discrete NLL (Theis et al. 2016).

Evaluation randomness is per example (the engine vmaps `eval_step` over examples; example i of the split gets
the key k_i = fold_in(k_eval, i), k_eval the run's eval key from config.seed), so every figure is the same for
any eval batch size and device count. Each test image is prepared ONCE per evaluation, with the key
fold_in(k_i, 0), and that one copy is scored by every metric (ELBO and IWAE alike). With the Bernoulli
likelihood, config.model.eval_binarize selects the test binarization: 'dynamic' (default for dynamic training:
one Bernoulli(x / (K-1)) draw per example and evaluation, from that key), 'fixed' (one draw per example from
fold_in(PRNGKey(FIXED_BINARIZATION_SEED), i), independent of the run: the same binary test set every time,
standing in for a stored binarization such as Larochelle's binarized MNIST) or 'static' (pixel >= K // 2).
The IWAE bound (model.eval_iwae_samples, any k; chunks of model.eval_iwae_chunk) draws its sample j with
fold_in(k_i, 1) folded with j, so it does not depend on the chunk size either.

Mixed precision: config.dtype='bfloat16' runs the encoder and decoder in bfloat16 on float32 parameters
(`gen_jax.core.precision`); the likelihoods and the KL stay float32.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gen_jax.core.experiment import Experiment, register
from gen_jax.core.precision import get_policy
from gen_jax.metrics.likelihood import bits_per_dim
from gen_jax.nn.latent import interpolate
from gen_jax.vae import losses
from gen_jax.vae.models import VAE, make_vae


FIXED_BINARIZATION_SEED = 20240  # model.eval_binarize='fixed': test example i is binarized with fold_in(PRNGKey(this), i)


@register("vae")
class VAEExperiment(Experiment):
    """Kingma & Welling's VAE (MLP or conv) with a categorical, Bernoulli or Gaussian decoder."""

    def __init__(self, config, info):
        super().__init__(config, info)
        m = config.model
        self.lik = losses.Likelihood(m.likelihood, info.num_levels, m.get("binarize", "none"))
        self.num_classes = 0
        if m.get("conditional", False):
            if not info.num_classes:
                raise ValueError(f"model.conditional=True needs a labelled dataset; {info.name!r} has no classes")
            self.num_classes = int(info.num_classes)
        self.model = make_vae(m, info.shape, self.lik.params_per_dim, self.num_classes)
        self.policy = get_policy(config)
        self.eval_binarize = m.get("eval_binarize", "") or m.get("binarize", "none")
        if self.lik.kind == "bernoulli" and self.eval_binarize not in ("static", "dynamic", "fixed", "none"):
            raise ValueError(f"model.eval_binarize must be 'static', 'dynamic' or 'fixed', got {self.eval_binarize!r}")
        self.latent_dim = int(m.latent_dim)
        self.num_dims = int(np.prod(info.shape))
        # Jitted here, once per experiment, rather than as a method jitted on a static `self`: that would keep
        # every experiment alive in jax's global caches.
        self._visualize = jax.jit(self._grids)

    # -- pieces ------------------------------------------------------------------------------------------
    def _fns(self, params, y=None):
        """encode(input) -> (mean, logvar) and decode(z) -> decoder output, closed over params (and labels)."""
        y = y if self.num_classes else None
        p, pol = self.policy.cast(params), self.policy
        encode = lambda inp: pol.output(self.model.apply({"params": p}, pol.cast(inp), y, method=VAE.encode))
        decode = lambda z: pol.output(self.model.apply({"params": p}, pol.cast(z), y, method=VAE.decode))
        return encode, decode

    def prepare_eval(self, x, rng, example_index):
        """The one prepared copy (encoder input, target) of test images that every eval metric scores."""
        if self.lik.kind != "bernoulli":
            return self.lik.prepare(x, rng)
        if self.eval_binarize == "fixed":
            from gen_jax.data import preprocess as pp

            keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.PRNGKey(FIXED_BINARIZATION_SEED), i))(example_index)
            b = jax.vmap(lambda k, xi: pp.binarize_dynamic(k, pp.scale01(xi, self.lik.num_levels)))(keys, x)
            return b, b
        return losses.Likelihood("bernoulli", self.lik.num_levels, self.eval_binarize).prepare(x, rng)

    def terms(self, params, x, rng, y=None, prepared=None, **kw):
        """Per-example ELBO terms of raw data `x` (preprocessing included, unless `prepared` gives the
        (encoder input, target) pair), and the encoder input and target."""
        r_data, r_z = jax.random.split(rng)
        inp, target = prepared if prepared is not None else self.lik.prepare(x, r_data)
        encode, decode = self._fns(params, y)
        t = losses.elbo(r_z, (inp, target), lambda xt: encode(xt[0]),
                        lambda z, xt: self.lik.log_prob(decode(z), xt[1]), beta=self.config.model.get("beta", 1.0), **kw)
        return t, inp, target

    def iwae_nll(self, params, x, rng, num_samples: int, chunk_size: int = 100, y=None, prepared=None):
        """-L_k(x) + offset: the protocol's upper bound on the test NLL in nats, per example.

        For the conditional VAE it bounds -log p(x | y)."""
        r_data, r_z = jax.random.split(rng)
        inp, target = prepared if prepared is not None else self.lik.prepare(x, r_data)
        encode, decode = self._fns(params, y)
        bound = losses.iwae_bound(r_z, (inp, target), lambda xt: encode(xt[0]),
                                  lambda z, xt: self.lik.log_prob(decode(z), xt[1]), num_samples,
                                  chunk_size=min(chunk_size, num_samples))
        return -bound + self.lik.nll_offset(self.num_dims)

    # -- engine hooks ------------------------------------------------------------------------------------
    def init_state(self, rng, batch):
        x = jnp.zeros((1,) + tuple(self.info.shape), jnp.float32)
        z = jnp.zeros((1, self.latent_dim), jnp.float32)
        params = self.model.init(rng, x, z, jnp.zeros((1,), jnp.int32))["params"]
        return self.create_state(params, rng)

    def train_step(self, state, batch, rng):
        def loss_fn(params):
            t, _, _ = self.terms(params, batch["x"], rng, batch.get("label"))
            return -jnp.mean(t.elbo), t

        (loss, t), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
        state = state.apply_gradients(grads)
        return state, dict(loss=loss, elbo=jnp.mean(t.elbo), reconstruction=jnp.mean(t.reconstruction),
                           kl=jnp.mean(t.kl), grad_norm=optax.global_norm(grads))

    def eval_step(self, state, batch, rng):
        params = state.eval_params()
        x, y = batch["x"], batch.get("label")
        index = batch.get("example_index", jnp.zeros(x.shape[:1], jnp.int32))
        prepared = self.prepare_eval(x, jax.random.fold_in(rng, 0), index)
        t, _, _ = self.terms(params, x, jax.random.fold_in(rng, 2), y, prepared=prepared)
        off = self.lik.nll_offset(self.num_dims)
        out = dict(elbo=t.elbo, reconstruction=t.reconstruction, kl=t.kl, neg_elbo_nats=-t.elbo + off)
        k = int(self.config.model.get("eval_iwae_samples", 0) or 0)
        if k:
            chunk = int(self.config.model.get("eval_iwae_chunk", 100) or 100)
            nll = self.iwae_nll(params, x, jax.random.fold_in(rng, 1), k, chunk, y=y, prepared=prepared)
            out.update(nll_nats=nll, nll_bpd=bits_per_dim(nll, self.num_dims))
        return out

    def sample(self, state, rng, num, labels=None, kind: str = "draw"):
        """Prior samples in [0, 1]: z ~ N(0, I), then x ~ p(x | z) ('draw') or E[x | z] ('mean')."""
        r_z, r_x = jax.random.split(rng)
        _, decode = self._fns(state.eval_params(), labels)
        out = decode(jax.random.normal(r_z, (num, self.latent_dim)))
        return self.lik.mean(out) if kind == "mean" else self.lik.sample(r_x, out)

    def reconstruct(self, state, batch, rng):
        """E[x | z = mean of q(z | x)] against the encoder input (both in [0, 1])."""
        inp, _ = self.lik.prepare(batch["x"], rng)
        encode, decode = self._fns(state.eval_params(), batch.get("label"))
        return {"output": self.lik.mean(decode(encode(inp)[0])), "target": inp}

    def _grids(self, params, x, y, rng):
        r_prior, r_sample, r_data, r_post, r_pp = jax.random.split(rng, 5)
        n = self.config.num_samples
        if self.num_classes:  # the conditional VAE: one row per class
            n = 10 * self.num_classes
        y_prior = jnp.arange(n) // 10
        _, decode_prior = self._fns(params, y_prior)
        z = jax.random.normal(r_prior, (n, self.latent_dim))
        out = decode_prior(z)
        encode, decode = self._fns(params, y)
        inp, _ = self.lik.prepare(x, r_data)
        mean, logvar = encode(inp)
        rec = self.lik.mean(decode(mean))
        # Posterior predictive: z ~ q(z|x), then x' ~ p(x|z); each test image beside two draws.
        zs = losses.reparameterize(r_post, mean, logvar, num_samples=2)
        pp_draws = jax.vmap(lambda zi, k: self.lik.sample(k, decode(zi)))(zs, jax.random.split(r_pp, 2))
        # Rows: linear interpolations between consecutive test encodings (labels of the row's start).
        pair_y = y[0:8:2]
        rows = jax.vmap(lambda a, b: interpolate(a, b, 8))(mean[0:8:2], mean[1:8:2])  # [4, 8, latent]
        _, decode_rows = self._fns(params, jnp.repeat(pair_y, 8))
        interp = self.lik.mean(decode_rows(rows.reshape(-1, self.latent_dim)))
        img = rec.shape[1:]
        prior_mean, prior_sample = self.lik.mean(out), self.lik.sample(r_sample, out)
        if self.num_classes:
            prior_mean, prior_sample = (a.reshape((self.num_classes, 10) + img) for a in (prior_mean, prior_sample))
        return dict(prior_mean=prior_mean, prior_sample=prior_sample,
                    # 4 rows of (test image, reconstruction) pairs; 8 rows of (test image, two draws) triples
                    reconstruction=jnp.stack([inp, rec], 1).reshape((4, -1) + img),
                    posterior_predictive=jnp.stack([inp, pp_draws[0], pp_draws[1]], 1).reshape((8, -1) + img),
                    interpolation=interp.reshape((4, 8) + img))

    def visualize(self, state, rng):
        if len(self.info.shape) != 3:
            return {}
        b = self.example_batch(16)   # the first 16 images of config.eval_split
        y = b.get("label", np.zeros(len(b["x"]), np.int32))
        return self._visualize(state.eval_params(), b["x"], y, rng)
