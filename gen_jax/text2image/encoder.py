"""The text encoder's own training stage: Reed et al. 2016a's joint embedding, trained by the library.

    enc = text_encoder(dict(dataset="captioned_mnist5k", steps=1500), path="/tmp/t2i_text_encoder.msgpack")
    phi = enc.embed(tokens)                   # [B, L] int tokens (`gen_jax.data.captioned.tokenize`) -> [B, E]

`train_text_encoder` fits a `TextEncoder` (word-CNN-RNN) and an `ImageEncoder` jointly with the symmetric
structured hinge (`losses.joint_embedding_loss`) on (image, one of its captions drawn at random) pairs of the
train split; two pairs whose images have the same attribute set (identical `tags`) are not negatives of each
other. Minibatch Adam inside one `lax.scan`: deterministic for its settings. `text_encoder(settings, path)` is
what the GAN configs call (`config.text_encoder`): it loads the params saved at `path` when they were trained
with the same settings (a file of other settings is an error naming the differing settings), else trains
them and saves them there; without a path it trains in the process (cached per settings). The GANs keep the
encoder frozen, as Reed et al. 2016b do (its params are copied into the train state's `extra`, so a
checkpoint is self-contained).

Tokenisation is the dataset's: `captioned.tokenize` (word-level over the 39-word vocabulary) for the captioned
digits, `gen_jax.data.catalog_captions` (a vocabulary of the train split's words) for a 'captions:' catalog
dataset; the vocabulary size is the num_classes of the `caption_tokens` feature. The pairs that are not
negatives of each other share their `tags`, else their `label`, else only an image with itself.
`retrieval_accuracy` scores the joint embedding on a split (for each caption, is the best-scoring image of the
split one whose attributes the caption states?); `phrasing_accuracy` scores the text encoder alone: is the
nearest train caption (cosine) of each held-out test phrasing one that states the same attributes? Both from
the command line:

    python -m gen_jax.text2image.encoder --path=/tmp/gen_jax/t2i_text_encoder_mnist5k.msgpack
"""
from __future__ import annotations

import dataclasses
import functools
import json
import os

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax

from gen_jax.text2image import losses
from gen_jax.text2image.models import ImageEncoder, TextEncoder

DEFAULTS = dict(dataset="captioned_mnist5k", steps=1500, batch_size=64, learning_rate=1e-3, seed=0, margin=1.0,
                word_dim=32, conv_features=64, hidden=64, embed_dim=64, image_features=(32, 64))


def settings_of(settings=None) -> dict:
    """DEFAULTS updated with `settings` (unknown keys are an error), JSON-ready."""
    settings = dict(settings or {})
    settings.pop("path", None)
    unknown = set(settings) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"text encoder: unknown settings {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    out = dict(DEFAULTS, **settings)
    out["image_features"] = [int(f) for f in out["image_features"]]
    for k in ("steps", "batch_size", "seed", "word_dim", "conv_features", "hidden", "embed_dim"):
        out[k] = int(out[k])
    for k in ("learning_rate", "margin"):
        out[k] = float(out[k])
    return out


@dataclasses.dataclass
class TrainedTextEncoder:
    module: TextEncoder
    params: dict
    settings: dict
    losses: np.ndarray | None = None

    def embed(self, tokens):
        return self.module.apply({"params": self.params}, jnp.asarray(tokens, jnp.int32))


def _modules(s, vocab_size):
    text = TextEncoder(vocab_size=vocab_size, word_dim=s["word_dim"], conv_features=s["conv_features"],
                       hidden=s["hidden"], out_dim=s["embed_dim"])
    image = ImageEncoder(features=tuple(s["image_features"]), out_dim=s["embed_dim"])
    return text, image


