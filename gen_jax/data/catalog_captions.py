"""``captions:<dataset>``: any TFDS catalog dataset with captions, served with word tokens for the text-to-image
models (`gen_jax.text2image`: GAN-CLS / GAN-INT, StackGAN).

    captions:cub2011?feature=caption&max_tokens=32
    captions:coco_captions?feature=captions/text&vocab_size=5000&min_count=5&num_captions=5

The dataset is ``<dataset>`` (a catalog dataset prepared in array_record format under the data_dir, as in
`gen_jax.data.catalog`, or an embedded one) with every one of its features, plus

* ``caption_tokens`` int32 [num_captions, max_tokens], kind 'classes' with num_classes = the vocabulary's
  size: the example's captions tokenized (below), 0 (``<pad>``) after the last token;
* ``caption_count`` int32: how many of those rows are the example's own captions. An example with fewer
  than num_captions captions is PADDED WITH REPEATS: row j holds caption ``j mod caption_count``, so that
  a caption drawn uniformly from the rows (as GAN-CLS does) is always one of the example's (earlier
  captions are drawn somewhat more often); an example with more keeps its first num_captions (the number
  dropped is logged). An example without any caption is an error naming it.

Options (after ``?``, any order; the canonical name lists them sorted):

* ``feature``: the caption feature, a text feature of the dataset by its '/'-joined name: a Text feature
  holding one caption or several joined by newlines (each non-empty line a caption, stripped), or a
  Sequence of Text (one caption per element; ``captions/text`` for a sequence of dicts as in
  coco_captions). Default: the dataset's only text feature. An unknown name is an error listing the text
  features; a feature that is not text is an error saying what it is.
* ``max_tokens`` (default 32): longer captions are truncated to their first max_tokens tokens; how many
  were, per split, is logged (a warning when any was).
* ``num_captions`` (default: the largest number of captions of a train example).
* ``vocab_size`` (default 10000): the most entries of the vocabulary, ``<pad>`` and ``<unk>`` included.
* ``min_count`` (default 1): a word enters the vocabulary only if it occurs at least this often.

Tokenization (`words`, `Vocabulary.tokenize`): the caption lower-cased, split into maximal runs of word
characters (letters, digits, underscore: Python's ``\\w``) and single punctuation characters (any other
non-space character), e.g. "A small, red bird's wing." -> a small , red bird ' s wing . Each token is its
index in the vocabulary, 1 (``<unk>``) for a token outside it.

Vocabulary (`build_vocabulary`): made from the captions of the TRAIN split only (every caption of every
train example, before truncation and padding): ``<pad>`` = 0, ``<unk>`` = 1, then the tokens that occur at
least min_count times, by descending count with ties broken alphabetically (by code point), the first
vocab_size - 2 of them. A word that occurs only in the test split is therefore ``<unk>``. No word at all
(no train caption, or none reaching min_count) is an error.

Reproducibility: the vocabulary is a function of the train split and the two options, rebuilt the same on
every resolve; it is also saved, with the SHA-256 of the train captions it was built from, beside the
prepared data (``<data_dir>/gen_jax_captions/<dataset>/vocabulary-<feature>-v<vocab_size>-m<min_count>.json``)
on first use. A later resolve whose train captions differ from the saved ones (the data changed under the
same name) is an error: token ids in a checkpoint would no longer mean the same words. Where the data_dir is
not writable the file is skipped with a warning. `vocabulary(name)` returns it (words, tokenize,
detokenize), e.g. to print the captions of a sample grid.

The tokens of a split are computed on its first use in a process (that reads every record of the split
once); the other features are served as the catalog serves them (in memory or streamed).
"""
from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import os
import re
import threading
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, urlencode

import numpy as np
from absl import logging

from gen_jax.data.errors import DataError
from gen_jax.data.features import DatasetInfo, Feature
from gen_jax.data.sources import ArraySource, Dataset

SCHEME = "captions:"
PAD, UNK = "<pad>", "<unk>"
DEFAULTS = {"max_tokens": 32, "vocab_size": 10000, "min_count": 1}
OPTIONS = ("feature", "max_tokens", "num_captions", "vocab_size", "min_count")
TOKEN_FEATURES = ("caption_tokens", "caption_count")
VOCAB_DIR = "gen_jax_captions"

