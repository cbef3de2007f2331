"""`captions:<catalog name>`: caption_tokens from a catalog dataset's caption text (gen_jax.data.catalog_captions),
on a tiny TFDS catalog dataset prepared in array_record format in the test (as tests/data/test_catalog.py makes
its datasets: a GeneratorBasedBuilder, images given as PIL images so that no TensorFlow is needed)."""
import json
import os

import numpy as np
import pytest

from gen_jax import data
from gen_jax.data import catalog, catalog_captions, registry

# The train captions (newline-joined in feature 'caption', one per element in the sequence 'captions').
TRAIN = ["A red bird.\nThe red bird sings!", "a blue bird", "Red, red wings.",
         "the bird is blue and small and red and round and very very small"]
TEST = ["A green bird.", "zebra zebra zebra zebra red", "\n  blue  \n"]

# By hand, from TRAIN: red 5; and 4, bird 4; '.' 2, a 2, blue 2, small 2, the 2, very 2; '!' ',' is round sings
# wings 1 -- descending count, ties by code point ('!' < ',' < '.' < letters).
VOCAB = ("<pad>", "<unk>", "red", "and", "bird", ".", "a", "blue", "small", "the", "very",
         "!", ",", "is", "round", "sings", "wings")


def make_birds(tmp_path, train=TRAIN, test=TEST, name="birds"):
    """A prepared catalog dataset `name` with an image, a class label, a text caption feature (captions joined by
    newlines), the same captions as a Sequence of Text, and a nested text feature."""
    import tensorflow_datasets as tfds
    from PIL import Image

    f = tfds.features
    rng = np.random.default_rng(3)
    truth = {s: {"image": rng.integers(0, 256, (len(caps), 8, 8, 3), dtype=np.uint8), "caption": caps}
             for s, caps in (("train", train), ("test", test))}

    class Birds(tfds.core.GeneratorBasedBuilder, skip_registration=True):
        VERSION = tfds.core.Version("1.0.0")
        code_path = None

        def _info(self):
            return tfds.core.DatasetInfo(builder=self, disable_shuffling=True, features=f.FeaturesDict({
                "image": f.Image(shape=(8, 8, 3)), "label": f.ClassLabel(num_classes=2), "caption": f.Text(),
                "captions": f.Sequence(f.Text()), "meta": {"note": f.Text()}}))

        def _split_generators(self, dl_manager):
            return {s: self._generate_examples(t) for s, t in truth.items()}

        def _generate_examples(self, t):
            for i, c in enumerate(t["caption"]):
                yield i, {"image": Image.fromarray(t["image"][i]), "label": i % 2, "caption": c,
                          "captions": c.split("\n"), "meta": {"note": f"note {i}"}}

    Birds.name = name
    data_dir = str(tmp_path / "tfds")
    Birds(data_dir=data_dir, file_format="array_record").download_and_prepare()
    return data_dir, truth


@pytest.fixture
def birds(tmp_path):
    registry._resolve_cached.cache_clear()   # every test reads its own tmp data_dir fresh
    yield make_birds(tmp_path)
    registry._resolve_cached.cache_clear()


def ids(*ws):
    return [VOCAB.index(w) for w in ws]


def row(*ws, length=32):
    out = ids(*ws)
    return out + [0] * (length - len(out))


def test_tokenizer_and_vocabulary_rule_by_hand():
    assert catalog_captions.words("A small, red bird's WING.") == ["a", "small", ",", "red", "bird", "'", "s",
                                                                     "wing", "."]
    caps = [c for t in TRAIN for c in t.split("\n")]
    vocab = catalog_captions.build_vocabulary(caps)
    assert vocab.words == VOCAB
    assert vocab.counts[2:5] == (5, 4, 4)
    # order of the captions does not matter; the cap and the minimum count keep a prefix of the ranking
    assert catalog_captions.build_vocabulary(caps[::-1]).words == VOCAB
    assert catalog_captions.build_vocabulary(caps, vocab_size=5).words == VOCAB[:5]
    assert catalog_captions.build_vocabulary(caps, min_count=2).words == VOCAB[:11]
    np.testing.assert_array_equal(vocab.tokenize("The red bird sings, zebra!", 8),
                                  [9, 2, 4, 15, 12, 1, 11, 0])
    np.testing.assert_array_equal(vocab.tokenize("the bird is blue and small", 3), [9, 4, 13])   # truncated
    assert vocab.detokenize(vocab.tokenize("Red  bird .", 6)) == "red bird ."


