"""chorale_bars: soprano bars of music21's Bach chorales (offline), previous bars chained, chords by hand."""
import numpy as np
import pytest

from gen_jax import data
from gen_jax.data import chorale_bars as cb


def test_chord_templates_and_pitch_folding_by_hand():
    w = np.zeros(12)
    w[[0, 4, 7]] = 1.0                      # C E G
    assert cb.chord_of(w) == 0
    w = np.zeros(12)
    w[[9, 0, 4]] = [2.0, 1.0, 1.0]          # A C E: A minor (A is 9, minor adds 12)
    assert cb.chord_of(w) == 21
    w[7] = 3.0                              # a long G: C E G (3 + 1 + 1 = 5) beats A C E (4)
    assert cb.chord_of(w) == 0
    assert [cb.fold_pitch(p) for p in (59, 60, 83, 84, 100)] == [71, 60, 83, 72, 76]
    np.testing.assert_array_equal(cb.chord_vector([14]), [np.eye(13)[2] + np.eye(13)[12]])
    roll = cb.notes_to_roll([(62, 0, 3), (96, 3, 20)], 16)
    assert roll[:3, 2].all() and roll[3:, 12].all() and roll.sum() == 16


@pytest.mark.usefixtures("no_network")
def test_bars_are_monophonic_chained_and_split_by_chorale(data_dir):
    info = data.dataset_info("chorale_bars", data_dir=data_dir)
    assert info.features["x"].shape == (16, 24, 1) and info.features["chord"].num_classes == 24
    a = {s: data.load_arrays("chorale_bars", s, data_dir=data_dir) for s in ("train", "test")}
    assert len(a["train"]["x"]) > 2500 and len(a["test"]["x"]) > 250
    assert (a["test"]["chorale"] % 10 == 0).all() and (a["train"]["chorale"] % 10 != 0).all()
    for s in a.values():
        x, prev, song, bar = s["x"][..., 0], s["prev"][..., 0], s["chorale"], s["bar"]
        assert (x.sum(-1) > 1).mean() < 0.01                      # the soprano: (almost) one pitch per step
        assert (x.sum((1, 2)) == 0).mean() < 0.1                  # few empty bars
        same = (song[1:] == song[:-1]) & (bar[1:] == bar[:-1] + 1)
        assert same.mean() > 0.85
        np.testing.assert_array_equal(prev[1:][same], x[:-1][same])   # prev is the previous bar of the chorale
        first = bar == 0
        assert prev[first].sum(-1).max() <= 1                    # a pickup (or nothing) before the first bar
        pick = prev[first][prev[first].any((1, 2))]
        assert len(pick) > 0                                      # chorales with a pickup before bar 0
    # the keys are C major / A minor: most sounding cells are on the white keys
    cells = a["train"]["x"][..., 0].sum((0, 1))
    white = np.isin((60 + np.arange(24)) % 12, cb.MAJOR_SCALE)
    assert cells[white].sum() / cells.sum() > 0.9