def _arrays(dataset, split, data_dir):
    """(info, x in [-1, 1], caption_tokens, groups): `groups` [N, G] int; two images whose rows are equal are
    not negatives of each other in the joint embedding: the `tags` of a captioned digits dataset, else the
    class `label` (Reed et al. 2016a's class-level pairs), else each image its own group (every other image a
    negative), e.g. for a 'captions:' catalog dataset without labels."""
    from gen_jax import data as data_lib
    from gen_jax.data import preprocess as pp

    info = data_lib.dataset_info(dataset, data_dir=data_dir)
    for f in ("x", "caption_tokens"):
        if f not in info.features:
            raise ValueError(f"text encoder: dataset {dataset!r} has no feature {f!r} (a captioned dataset has "
                             f"x and caption_tokens: captioned_mnist5k, captioned_digits, or "
                             f"'captions:<catalog name>?feature=<its caption feature>')")
    group = next((g for g in ("tags", "label") if g in info.features), None)
    a = data_lib.load_arrays(dataset, split, data_dir=data_dir,
                             features=("x", "caption_tokens") + ((group,) if group else ()))
    x = pp.center_pm1(jnp.asarray(a["x"]), info.features["x"].num_levels)
    if group is None:
        groups = np.arange(len(a["x"]))[:, None]
    else:
        groups = np.asarray(a[group]).reshape(len(a["x"]), -1)
    return info, x, jnp.asarray(a["caption_tokens"], jnp.int32), jnp.asarray(groups, jnp.int32)


def train_text_encoder(settings=None, data_dir=None) -> TrainedTextEncoder:
    """Fits the joint embedding (see the module docstring) and returns the text side."""
    s = settings_of(settings)
    info, x, tokens, tags = _arrays(s["dataset"], "train", data_dir)
    vocab = info.features["caption_tokens"].num_classes
    text, image = _modules(s, vocab)
    kt, ki, kfit = jax.random.split(jax.random.PRNGKey(s["seed"]), 3)
    params = {"text": text.init(kt, tokens[:2, 0])["params"], "image": image.init(ki, x[:2])["params"]}
    tx = optax.adam(s["learning_rate"])
    n, b, ncap = x.shape[0], min(s["batch_size"], x.shape[0]), tokens.shape[1]

    def loss_fn(p, idx, cap):
        t = tokens[idx, cap]
        phi = text.apply({"params": p["text"]}, t)
        theta = image.apply({"params": p["image"]}, x[idx])
        g = tags[idx]
        negatives = jnp.any(g[:, None, :] != g[None, :, :], -1)
        return jnp.mean(losses.joint_embedding_loss(theta, phi, negatives, s["margin"]))

    @jax.jit
    def fit(params, key):
        def body(carry, k):
            p, o = carry
            k1, k2 = jax.random.split(k)
            idx = jax.random.choice(k1, n, (b,), replace=False)
            cap = jax.random.randint(k2, (b,), 0, ncap)
            loss, g = jax.value_and_grad(loss_fn)(p, idx, cap)
            u, o = tx.update(g, o, p)
            return (optax.apply_updates(p, u), o), loss

        (p, _), hist = jax.lax.scan(body, (params, tx.init(params)), jax.random.split(key, s["steps"]))
        return p, hist

    params, hist = fit(params, kfit)
    enc = TrainedTextEncoder(text, params["text"], s, np.asarray(hist))
    enc.image_module, enc.image_params = image, params["image"]
    return enc