_TOKEN_RE = re.compile(r"\w+|[^\w\s]")
_lock = threading.RLock()


def words(text: str) -> list[str]:
    """The tokens of one caption (see the module docstring): lower-cased word runs and punctuation characters."""
    return _TOKEN_RE.findall(str(text).lower())


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """``words[i]`` is token i: ``<pad>``, ``<unk>``, then the train words (see `build_vocabulary`)."""

    words: tuple[str, ...]
    counts: tuple[int, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "_index", {w: i for i, w in enumerate(self.words)})

    def __len__(self) -> int:
        return len(self.words)

    def ids(self, text: str) -> list[int]:
        """Every token id of `text`, untruncated (1 for a word outside the vocabulary)."""
        index = self._index  # pylint: disable=no-member
        return [index.get(w, 1) for w in words(text)]

    def tokenize(self, text: str, max_tokens: int) -> np.ndarray:
        """int32 [max_tokens]: the first max_tokens token ids of `text`, then 0 (``<pad>``)."""
        ids = self.ids(text)[:max_tokens]
        return np.asarray(ids + [0] * (max_tokens - len(ids)), np.int32)

    def detokenize(self, tokens) -> str:
        """The tokens of a row, padding dropped, joined by single spaces."""
        return " ".join(self.words[int(t)] for t in np.asarray(tokens).reshape(-1) if int(t) != 0)


def build_vocabulary(captions: Iterable[str], vocab_size: int = DEFAULTS["vocab_size"],
                     min_count: int = DEFAULTS["min_count"], dataset: str = "") -> Vocabulary:
    """``<pad>``, ``<unk>``, then the tokens of `captions` occurring >= min_count times, by descending count,
    ties alphabetical, at most vocab_size entries in all. DataError when no token qualifies."""
    if int(vocab_size) < 3:
        raise DataError(f"{dataset or 'captions'}: vocab_size must be >= 3 (<pad>, <unk> and a word), got {vocab_size}")
    if int(min_count) < 1:
        raise DataError(f"{dataset or 'captions'}: min_count must be >= 1, got {min_count}")
    counts = collections.Counter()
    n = 0
    for c in captions:
        counts.update(words(c))
        n += 1
    ranked = sorted(((w, k) for w, k in counts.items() if k >= min_count), key=lambda wk: (-wk[1], wk[0]))
    ranked = ranked[: int(vocab_size) - 2]
    if not ranked:
        most = max(counts.values()) if counts else 0
        raise DataError(
            f"{dataset or 'captions'}: the vocabulary is empty: the train split's {n} caption(s) hold "
            f"{len(counts)} distinct word(s), none occurring min_count={min_count} times (the most frequent "
            f"occurs {most} times). Lower min_count, or check the caption feature")
    return Vocabulary((PAD, UNK) + tuple(w for w, _ in ranked), (0, 0) + tuple(k for _, k in ranked))


# ------------------------------------------------------------------------------------------------ names


def parse_name(name: str) -> tuple[str, dict]:
    """'captions:cub?max_tokens=20&feature=caption' -> ('cub', {'feature': 'caption', 'max_tokens': 20}),
    integers converted, unknown options an error."""
    if not name.startswith(SCHEME):
        raise DataError(f"{name!r} is not a captions: name")
    base, _, query = name[len(SCHEME):].partition("?")
    if not base:
        raise DataError(f"{name!r}: name the captioned dataset after 'captions:', e.g. "
                        "'captions:cub2011?feature=caption'")
    if base.startswith(SCHEME):
        raise DataError(f"{name!r}: 'captions:' applies to a catalog or embedded dataset, not to another captions: name")
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True) if query else []
    except ValueError as e:
        raise DataError(f"{name!r}: options must be KEY=VALUE joined by '&' ({e})") from e
    options = {}
    for k, v in pairs:
        if k not in OPTIONS:
            raise DataError(f"{name!r}: unknown option {k!r}; captions: takes {', '.join(OPTIONS)}")
        if k in options:
            raise DataError(f"{name!r}: option {k!r} given twice")
        if k != "feature":
            try:
                v = int(v)
            except ValueError:
                raise DataError(f"{name!r}: option {k}={v!r} must be an integer") from None
            if v < 1:
                raise DataError(f"{name!r}: option {k}={v} must be >= 1")
        options[k] = v
    return base, options


