"""`captioned_mnist5k` and `captioned_digits`: digits with attributes measured on the image itself, tags and
generated captions, for text- and tag-conditioned GANs (GAN-CLS / GAN-INT: Reed et al. 2016; StackGAN:
Zhang et al. 2017; the anime-character GAN: Jin et al. 2017). No captioned image set is installable
offline: the captions here are generated from measured attributes, so that a generated image can be
scored against its caption (`attributes`).

Images
------
* ``captioned_mnist5k``: each mnist5k digit re-placed in its 28x28 frame, so that size and position vary
  (mnist5k's own digits are all about 20 pixels tall and centred): the digit's box of non-zero pixels is
  resized by exact area averaging (`pasted_digits.area_resize`) to height h and width
  ``clip(round(w0 h / h0), 1, 28)`` (w0 x h0 the box; the aspect kept) and pasted on a blank canvas. With
  ``rng = np.random.default_rng([SEED, index])``: ``h = rng.integers(12, 21)``; ``cell = rng.integers(9)``;
  then the top row is ``rng.choice`` of the rows whose box centre ``top + (h - 1) / 2`` falls in third
  ``cell // 3`` of the frame (as `position_class` measures it; all rows if none does), then the left column
  likewise for third ``cell % 3``. ``placement`` stores (top, left, height, width) of the pasted box.
* ``captioned_digits``: scikit-learn's 8x8 digits unchanged (17 levels). They fill their frame, so their
  size is always "large" and their position "in the middle" (all but 9 of 1,797): for size and position
  conditioning use ``captioned_mnist5k``.

Both keep their source's fixed split, ``label`` and ``index`` (the source row), in increasing index order.

Attributes (`attributes`: `digit_attributes.measure` of the image, then fixed thresholds)
---------------------------------------------------------------------------------------------
* ``thickness_class`` 0 thin / 1 medium / 2 thick, by the RELATIVE thickness ``thickness / height``
  (stroke width as a fraction of the digit's height, so that a small digit is not "thin" for being small):
  below `THICKNESS_THRESHOLDS`[0] thin, below [1] medium, else thick. The thresholds are the rounded
  tertiles of each dataset's train split: mnist5k (0.115, 0.145), digits (0.175, 0.23) (8x8 strokes
  measure relatively wider).
* ``slant_class`` 0 leaning left / 1 upright / 2 leaning right: slant below -10 degrees, within +-10, above
  +10 (`SLANT_DEGREES`; positive = the top leans right). mnist5k train: 13% / 43% / 44%.
* ``size_class`` 0 small / 1 large: box height >= 0.55 of the frame height (`SIZE_FRACTION`; 16 of 28 px).
* ``position_class`` 3 r + c, r, c in 0..2: the thirds of the frame holding the box centre,
  ``r = min(floor((cy + 0.5) 3 / H), 2)`` and c likewise (0 top / left, 2 bottom / right); names in
  `POSITIONS` (top left, top, top right, left, middle, right, bottom left, bottom, bottom right).
* and the measurements: ``thickness`` (px), ``relative_thickness``, ``slant`` (degrees), ``height`` (px),
  ``box_center`` (row, column).

Tags: ``tags`` uint8 [27] (levels 2), multi-hot over `TAG_NAMES` = the 10 digit names, thin, medium,
thick, leaning left, upright, leaning right, small, large, and the 9 positions: exactly one tag per group.

Captions
--------
Grammar: a template of `TEMPLATES` with its slots filled from the attribute classes: {digit} (zero ..
nine), {size} (small, large), {thick} (thin, medium, thick), {slant} (left slanted, upright, right
slanted), {lean} (leaning left, standing upright, leaning right), {pos} (in the top left, at the top, in the
top right, on the left, in the middle, on the right, in the bottom left, at the bottom, in the bottom
right). Every caption states every attribute. Templates 0..5 (`TRAIN_TEMPLATES`) caption the train split,
templates 6..8 (`TEST_TEMPLATES`, held-out phrasings: new word orders of the same words) the test split.
``caption_template`` int [3] (classes 0..8): a train image's three distinct train templates are
``rng.choice(6, 3, replace=False)`` (drawn after the placement, with the same rng; for digits the rng is
``default_rng([SEED, index])`` too); a test image has templates (6, 7, 8). ``caption`` (text): the three
captions joined by newlines; ``caption_tokens`` int32 [3, 16] (classes over `VOCABULARY`): `tokenize` of
each.

Tokenization (`tokenize`): lower-case, commas split off as tokens, split on white space, each word its
index in `VOCABULARY` (1 = ``<unk>`` for a word outside it), then 0 (``<pad>``) up to `MAX_TOKENS` = 16.
`VOCABULARY` = (``<pad>``, ``<unk>``, then every word of every template filled with every attribute
value, sorted): 39 entries; every word of the test templates occurs in the train templates.
"""
from __future__ import annotations

