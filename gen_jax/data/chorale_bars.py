"""`chorale_bars`: the soprano melodies of the Bach chorales that music21 ships (offline, in its wheel), as
one-bar piano rolls on a 16th-note grid with the bar's chord, for MidiNet (Yang et al. 2017).

Source: every chorale of ``music21.corpus.chorales.Iterator()`` (371 four-part chorales, in the iterator's
order; chorale id = the position in that order) whose first time signature is 4/4 and whose first part is
the soprano. Each chorale is transposed (by -6..+5 semitones) so that its key, as music21's Krumhansl
analysis (``score.analyze('key')``) names it, becomes C major or A minor; the in-scale ratio of the melody
statistics is then measured against the white keys.

Examples: one per FULL measure (4 quarters) of the soprano part, in chorale order then measure order.

* ``x`` levels 2, uint8 [16, 24, 1]: x[t, p] = 1 when MIDI pitch LOW + p sounds during 16th step t of the
  bar (a note of offset o and length d, in quarters, covers steps round(4 o) .. round(4 (o + d)) - 1);
  pitches are folded by octaves into LOW .. LOW + 23 = C4 .. B5 (MidiNet's reduced two-octave range);
  rests are empty columns. The soprano is monophonic, so at most one cell per step is set.
* ``prev`` same shape: the previous measure of the same chorale, or, for the first full bar, its pickup
  (anacrusis) right-aligned in an otherwise empty bar, or an empty bar when there is none: the only
  context MidiNet's conditioner reads.
* ``chord`` classes 24: root + 12 * minor of the triad that best explains the bar's four parts: the triad
  (r, r + 3|4, r + 7) maximising the total duration of its three pitch classes over all voices (ties: the
  smallest class id); 0..11 C..B major, 12..23 C..B minor.
* ``chorale`` and ``bar`` int32: the chorale id and the bar's position among its full bars.

Splits: chorales with id % 10 == 0 form ``test`` (whole chorales are held out, so no test melody is seen in
training), the others ``train``.

Preparation parses every chorale with music21 (about 90 s the first time on one core; music21 then keeps a
parsed copy in its scratch directory and a second preparation takes about 25 s).
"""
from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

from gen_jax.data._tfds_base import EmbeddedBuilder
from gen_jax.data.errors import DataError
from gen_jax.data.features import Feature

STEPS = 16          # 16th notes per 4/4 bar
LOW = 60            # C4
PITCHES = 24        # C4 .. B5
NUM_CHORDS = 24
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)


def fold_pitch(pitch: int, low: int = LOW, num: int = PITCHES) -> int:
    """The MIDI pitch moved by whole octaves into low .. low + num - 1 (num must be a multiple of 12)."""
    while pitch < low:
        pitch += 12
    while pitch >= low + num:
        pitch -= 12
    return pitch


def notes_to_roll(notes, num_steps: int, low: int = LOW, num: int = PITCHES) -> np.ndarray:
    """uint8 [num_steps, num]: notes (pitch, start_step, end_step) (end exclusive) on the grid, pitches folded
    into the range; parts of notes outside 0..num_steps are dropped."""
    roll = np.zeros((num_steps, num), np.uint8)
    for pitch, start, end in notes:
        p = fold_pitch(int(pitch), low, num) - low
        roll[max(int(start), 0):max(min(int(end), num_steps), 0), p] = 1
    return roll


def chord_of(weights: np.ndarray) -> int:
    """The chord class (root + 12 * minor) of a 12-bin pitch-class duration histogram (see the docstring)."""
    scores = []
    for minor in (0, 1):
        for root in range(12):
            third = root + (3 if minor else 4)
            scores.append(weights[root % 12] + weights[third % 12] + weights[(root + 7) % 12])
    return int(np.argmax(np.asarray(scores)))