def test_catalog_captions_served_with_tokens(birds, caplog):
    data_dir, truth = birds
    name = "captions:birds?feature=caption"
    info = data.dataset_info(name, data_dir=data_dir)
    assert info.name == name and info.splits == {"train": 4, "test": 3}
    # every catalog feature stays; the tokens: num_captions = the most of a train example (2)
    assert info.features["caption_tokens"] == data.Feature.classes(len(VOCAB), (2, 32))
    assert info.features["caption_count"] == data.Feature.integer((), "int32")
    assert {"x", "label", "caption", "meta/note"} <= set(info.features)
    assert catalog_captions.vocabulary(name, data_dir=data_dir).words == VOCAB
    a = data.load_arrays(name, "train", data_dir=data_dir)
    np.testing.assert_array_equal(a["x"], truth["train"]["image"])
    np.testing.assert_array_equal(a["caption_count"], [2, 1, 1, 1])
    np.testing.assert_array_equal(a["caption_tokens"][0], [row("a", "red", "bird", "."),
                                                          row("the", "red", "bird", "sings", "!")])
    # fewer captions than num_captions: padded with repeats
    np.testing.assert_array_equal(a["caption_tokens"][1], [row("a", "blue", "bird")] * 2)
    np.testing.assert_array_equal(a["caption_tokens"][2, 0], row("red", ",", "red", "wings", "."))
    # train-only vocabulary: 'green' and 'zebra' occur only in the test split and are <unk>
    t = data.load_arrays(name, "test", data_dir=data_dir)
    np.testing.assert_array_equal(t["caption_tokens"][0, 0], [6, 1, 4, 5] + [0] * 28)
    np.testing.assert_array_equal(t["caption_tokens"][1, 0], [1, 1, 1, 1, 2] + [0] * 27)
    np.testing.assert_array_equal(t["caption_tokens"][2], [row("blue")] * 2)   # blank lines dropped
    # the loaders serve them (in memory and streamed from the array_record files alike)
    batch = next(iter(data.make_loader(name, "train", batch_size=4, data_dir=data_dir, shuffle=False,
                                       features=("x", "caption_tokens"))))
    np.testing.assert_array_equal(batch["caption_tokens"], a["caption_tokens"])
    registry._resolve_cached.cache_clear()
    old = catalog.IN_MEMORY_LIMIT_BYTES
    catalog.IN_MEMORY_LIMIT_BYTES = 0
    try:
        streamed = next(iter(data.make_loader(name, "train[1:3]", batch_size=2, data_dir=data_dir, shuffle=False,
                                              features=("x", "caption_tokens", "caption_count"))))
    finally:
        catalog.IN_MEMORY_LIMIT_BYTES = old
    np.testing.assert_array_equal(streamed["x"], a["x"][1:3])
    np.testing.assert_array_equal(streamed["caption_tokens"], a["caption_tokens"][1:3])
    np.testing.assert_array_equal(streamed["caption_count"], [1, 1])


def test_sequence_feature_truncation_and_options(birds, caplog):
    data_dir, _ = birds
    text = data.load_arrays("captions:birds?feature=caption", "train", data_dir=data_dir)["caption_tokens"]
    seq = data.load_arrays("captions:birds?feature=captions", "train", data_dir=data_dir)["caption_tokens"]
    np.testing.assert_array_equal(seq, text)          # a Sequence of Text: one caption per element
    # options in any order name the same dataset; truncation is counted in the log
    with caplog.at_level("INFO"):
        a = data.load_arrays("captions:birds?num_captions=1&max_tokens=8&min_count=2&feature=caption", "train",
                             data_dir=data_dir)
    assert "1 of 4 captions had more than max_tokens=8 tokens and were truncated" in caplog.text
    assert "1 captions beyond num_captions=1 per example were dropped" in caplog.text
    assert data.canonical_name("captions:birds?num_captions=1&feature=caption") == \
        "captions:birds?feature=caption&num_captions=1"
    assert a["caption_tokens"].shape == (4, 1, 8)
    np.testing.assert_array_equal(a["caption_tokens"][3, 0], ids("the", "bird", "<unk>", "blue", "and", "small",
                                                                 "and", "red"))   # 'is' is below min_count