import itertools
import re

import numpy as np
import tensorflow_datasets as tfds

from gen_jax.data import digit_attributes, pasted_digits
from gen_jax.data._derived import BYTES_NOTE, DerivedBuilder, label_and_index
from gen_jax.data.features import Feature

SEED = 20160517
NUM_CAPTIONS = 3
MAX_TOKENS = 16
THICKNESS_THRESHOLDS = {"mnist5k": (0.115, 0.145), "digits": (0.175, 0.23)}
SLANT_DEGREES = 10.0
SIZE_FRACTION = 0.55
MIN_HEIGHT, MAX_HEIGHT = 12, 20  # captioned_mnist5k: pasted box heights, inclusive

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
THICKNESS = ("thin", "medium", "thick")
SLANTS = ("leaning left", "upright", "leaning right")
SIZES = ("small", "large")
POSITIONS = ("top left", "top", "top right", "left", "middle", "right", "bottom left", "bottom", "bottom right")
TAG_NAMES = DIGITS + THICKNESS + SLANTS + SIZES + POSITIONS

_SLOTS = {
    "digit": DIGITS,
    "size": SIZES,
    "thick": THICKNESS,
    "slant": ("left slanted", "upright", "right slanted"),
    "lean": ("leaning left", "standing upright", "leaning right"),
    "pos": ("in the top left", "at the top", "in the top right", "on the left", "in the middle", "on the right",
            "in the bottom left", "at the bottom", "in the bottom right"),
}
TEMPLATES = (
    # train phrasings
    "a {size} {thick} {digit} {lean} {pos}",
    "a {thick} , {slant} {size} {digit} {pos}",
    "{pos} there is a {size} {digit} with {thick} strokes , {lean}",
    "the digit {digit} , {size} and {thick} , {lean} {pos}",
    "a {size} {digit} {pos} with {thick} strokes , {slant}",
    "{size} {slant} {digit} drawn with {thick} strokes {pos}",
    # held-out phrasings of the test split
    "{pos} , a {thick} {digit} {lean} , {size}",
    "the {size} {digit} with {thick} strokes {pos} , {slant}",
    "the {slant} , {thick} digit {digit} drawn {size} {pos}",
)
TRAIN_TEMPLATES = (0, 1, 2, 3, 4, 5)
TEST_TEMPLATES = (6, 7, 8)

_TOKEN_RE = re.compile(r",|[^\s,]+")


def caption(classes: dict, template: int) -> str:
    """The caption of one image's attribute classes ({'label', 'thickness_class', 'slant_class',
    'size_class', 'position_class'} -> int) by template number `template`."""
    values = {"digit": classes["label"], "size": classes["size_class"], "thick": classes["thickness_class"],
              "slant": classes["slant_class"], "lean": classes["slant_class"], "pos": classes["position_class"]}
    return TEMPLATES[template].format(**{k: _SLOTS[k][int(v)] for k, v in values.items()})


def _words(text: str) -> list[str]:
    return _TOKEN_RE.findall(text.lower())


def _vocabulary() -> tuple[str, ...]:
    words = set()
    for t in range(len(TEMPLATES)):
        for combo in itertools.product(range(10), range(3), range(3), range(2), range(9)):
            cls = dict(zip(("label", "thickness_class", "slant_class", "size_class", "position_class"), combo))
            words.update(_words(caption(cls, t)))
    return ("<pad>", "<unk>") + tuple(sorted(words))