def canonical(name: str, canonical_base) -> str:
    """The name with its base dataset's canonical name and its options sorted (one cache entry per meaning)."""
    base, options = parse_name(name)
    if base.startswith(("npz:", "folder:")):
        raise DataError(f"{name!r}: 'captions:' reads a catalog or embedded dataset; a file of your own can hold "
                        "'caption_tokens' itself (see gen_jax.data.user)")
    query = urlencode(sorted(options.items()), safe="/")
    return SCHEME + canonical_base(base) + (f"?{query}" if query else "")


# ---------------------------------------------------------------------------------------- caption text


def _text_features(features_dict) -> tuple[dict, dict]:
    """({name: (key path, is a sequence)} of the text leaves, {name: description} of the other leaves) of a
    TFDS FeaturesDict, nested dicts and sequences walked ('/'-joined names)."""
    import tensorflow_datasets as tfds

    text, other = {}, {}

    def leaf(f, path, seq):
        name = "/".join(path)
        dtype = np.dtype(getattr(f, "np_dtype", np.float32))
        if isinstance(f, tfds.features.Text) or dtype == object or dtype.kind in "SU":
            text[name] = (path, seq)
        else:
            other[name] = type(f).__name__ + (" (a sequence)" if seq else "")

    def walk(fd, prefix, seq):
        for k, f in fd.items():
            path = prefix + (k,)
            if isinstance(f, tfds.features.FeaturesDict):
                walk(f, path, seq)
            elif isinstance(f, tfds.features.Sequence):
                inner = f.feature
                if isinstance(inner, tfds.features.FeaturesDict):
                    walk(inner, path, True)
                else:
                    leaf(inner, path, True)
            else:
                leaf(f, path, seq)

    walk(features_dict, (), False)
    return text, other


def _pick_feature(dataset: str, asked: str | None, text: Mapping, other: Mapping) -> str:
    listing = ", ".join(sorted(text)) or "none"
    if asked is None:
        if len(text) == 1:
            return next(iter(text))
        raise DataError(f"{dataset!r}: name the caption feature (captions:{dataset}?feature=NAME); its text "
                        f"features: {listing}")
    if asked in text:
        return asked
    if asked in other or (asked == "x" and "image" in other):
        what = other.get(asked, other.get("image"))
        raise DataError(f"{dataset!r}: feature {asked!r} is not text (it is {what}), so it cannot be a caption "
                        f"feature; its text features: {listing}")
    raise DataError(f"{dataset!r} has no feature {asked!r}; its text features: {listing}")


def _split_captions(value, is_sequence: bool) -> list[str]:
    def text(v):
        return v.decode("utf-8") if isinstance(v, bytes) else str(v)

    if is_sequence:
        return [t for t in (text(v).strip() for v in np.asarray(value, object).reshape(-1)) if t]
    return [t for t in (line.strip() for line in text(value).split("\n")) if t]


class _CatalogText:
    """The caption strings of a prepared TFDS dataset's splits, read from its records (sequences included)."""

    def __init__(self, dataset: str, base, asked: str | None, data_dir: str):
        import tensorflow_datasets as tfds

        from gen_jax.data import catalog

        builder = tfds.builder_from_directory(catalog.prepared_dir(dataset, data_dir))
        self.text, self.other = _text_features(builder.info.features)
        self.feature = _pick_feature(dataset, asked, self.text, self.other)
        self._sources = base._sources  # pylint: disable=protected-access

    def split(self, split: str) -> list[list[str]]:
        path, seq = self.text[self.feature]
        source = self._sources[split]
        out = []
        for start in range(0, len(source), 1024):
            for rec in source.__getitems__(range(start, min(start + 1024, len(source)))):
                for k in path:
                    rec = rec[k]
                out.append(_split_captions(rec, seq))
        return out