def test_vocabulary_is_saved_and_restored_the_same(birds):
    data_dir, _ = birds
    name = "captions:birds?feature=caption&vocab_size=9"
    first = data.load_arrays(name, "test", data_dir=data_dir)["caption_tokens"]
    path = catalog_captions.vocabulary_path(data_dir, "birds", "caption", 9, 1)
    with open(path) as f:
        saved = json.load(f)
    assert tuple(saved["words"]) == VOCAB[:9] and saved["train_examples"] == 4
    registry._resolve_cached.cache_clear()                # a new process: rebuilt, checked against the file
    np.testing.assert_array_equal(data.load_arrays(name, "test", data_dir=data_dir)["caption_tokens"], first)
    with open(path, "w") as f:                            # as if written by another rule
        json.dump(dict(saved, words=saved["words"][::-1]), f)
    registry._resolve_cached.cache_clear()
    with pytest.raises(data.DataError, match="differs from the one this code builds"):
        data.dataset_info(name, data_dir=data_dir)
    saved["train_captions_sha256"] = "0" * 64             # as if the train split had changed since
    with open(path, "w") as f:
        json.dump(saved, f)
    registry._resolve_cached.cache_clear()
    with pytest.raises(data.DataError, match="built from other train captions"):
        data.dataset_info(name, data_dir=data_dir)
    os.remove(path)


def test_errors_are_named(birds):
    data_dir, _ = birds
    with pytest.raises(data.DataError, match=r"name the caption feature .*text features: caption, captions, "
                                             r"meta/note"):
        data.dataset_info("captions:birds", data_dir=data_dir)
    with pytest.raises(data.DataError, match=r"has no feature 'title'; its text features: caption, captions"):
        data.dataset_info("captions:birds?feature=title", data_dir=data_dir)
    with pytest.raises(data.DataError, match=r"feature 'label' is not text \(it is ClassLabel\)"):
        data.dataset_info("captions:birds?feature=label", data_dir=data_dir)
    with pytest.raises(data.DataError, match="the vocabulary is empty.*min_count=100"):
        data.dataset_info("captions:birds?feature=caption&min_count=100", data_dir=data_dir)
    with pytest.raises(data.DataError, match="unknown option 'vocab'"):
        data.dataset_info("captions:birds?vocab=3", data_dir=data_dir)
    with pytest.raises(data.DataError, match="max_tokens='many' must be an integer"):
        data.dataset_info("captions:birds?max_tokens=many", data_dir=data_dir)
    with pytest.raises(data.UnknownDatasetError, match="unknown dataset 'no_such_birds'"):
        data.dataset_info("captions:no_such_birds?feature=caption", data_dir=data_dir)


def test_a_dataset_served_in_memory_with_a_text_feature():
    """The same rule on a dataset whose info has a 'text' feature (an embedded one: its captions one string each)."""
    from gen_jax.data.sources import InMemoryDataset

    def split(caps):
        return {"x": np.zeros((len(caps), 2, 2, 1), np.uint8), "caption": np.asarray(caps, object)}

    info = data.DatasetInfo("mem", {"x": data.Feature.levels((2, 2, 1), 256), "caption": data.Feature.text()},
                            {"train": len(TRAIN), "test": len(TEST)})
    base = InMemoryDataset(info, {"train": split(TRAIN), "test": split(TEST)})
    ds = catalog_captions.CaptionsDataset("captions:mem", "mem", base, {}, data_dir="")
    assert ds.feature == "caption" and ds.vocabulary.words == VOCAB
    np.testing.assert_array_equal(ds.arrays("test")["caption_tokens"][0, 0], [6, 1, 4, 5] + [0] * 28)
    with pytest.raises(data.DataError, match=r"feature 'x' is not text \(it is kind 'levels'\)"):
        catalog_captions.CaptionsDataset("captions:mem?feature=x", "mem", base, {"feature": "x"}, data_dir="")