def save(enc: TrainedTextEncoder, path: str) -> None:
    """The text encoder's params (msgpack) and settings (JSON sidecar `<path>.json`), written atomically."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    blob = flax.serialization.msgpack_serialize(jax.device_get(enc.params))
    for target, data, mode in ((path, blob, "wb"), (path + ".json", json.dumps(enc.settings, indent=1), "w")):
        tmp = f"{target}.tmp-{os.getpid()}"
        with open(tmp, mode) as f:
            f.write(data)
        os.replace(tmp, target)


def load(path: str, settings=None, data_dir=None) -> TrainedTextEncoder:
    """The encoder saved at `path`; with `settings`, checks that it was trained with them."""
    with open(path + ".json") as f:
        stored = json.load(f)
    if settings is not None:
        want = settings_of(settings)
        diff = {k: (stored.get(k), want[k]) for k in want if stored.get(k) != want[k]}
        if diff:
            raise ValueError(f"the text encoder at {path} was trained with other settings "
                             f"(setting: stored, asked): {diff}; delete it or point config.text_encoder.path "
                             f"elsewhere")
    from gen_jax import data as data_lib

    vocab = data_lib.dataset_info(stored["dataset"], data_dir=data_dir).features["caption_tokens"].num_classes
    module, _ = _modules(stored, vocab)
    with open(path, "rb") as f:
        params = flax.serialization.msgpack_restore(f.read())
    return TrainedTextEncoder(module, jax.tree.map(jnp.asarray, params), stored)


@functools.lru_cache(maxsize=8)
def _cached(settings_json: str, data_dir):
    return train_text_encoder(json.loads(settings_json), data_dir)


def text_encoder(settings=None, path: str = "", data_dir=None) -> TrainedTextEncoder:
    """Loads the encoder at `path` (trained with `settings`) or trains it (and saves it there when a path is
    given). See the module docstring."""
    s = settings_of(settings)
    if path and os.path.exists(path):
        return load(path, s, data_dir)
    enc = _cached(json.dumps(s, sort_keys=True), data_dir)
    if path:
        save(enc, path)
    return enc


def retrieval_accuracy(enc: TrainedTextEncoder, image_module, image_params, split: str = "test",
                       data_dir=None) -> float:
    """Fraction of the split's captions (each image's first) whose best-scoring image of the split has exactly
    the attributes the caption states (identical tags). Chance is about the share of images with those tags."""
    _, x, tokens, tags = _arrays(enc.settings["dataset"], split, data_dir)
    phi = enc.embed(tokens[:, 0])
    theta = image_module.apply({"params": image_params}, x)
    best = jnp.argmax(phi @ theta.T, axis=1)
    return float(jnp.mean(jnp.all(tags[best] == tags, -1)))


def embedding_stats(enc: TrainedTextEncoder, dataset: str, split: str = "train", data_dir=None):
    """(mean [E], std [E]) of phi(t) over every caption of `split` of `dataset`: the fixed standardisation the
    GANs apply to the frozen embedding (std floored at 1e-6)."""
    from gen_jax import data as data_lib

    tokens = data_lib.load_arrays(dataset, split, data_dir=data_dir, features=("caption_tokens",))["caption_tokens"]
    tokens = np.asarray(tokens).reshape(-1, tokens.shape[-1])
    phi = np.concatenate([np.asarray(enc.embed(tokens[i:i + 2000])) for i in range(0, len(tokens), 2000)])
    return jnp.asarray(phi.mean(0), jnp.float32), jnp.asarray(np.maximum(phi.std(0), 1e-6), jnp.float32)


def phrasing_accuracy(enc: TrainedTextEncoder, split: str = "test", data_dir=None) -> dict:
    """For every caption of `split` (the test split: held-out phrasings), the nearest caption by cosine
    similarity among the train split's captions (all three per image): the fraction that state the same
    attributes (identical tags), and per attribute group the fraction that agree on it. Chance for 'all' is
    about the largest share of one attribute set among the train captions."""
    from gen_jax.data import captioned

    _, _, train_tokens, train_tags = _arrays(enc.settings["dataset"], "train", data_dir)
    _, _, tokens, tags = _arrays(enc.settings["dataset"], split, data_dir)
    unit = lambda e: e / jnp.maximum(jnp.linalg.norm(e, axis=-1, keepdims=True), 1e-12)
    ref = unit(jnp.concatenate([enc.embed(train_tokens[:, k]) for k in range(train_tokens.shape[1])]))
    ref_tags = jnp.concatenate([train_tags] * train_tokens.shape[1])
    out, hits = {}, []
    for k in range(tokens.shape[1]):
        best = jnp.argmax(unit(enc.embed(tokens[:, k])) @ ref.T, axis=1)
        hits.append(np.asarray(ref_tags[best]) == np.asarray(tags))
    hits = np.concatenate(hits)                                         # [N * 3, 27]
    out["all"] = float(np.mean(np.all(hits, -1)))
    offset = 0
    for group, size in (("digit", 10), ("thickness", 3), ("slant", 3), ("size", 2), ("position", 9)):
        out[group] = float(np.mean(np.all(hits[:, offset:offset + size], -1)))
        offset += size
    assert offset == len(captioned.TAG_NAMES)
    return out


def main(argv=None):
    import argparse

    p = argparse.ArgumentParser(description="Train (or load) the text encoder and print its phrasing accuracy.")
    p.add_argument("--path", default="", help="where the encoder is (or is to be) saved")
    p.add_argument("--dataset", default=DEFAULTS["dataset"])
    p.add_argument("--steps", type=int, default=DEFAULTS["steps"])
    p.add_argument("--data_dir", default=None)
    a = p.parse_args(argv)
    enc = text_encoder(dict(dataset=a.dataset, steps=a.steps), path=a.path, data_dir=a.data_dir)
    print(json.dumps({"settings": enc.settings, "test_phrasing_accuracy": phrasing_accuracy(enc, data_dir=a.data_dir)}))


if __name__ == "__main__":
    main()
