"""captioned_mnist5k / captioned_digits: attributes measured on the image, tags, captions from templates,
held-out phrasings for the test split, deterministic padding-invariant tokenization."""
import numpy as np
import pytest

from gen_jax.data import _derived, captioned as cap
from tests.data.derived_checks import check_split_and_source

KEYS = ("label", "thickness_class", "slant_class", "size_class", "position_class")


def test_vocabulary_is_built_from_the_templates_and_the_test_phrasings_reuse_train_words():
    assert cap._vocabulary() == cap.VOCABULARY  # pylint: disable=protected-access
    assert cap.VOCABULARY[:2] == ("<pad>", "<unk>") and list(cap.VOCABULARY[2:]) == sorted(cap.VOCABULARY[2:])
    assert len(cap.VOCABULARY) == 39 and len(set(cap.VOCABULARY)) == 39
    words = {"train": set(), "test": set()}
    longest = 0
    for t in range(len(cap.TEMPLATES)):
        for label in range(10):
            for combo in np.ndindex(3, 3, 2, 9):
                text = cap.caption(dict(zip(KEYS, (label, *combo))), t)
                tokens = cap._words(text)  # pylint: disable=protected-access
                longest = max(longest, len(tokens))
                words["test" if t in cap.TEST_TEMPLATES else "train"].update(tokens)
    assert words["test"] <= words["train"] and words["train"] | {"<pad>", "<unk>"} == set(cap.VOCABULARY)
    assert longest == 15 <= cap.MAX_TOKENS
    assert set(cap.TRAIN_TEMPLATES).isdisjoint(cap.TEST_TEMPLATES)
    assert set(cap.TRAIN_TEMPLATES) | set(cap.TEST_TEMPLATES) == set(range(len(cap.TEMPLATES)))


def test_tokenization_is_deterministic_and_padding_invariant():
    text = "a small thick seven leaning right in the top left"
    t16, t24 = cap.tokenize(text), cap.tokenize(text, 24)
    n = len(text.split())
    assert t16.dtype == np.int32 and t16.shape == (16,)
    np.testing.assert_array_equal(t16[:n], t24[:n])
    assert not t16[n:].any() and not t24[n:].any() and (t16[:n] > 1).all()
    assert cap.detokenize(t24) == text
    np.testing.assert_array_equal(cap.tokenize("A Thick, upright ONE"), cap.tokenize("a thick , upright one"))
    assert cap.tokenize("a purple seven")[1] == 1  # unknown word
    with pytest.raises(ValueError, match="do not fit"):
        cap.tokenize(text, 5)


def test_attributes_of_constructed_digits():
    img = np.zeros((4, 28, 28), np.uint8)
    img[0, 1:9, 1:4] = 255          # short bar in the top left: small, upright, 3/8 of its height thick
    img[1, 4:24, 13:15] = 255       # tall thin bar in the middle: large, upright
    for y in range(4, 24):          # the same bar sheared so that its top leans right by ~27 degrees
        x = 13 + int(round(0.5 * (14 - y)))
        img[2, y, x:x + 2] = 255
    img[3, 18:26, 18:27] = 255      # a block in the bottom right
    a = cap.attributes(img, 255)
    np.testing.assert_array_equal(a["position_class"], [0, 4, 4, 8])
    np.testing.assert_array_equal(a["size_class"], [0, 1, 1, 0])
    np.testing.assert_array_equal(a["slant_class"], [1, 1, 2, 1])
    np.testing.assert_allclose(a["height"], [8, 20, 20, 8])
    np.testing.assert_allclose(a["relative_thickness"], a["thickness"] / a["height"], rtol=1e-6)
    assert a["thickness_class"][0] == 2 and a["thickness_class"][1] == 0  # 3/8 thick vs 2/20 thin
    mirrored = cap.attributes(img[2:3, :, ::-1], 255)
    assert mirrored["slant_class"][0] == 0 and mirrored["position_class"][0] == 4
    t = cap.tags({"label": np.array([7, 0]), **{k: a[k][:2] for k in KEYS[1:]}})
    assert t.shape == (2, 27) and (t.sum(axis=1) == 5).all()
    assert [cap.TAG_NAMES[i] for i in np.flatnonzero(t[0])] == ["seven", "thick", "upright", "small", "top left"]


@pytest.mark.parametrize("name,source,max_value", [("captioned_mnist5k", "mnist5k", 255),
                                                   ("captioned_digits", "digits", 16)])
def test_stored_attributes_tags_and_captions_are_those_of_the_image(data_dir, name, source, max_value):
    splits = check_split_and_source(name, data_dir, source=source)
    for split, a in splits.items():
        measured = cap.attributes(a["x"], max_value, source)
        for k, v in measured.items():
            np.testing.assert_array_equal(a[k], v, err_msg=k)
        np.testing.assert_array_equal(a["tags"], cap.tags(a))
        allowed = cap.TRAIN_TEMPLATES if split == "train" else cap.TEST_TEMPLATES
        assert np.isin(a["caption_template"], allowed).all()
        assert all(len(set(row)) == cap.NUM_CAPTIONS for row in a["caption_template"])
        for k in range(0, len(a["index"]), 7):
            lines = a["caption"][k].split("\n")
            classes = {key: a[key][k] for key in KEYS}
            assert lines == [cap.caption(classes, t) for t in a["caption_template"][k]]
            np.testing.assert_array_equal(a["caption_tokens"][k], [cap.tokenize(s) for s in lines])
        if split == "train":  # the held-out phrasings never occur in training
            train_captions = {line for text in a["caption"] for line in text.split("\n")}
            for k in range(0, len(a["index"]), 11):
                classes = {key: a[key][k] for key in KEYS}
                assert not {cap.caption(classes, t) for t in cap.TEST_TEMPLATES} & train_captions
    if source == "mnist5k":  # thickness tertiles and the spread of positions the docstring states
        tr = splits["train"]
        assert np.bincount(tr["thickness_class"], minlength=3).min() > 1200
        assert np.bincount(tr["position_class"], minlength=9).min() > 250
        assert 0.4 < tr["size_class"].mean() < 0.6


def test_mnist5k_placement_follows_the_rule(data_dir):
    from gen_jax import data

    a = data.load_arrays("captioned_mnist5k", "test[:60]", data_dir=data_dir)
    images = _derived.source("mnist5k").images
    for k in range(60):
        placed, placement = cap.place(images[a["index"][k]], np.random.default_rng([cap.SEED, int(a["index"][k])]))
        np.testing.assert_array_equal(a["x"][k, :, :, 0], placed)
        np.testing.assert_array_equal(a["placement"][k], placement)
        top, left, h, w = placement
        assert cap.MIN_HEIGHT <= h <= cap.MAX_HEIGHT
        assert placed.sum() == placed[top:top + h, left:left + w].sum()