def chord_vector(chord) -> np.ndarray:
    """MidiNet's 13-d chord condition: a one-hot root (12) and a minor flag. chord: int array [...]."""
    chord = np.asarray(chord)
    return np.concatenate([np.eye(12, dtype=np.float32)[chord % 12], (chord // 12)[..., None].astype(np.float32)],
                          -1)


def _transposition(score) -> int:
    key = score.analyze("key")
    tonic = key.tonic.pitchClass
    target = 0 if key.mode == "major" else 9
    shift = (target - tonic) % 12
    return shift - 12 if shift > 5 else shift


def _measure_notes(measure, shift: int, pad: float = 0.0):
    """(midi pitch, start step, end step) of a measure's notes (chords give every pitch), offsets in steps."""
    out = []
    for n in measure.flatten().notes:
        start = int(round(4 * (pad + float(n.offset))))
        end = int(round(4 * (pad + float(n.offset) + float(n.quarterLength))))
        for p in n.pitches:
            out.append((int(p.midi) + shift, start, end))
    return out


def chorale_examples(score, chorale_id: int):
    """The examples (dicts of the features) of one parsed chorale, [] when it is not in 4/4."""
    ts = score.recurse().getElementsByClass("TimeSignature")
    if not ts or ts[0].ratioString != "4/4" or len(score.parts) < 4:
        return []
    shift = _transposition(score)
    parts = [list(p.getElementsByClass("Measure")) for p in score.parts]
    soprano = parts[0]
    by_number = [{m.number: m for m in p} for p in parts]
    out, prev = [], np.zeros((STEPS, PITCHES), np.uint8)
    bar = 0
    for m in soprano:
        length = float(m.duration.quarterLength)
        if abs(length - 4.0) > 1e-6:
            if bar == 0 and 0 < length < 4.0:   # the pickup: the end of an otherwise empty bar
                prev = notes_to_roll(_measure_notes(m, shift, pad=4.0 - length), STEPS)
            continue
        roll = notes_to_roll(_measure_notes(m, shift), STEPS)
        weights = np.zeros(12)
        for part in by_number:
            pm = part.get(m.number)
            if pm is None:
                continue
            for pitch, start, end in _measure_notes(pm, shift):
                weights[pitch % 12] += max(min(end, STEPS) - max(start, 0), 0)
        out.append({"x": roll[..., None], "prev": prev[..., None], "chord": chord_of(weights),
                    "chorale": np.int32(chorale_id), "bar": np.int32(bar)})
        prev, bar = roll, bar + 1
    return out


def chorale_paths():
    try:
        from music21 import corpus
    except ImportError as e:  # pragma: no cover - music21 is pinned in requirements.txt
        raise DataError("chorale_bars needs music21 (pinned in requirements.txt: pip install music21==10.5.1), "
                        "whose wheel ships the Bach chorales") from e
    return list(corpus.chorales.Iterator(returnType="filename"))


def all_examples():
    from music21 import corpus

    out = []
    for i, path in enumerate(chorale_paths()):
        out.extend(chorale_examples(corpus.parse(path), i))
    return out


class ChoraleBars(EmbeddedBuilder):
    """Soprano bars of music21's Bach chorales as 16 x 24 piano rolls with the previous bar and a chord."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: 4/4 chorales in C major / A minor, C4..B5, 16th-note grid."}
    FEATURES = {"x": Feature.levels((STEPS, PITCHES, 1), 2), "prev": Feature.levels((STEPS, PITCHES, 1), 2),
                "chord": Feature.classes(NUM_CHORDS), "chorale": Feature.integer(), "bar": Feature.integer()}
    SUPERVISED_KEYS = ("x", "chord")
    HOMEPAGE = "https://web.mit.edu/music21/"
    CITATION = "Cuthbert & Ariza (2010), music21: A Toolkit for Computer-Aided Musicology and Symbolic Music Data."

    def _split_generators(self, dl_manager):
        del dl_manager
        examples = all_examples()
        test = [e for e in examples if int(e["chorale"]) % 10 == 0]
        train = [e for e in examples if int(e["chorale"]) % 10 != 0]
        return {"train": self._generate_examples(train), "test": self._generate_examples(test)}

    def _generate_examples(self, examples):
        for k, e in enumerate(examples):
            yield k, e