VOCABULARY = _vocabulary()
_INDEX = {w: i for i, w in enumerate(VOCABULARY)}


def tokenize(text: str, length: int = MAX_TOKENS) -> np.ndarray:
    """int32 [length]: the word indices of `text` in VOCABULARY (1 for unknown words), padded with 0.
    Raises ValueError when the text has more than `length` tokens."""
    ids = [_INDEX.get(w, 1) for w in _words(text)]
    if len(ids) > length:
        raise ValueError(f"{len(ids)} tokens do not fit in {length}: {text!r}")
    return np.asarray(ids + [0] * (length - len(ids)), np.int32)


def detokenize(tokens) -> str:
    """The words of a token row, padding dropped, joined by single spaces."""
    return " ".join(VOCABULARY[int(t)] for t in np.asarray(tokens) if int(t) != 0)


def attributes(images, max_value: float | None = None, source: str = "mnist5k") -> dict[str, np.ndarray]:
    """The measured attributes and their classes (see the module docstring) of [N, H, W(, 1)] images, with
    the thresholds of `source` ('mnist5k' or 'digits'): {'thickness_class', 'slant_class', 'size_class',
    'position_class'} int32 [N] and {'thickness', 'relative_thickness', 'slant', 'height'} float32 [N],
    'box_center' float32 [N, 2]. Use it to score generated images against the classes of their caption."""
    m = digit_attributes.measure(images, max_value)
    h, w = np.shape(digit_attributes.unit(images, max_value))[1:]
    height = m["height"].astype(np.float64)
    rel = np.where(height > 0, m["thickness"] / np.maximum(height, 1.0), 0.0)
    t1, t2 = THICKNESS_THRESHOLDS[source]
    thickness_class = (rel >= t1).astype(np.int32) + (rel >= t2)
    slant_class = np.where(m["slant"] < -SLANT_DEGREES, 0, np.where(m["slant"] > SLANT_DEGREES, 2, 1))
    size_class = (height >= SIZE_FRACTION * h).astype(np.int32)
    row = np.minimum(np.floor((m["box_center"][:, 0] + 0.5) * 3 / h), 2).astype(np.int32)
    col = np.minimum(np.floor((m["box_center"][:, 1] + 0.5) * 3 / w), 2).astype(np.int32)
    return {"thickness_class": thickness_class.astype(np.int32), "slant_class": slant_class.astype(np.int32),
            "size_class": size_class, "position_class": 3 * row + col,
            "thickness": m["thickness"].astype(np.float32), "relative_thickness": rel.astype(np.float32),
            "slant": m["slant"].astype(np.float32), "height": height.astype(np.float32),
            "box_center": m["box_center"].astype(np.float32)}


def tags(classes: dict) -> np.ndarray:
    """uint8 [N, 27]: the multi-hot tags over TAG_NAMES of attribute classes (arrays [N])."""
    label = np.asarray(classes["label"])
    out = np.zeros((len(label), len(TAG_NAMES)), np.uint8)
    rows = np.arange(len(label))
    offset = 0
    for key, size in (("label", 10), ("thickness_class", 3), ("slant_class", 3), ("size_class", 2),
                      ("position_class", 9)):
        out[rows, offset + np.asarray(classes[key])] = 1
        offset += size
    return out


def _third_starts(n: int, third: int, frame: int) -> np.ndarray:
    """The top rows t of an n-pixel box in a frame whose centre t + (n - 1) / 2 lies in `third`."""
    tops = np.arange(frame - n + 1)
    centre = tops + (n - 1) / 2
    ok = np.minimum(np.floor((centre + 0.5) * 3 / frame), 2) == third
    return tops[ok] if ok.any() else tops