class _InfoText:
    """The caption strings of a dataset's 'text' feature (an embedded dataset: one string, lines)."""

    def __init__(self, dataset: str, base: Dataset, asked: str | None, data_dir: str):
        del data_dir
        text = {k: ((k,), False) for k, f in base.info.features.items() if f.kind == "text"}
        other = {k: f"kind {f.kind!r}" for k, f in base.info.features.items() if f.kind != "text"}
        self.feature = _pick_feature(dataset, asked, text, other)
        self._base = base

    def split(self, split: str) -> list[list[str]]:
        return [_split_captions(v, False) for v in self._base.arrays(split, (self.feature,))[self.feature]]


# --------------------------------------------------------------------------------------------- dataset


def _sha(captions: list[list[str]]) -> str:
    h = hashlib.sha256()
    for caps in captions:
        h.update(json.dumps(caps, ensure_ascii=False).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def vocabulary_path(data_dir: str, base: str, feature: str, vocab_size: int, min_count: int) -> str:
    safe = lambda s: re.sub(r"[^A-Za-z0-9_.+-]", "_", s)
    return os.path.join(data_dir, VOCAB_DIR, *[safe(p) for p in base.split("/")],
                        f"vocabulary-{safe(feature)}-v{vocab_size}-m{min_count}.json")


def _saved_vocabulary(path: str, record: dict, vocab: Vocabulary, name: str) -> None:
    """Checks `vocab` against the file at `path` (same train captions), or writes it there."""
    if os.path.isfile(path):
        with open(path) as f:
            saved = json.load(f)
        if saved.get("train_captions_sha256") != record["train_captions_sha256"]:
            raise DataError(
                f"{name!r}: the vocabulary saved at {path} was built from other train captions "
                f"({saved.get('train_examples')} examples, sha256 {saved.get('train_captions_sha256', '?')[:12]}...) "
                f"than the split read now ({record['train_examples']} examples, sha256 "
                f"{record['train_captions_sha256'][:12]}...): the data changed under the same name, and token ids "
                "of models trained before would not mean the same words. Delete the file to rebuild it from the "
                "current data (and retrain), or restore the data it was built from")
        if tuple(saved.get("words", ())) != vocab.words:
            raise DataError(
                f"{name!r}: the vocabulary saved at {path} differs from the one this code builds from the same "
                "train captions (the tokenization or ranking rule changed): token ids of models trained before "
                "would not mean the same words. Delete the file to rebuild it (and retrain)")
        return
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.tmp-{os.getpid()}"
        with open(tmp, "w") as f:
            json.dump(dict(record, words=list(vocab.words), counts=list(vocab.counts)), f, ensure_ascii=False,
                      indent=0)
        os.replace(tmp, path)
        logging.info("gen_jax.data: %r: saved its vocabulary of %d entries at %s", name, len(vocab), path)
    except OSError as e:
        logging.warning("gen_jax.data: %r: could not save the vocabulary at %s (%s); it is rebuilt from the train "
                        "split on every use", name, path, e)


class _MergedSource:
    """A base source's records with per-index token arrays added."""

    def __init__(self, source, arrays):
        self._source, self._arrays = source, arrays

    def __len__(self):
        return len(self._source)

    def _add(self, rec, i):
        return dict(rec, **{k: v[i] for k, v in self._arrays.items()})

    def __getitem__(self, i):
        return self._add(self._source[i], int(i))

    def __getitems__(self, indices):
        indices = [int(i) for i in indices]
        if hasattr(self._source, "__getitems__"):
            recs = self._source.__getitems__(indices)
        else:
            recs = [self._source[i] for i in indices]
        return [self._add(r, i) for r, i in zip(recs, indices)]


class CaptionsDataset(Dataset):
    """`base` with ``caption_tokens`` and ``caption_count`` (see the module docstring)."""

    def __init__(self, name: str, base_name: str, base: Dataset, options: dict, data_dir: str):
        self._base, self._name = base, name
        for k in TOKEN_FEATURES:
            if k in base.info.features:
                raise DataError(f"{name!r}: dataset {base_name!r} has a feature {k!r} already; use it directly")
        from gen_jax.data import catalog

        reader = _CatalogText if isinstance(base, catalog.TfdsDataset) else _InfoText
        self._text = reader(base_name, base, options.get("feature"), data_dir)
        self.feature = self._text.feature
        if "train" not in base.info.splits:
            raise DataError(f"{name!r}: the vocabulary is built from the train split, and {base_name!r} has none "
                            f"(splits: {', '.join(base.info.splits)})")
        self.max_tokens = int(options.get("max_tokens", DEFAULTS["max_tokens"]))
        vocab_size = int(options.get("vocab_size", DEFAULTS["vocab_size"]))
        min_count = int(options.get("min_count", DEFAULTS["min_count"]))
        train = self._text.split("train")
        self.vocabulary = build_vocabulary((c for caps in train for c in caps), vocab_size, min_count, name)
        record = {"dataset": base_name, "version": base.info.version, "feature": self.feature,
                  "vocab_size": vocab_size, "min_count": min_count, "train_examples": len(train),
                  "train_captions_sha256": _sha(train)}
        if data_dir:
            _saved_vocabulary(vocabulary_path(data_dir, base_name, self.feature, vocab_size, min_count), record,
                              self.vocabulary, name)
        self.num_captions = int(options.get("num_captions") or max([len(c) for c in train] + [1]))
        features = dict(base.info.features)
        features["caption_tokens"] = Feature.classes(len(self.vocabulary), (self.num_captions, self.max_tokens))
        features["caption_count"] = Feature.integer((), "int32")
        self.info = DatasetInfo(name, features, dict(base.info.splits), base.info.version)
        self._tokens_cache = {"train": self._tokenize("train", train)}

    def _tokenize(self, split: str, captions: list[list[str]]) -> dict[str, np.ndarray]:
        n, c, length = len(captions), self.num_captions, self.max_tokens
        tokens = np.zeros((n, c, length), np.int32)
        count = np.zeros((n,), np.int32)
        truncated = dropped = total = 0
        for i, caps in enumerate(captions):
            if not caps:
                raise DataError(f"{self._name!r}, split {split!r}: example {i} has no caption in feature "
                                f"{self.feature!r} (every example needs at least one)")
            dropped += max(len(caps) - c, 0)
            caps = caps[:c]
            count[i] = len(caps)
            for j, text in enumerate(caps):
                ids = self.vocabulary.ids(text)
                total += 1
                truncated += len(ids) > length
                ids = ids[:length]
                tokens[i, j, :len(ids)] = ids
            for j in range(len(caps), c):       # pad with repeats
                tokens[i, j] = tokens[i, j % len(caps)]
        log = logging.warning if truncated else logging.info
        log("gen_jax.data: %r, split %r: %d of %d captions had more than max_tokens=%d tokens and were truncated",
            self._name, split, truncated, total, length)
        if dropped:
            logging.warning("gen_jax.data: %r, split %r: %d captions beyond num_captions=%d per example were dropped",
                            self._name, split, dropped, c)
        tokens.setflags(write=False)
        count.setflags(write=False)
        return {"caption_tokens": tokens, "caption_count": count}

    def _tokens(self, split: str) -> dict[str, np.ndarray]:
        with _lock:
            if split not in self._tokens_cache:
                self._tokens_cache[split] = self._tokenize(split, self._text.split(split))
            return self._tokens_cache[split]

    def _arrays(self, split):
        return {**self._base._arrays(split), **self._tokens(split)}  # pylint: disable=protected-access

    def _source(self, split, start, stop, features):
        tokens = self._tokens(split)
        mine = {k: tokens[k][start:stop] for k in features if k in TOKEN_FEATURES}
        theirs = tuple(k for k in features if k not in TOKEN_FEATURES)
        if not theirs:
            return ArraySource(mine)
        base = self._base._source(split, start, stop, theirs)  # pylint: disable=protected-access
        return _MergedSource(base, mine) if mine else base


def open_captions(name: str, data_dir: str, resolve) -> CaptionsDataset:
    """The dataset of canonical name `name` ('captions:<base>?...'); `resolve(base, data_dir)` opens the base."""
    base_name, options = parse_name(name)
    return CaptionsDataset(name, base_name, resolve(base_name, data_dir), options, data_dir)


def vocabulary(name: str, data_dir=None) -> Vocabulary:
    """The vocabulary of a 'captions:' dataset (token i is ``vocabulary(name).words[i]``)."""
    from gen_jax.data import registry

    ds = registry.resolve(name, data_dir)
    if not isinstance(ds, CaptionsDataset):
        raise DataError(f"{name!r} is not a 'captions:' dataset")
    return ds.vocabulary