def place(image: np.ndarray, rng: np.random.Generator, frame: int = 28) -> tuple[np.ndarray, np.ndarray]:
    """(placed image uint8 [frame, frame], placement int32 (top, left, height, width)) of one 0..255 digit,
    by the rule of the module docstring (draws h, the cell, the top row, the left column from `rng`)."""
    rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
    crop = image[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h0, w0 = crop.shape
    h = int(rng.integers(MIN_HEIGHT, MAX_HEIGHT + 1))
    w = int(np.clip(round(w0 * h / h0), 1, frame))
    cell = int(rng.integers(9))
    top = int(rng.choice(_third_starts(h, cell // 3, frame)))
    left = int(rng.choice(_third_starts(w, cell % 3, frame)))
    out = np.zeros((frame, frame), np.uint8)
    out[top:top + h, left:left + w] = pasted_digits.area_resize(crop[None], (h, w))[0]
    return out, np.array([top, left, h, w], np.int32)


def _features(shape, num_levels) -> dict[str, Feature]:
    return {"x": Feature.levels(shape, num_levels), **label_and_index(),
            "thickness_class": Feature.classes(3), "slant_class": Feature.classes(3),
            "size_class": Feature.classes(2), "position_class": Feature.classes(9),
            "thickness": Feature.continuous(()), "relative_thickness": Feature.continuous(()),
            "slant": Feature.continuous(()), "height": Feature.continuous(()), "box_center": Feature.continuous((2,)),
            "tags": Feature.levels((len(TAG_NAMES),), 2), "caption": Feature.text(),
            "caption_tokens": Feature.classes(len(VOCABULARY), (NUM_CAPTIONS, MAX_TOKENS)),
            "caption_template": Feature.classes(len(TEMPLATES), (NUM_CAPTIONS,))}


def _captioned(split, images, labels, indices, rngs, source, max_value):
    """The stored columns of the captioned images `images` [n, H, W] (rngs: one generator per row, already
    past the placement draws)."""
    cols = attributes(images, max_value, source)
    cols.update({"x": images[..., None], "label": labels, "index": indices})
    if split == "train":
        chosen = np.stack([r.choice(len(TRAIN_TEMPLATES), NUM_CAPTIONS, replace=False) for r in rngs])
        chosen = np.asarray(TRAIN_TEMPLATES)[chosen]
    else:
        chosen = np.tile(np.asarray(TEST_TEMPLATES), (len(indices), 1))
    keys = ("label", "thickness_class", "slant_class", "size_class", "position_class")
    texts = []
    for k in range(len(indices)):
        classes = {key: cols[key][k] for key in keys}
        texts.append([caption(classes, t) for t in chosen[k]])
    cols["caption"] = np.asarray(["\n".join(t) for t in texts], object)
    cols["caption_tokens"] = np.asarray([[tokenize(c) for c in t] for t in texts], np.int32)
    cols["caption_template"] = chosen.astype(np.int32)
    cols["tags"] = tags(cols)
    return cols


class CaptionedMnist5k(DerivedBuilder):
    """mnist5k digits re-placed at random sizes and positions, with measured attributes, tags and captions."""

    VERSION = tfds.core.Version("1.2.0")
    RELEASE_NOTES = {"1.0.0": "Initial release.",
                     "1.1.0": BYTES_NOTE,
                     "1.2.0": "The output of the current placement rule: the fingerprint recorded for 1.0.0 and "
                              "1.1.0 was that of an earlier draft of the rule, so a fresh preparation was refused."}
    SOURCE = "mnist5k"
    FEATURES = {**_features((28, 28, 1), 256), "placement": Feature.integer((4,))}
    CITATION = "Reed, Akata, Yan, Logeswaran, Schiele & Lee (2016), Generative Adversarial Text to Image Synthesis."

    def derive(self, split, images, labels, indices):
        rngs = [np.random.default_rng([SEED, int(i)]) for i in indices]
        placed = [place(img, r) for img, r in zip(images, rngs)]
        cols = _captioned(split, np.stack([p for p, _ in placed]), labels, indices, rngs, "mnist5k", 255)
        cols["placement"] = np.stack([q for _, q in placed])
        return cols


class CaptionedDigits(DerivedBuilder):
    """scikit-learn's 8x8 digits with measured attributes, tags and captions."""

    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = {"1.0.0": "Initial release.",
                     "1.1.0": BYTES_NOTE}
    SOURCE = "digits"
    FEATURES = _features((8, 8, 1), 17)
    CITATION = CaptionedMnist5k.CITATION

    def derive(self, split, images, labels, indices):
        rngs = [np.random.default_rng([SEED, int(i)]) for i in indices]
        return _captioned(split, images, labels, indices, rngs, "digits", 16)
