"""MidiNet: piano roll <-> MIDI round trip exact, the conditioner reads only the previous bar (gradients), the
feature-matching loss and the melody statistics by hand, bar-after-bar generation, 8 devices = 1, resume."""
import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from gen_jax.core import steps as steps_lib
from gen_jax.core.config import base_config
from gen_jax.data.features import DatasetInfo, Feature
from gen_jax.ganzoo import midinet, pianoroll
from gen_jax.ganzoo.midinet import MidiNetExperiment

T, P = 16, 24
INFO = DatasetInfo("fake_bars", {"x": Feature.levels((T, P, 1), 2), "prev": Feature.levels((T, P, 1), 2),
                                 "chord": Feature.classes(24), "chorale": Feature.integer(),
                                 "bar": Feature.integer()}, {"train": 64, "test": 16})


def config(**model):
    c = base_config()
    c.experiment = "midinet"
    c.optim.learning_rate, c.optim.b1 = 2e-4, 0.5
    m = dict(latent_dim=8, g_hidden=16, g_features=8, c_features=4, d_features1=4, d_features2=6, d_hidden=16,
             g_steps=2)
    m.update(model)
    c.model = ml_collections.ConfigDict(m)
    return c


def melody_batches(n, b=8, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        pitch = rng.integers(0, P, (b, 2, T))
        bars = np.eye(P, dtype=np.uint8)[pitch][..., None]            # one note per step
        out.append({"x": bars[:, 1], "prev": bars[:, 0], "chord": rng.integers(0, 24, (b,)).astype(np.int32)})
    return out


def test_roll_midi_roll_round_trip_is_exact():
    rng = np.random.default_rng(0)
    roll = (rng.uniform(size=(3 * T, P)) < 0.15).astype(np.uint8)    # polyphonic, long and short runs
    roll[:, 5] = 1                                                    # a note held over three bars
    data = pianoroll.notes_to_midi(pianoroll.roll_to_notes(roll))
    back = pianoroll.midi_to_roll(data, len(roll))
    np.testing.assert_array_equal(back, roll)
    # runs are the notes: [0 1 1 0 1] on one pitch is two notes (1, 3) and (4, 5), MIDI pitch low + p
    r = np.zeros((5, P), np.uint8)
    r[[1, 2, 4], 3] = 1
    assert pianoroll.roll_to_notes(r) == [(63, 1, 3), (63, 4, 5)]
    assert pianoroll.midi_to_notes(pianoroll.notes_to_midi([(63, 1, 3), (63, 4, 5)])) == [(63, 1, 3), (63, 4, 5)]
    with pytest.raises(ValueError, match="Standard MIDI"):
        pianoroll.midi_to_notes(b"RIFF0000")


def test_midi_file_and_folder(tmp_path):
    roll = np.zeros((2 * T, P), np.uint8)
    roll[0:4, 0] = roll[4:20, 7] = roll[24:32, 23] = 1
    for name in ("a.mid", "b.midi"):
        pianoroll.write_midi(str(tmp_path / name), roll)
    np.testing.assert_array_equal(pianoroll.read_midi(str(tmp_path / "a.mid")), roll.reshape(2, T, P))
    arrays = pianoroll.midi_folder_bars(str(tmp_path))
    assert arrays["x"].shape == (4, T, P, 1) and list(arrays["song"]) == [0, 0, 1, 1]
    np.testing.assert_array_equal(arrays["prev"][1], arrays["x"][0])
    assert not arrays["prev"][0].any()
    pianoroll.save_npz(str(tmp_path / "bars.npz"), arrays)
    from gen_jax import data
    info = data.dataset_info(f"npz:{tmp_path / 'bars.npz'}")
    assert info.features["x"].num_levels == 2 and info.features["chord"].num_classes == 24


def test_melody_statistics_by_hand():
    bars = np.zeros((2, T, P), np.uint8)
    bars[0, :4, 0] = 1            # C4 for 4 steps
    bars[0, 4:8, 1] = 1           # C#4 (out of scale) for 4 steps
    bars[0, 4:6, 4] = 1           # E4 with it: 2 polyphonic steps
    s = pianoroll.melody_statistics(bars, reference=bars[:1, :4], sequences=1)
    assert s["empty_bar_rate"] == 0.5
    assert s["polyphony"] == pytest.approx(2 / 8)
    assert s["in_scale_ratio"] == pytest.approx(6 / 10)
    assert s["notes_per_bar"] == pytest.approx(3 / 2)
    # histogram: C 0.4, C# 0.4, E 0.2 vs the reference's C 1.0 -> TV = (0.6 + 0.4 + 0.2) / 2
    assert s["pitch_class_tv"] == pytest.approx(0.6)
    assert np.isnan(s["boundary_interval"])          # the second bar is empty: no boundary to measure
    two = np.zeros((2, T, P), np.uint8)
    two[0, -1, 7], two[1, 0, 2] = 1, 1                # G4 -> D4 over the barline: 5 semitones
    assert pianoroll.melody_statistics(two, sequences=1)["boundary_interval"] == 5.0


def test_feature_matching_is_the_distance_of_batch_means():
    a = jnp.asarray([[1.0, 2.0], [3.0, 4.0]])
    b = jnp.asarray([[0.0, 0.0], [0.0, 2.0], [0.0, 1.0]])
    assert float(midinet.feature_matching_loss(a, b)) == pytest.approx(2.0 ** 2 + 2.0 ** 2)
    np.testing.assert_allclose(midinet.chord_vector(jnp.asarray([14]))[0], np.eye(13)[2] + np.eye(13)[12])


def _generator_fn(exp, state):
    n = exp.net

    def g(x, prev, chord, z):
        batch = {"x": x, "prev": prev, "chord": chord}
        p, y = n.condition(batch)
        return n.generate(state.params["generator"], state.model_state["generator"], z, p, y, train=False)[0]

    return g


def test_the_conditioner_reads_only_the_previous_bar():
    exp = MidiNetExperiment(config(), INFO)
    state = exp.init_state(jax.random.PRNGKey(0), None)
    b = melody_batches(1, b=3)[0]
    x, prev = jnp.asarray(b["x"], jnp.float32), jnp.asarray(b["prev"], jnp.float32)
    z = jax.random.normal(jax.random.PRNGKey(1), (3, 8))
    g = _generator_fn(exp, state)
    # d out[example 0] / d (x, prev): nothing flows from the current bar, only from example 0's previous bar
    gx, gprev = jax.jit(jax.grad(lambda x, p: g(x, p, b["chord"], z)[0].sum(), argnums=(0, 1)))(x, prev)
    assert float(jnp.abs(gx).max()) == 0.0
    assert float(jnp.abs(gprev[0]).sum()) > 0.0
    assert float(jnp.abs(gprev[1:]).max()) == 0.0
    # without the conditioner the previous bar has no influence at all
    plain = MidiNetExperiment(config(conditioner=False), INFO)
    ps = plain.init_state(jax.random.PRNGKey(0), None)
    assert "conditioner" not in ps.params["generator"]
    gp = jax.jit(jax.grad(lambda p: _generator_fn(plain, ps)(x, p, b["chord"], z).sum()))(prev)
    assert float(jnp.abs(gp).max()) == 0.0


def test_bar_after_bar_generation_feeds_each_bar_to_the_next():
    exp = MidiNetExperiment(config(), INFO)
    state = exp.init_state(jax.random.PRNGKey(0), None)
    chords = jnp.zeros((2, 3), jnp.int32)
    m = exp.melodies(state, jax.random.PRNGKey(2), chords, 2, 3)
    assert m.shape == (2, 3, T, P) and m.dtype == jnp.uint8
    # bar 1 is G(z_1, bar 0): regenerate it from bar 0 with the same key
    n = exp.net
    k1 = jax.random.split(jax.random.PRNGKey(2), 3)[1]
    out, _ = n.generate(state.params["generator"], state.model_state["generator"],
                        jax.random.normal(k1, (2, 8)), jnp.asarray(m[:, 0, ..., None], jnp.float32),
                        midinet.chord_vector(chords[:, 1]), train=False)
    np.testing.assert_array_equal((np.asarray(out)[..., 0] > 0.5).astype(np.uint8), np.asarray(m[:, 1]))


def test_bad_datasets_are_named():
    bad = DatasetInfo.of_x("digits", (8, 8, 1), num_levels=17, num_classes=10, splits={"train": 1})
    with pytest.raises(ValueError, match="features x, prev and chord"):
        MidiNetExperiment(config(), bad)


def test_train_step_same_on_8_devices_as_on_1():
    assert len(jax.devices()) == 8
    exp = MidiNetExperiment(config(), INFO)
    batches = melody_batches(2)
    results = []
    for devices in (jax.devices()[:1], jax.devices()):
        state, metrics = steps_lib.run_train_steps(exp, batches, devices=devices)
        results.append((state.params, state.model_state, metrics))
    chex.assert_trees_all_close(results[0], results[1], rtol=2e-4, atol=2e-5)


def test_resume_is_exact_with_the_melody_evaluator(tmp_path):
    from gen_jax.core import loop
    from tests.gan.test_steps import _read

    arrays = {}
    for split, seed in (("train", 0), ("test", 1)):
        b = melody_batches(1, b=32, seed=seed)[0]
        arrays.update({f"{split}/{k}": v for k, v in b.items()})
        arrays[f"{split}/song"] = np.repeat(np.arange(8), 4).astype(np.int32)
        arrays[f"{split}/bar"] = np.tile(np.arange(4), 8).astype(np.int32)
    arrays.update({"num_levels/x": 2, "num_levels/prev": 2, "num_classes/chord": 24})
    np.savez(tmp_path / "bars.npz", **arrays)

    def cfg(steps):
        c = config()
        c.dataset = f"npz:{tmp_path / 'bars.npz'}"
        c.batch_size, c.eval_batch_size = 8, 16
        c.num_train_steps, c.log_every, c.eval_every, c.sample_every, c.checkpoint_every = steps, 1, 2, 0, 2
        c.progress_bar = False
        c.evals = ml_collections.ConfigDict({"melody": dict(kind="melody_stats", every=2, num_melodies=4,
                                                            num_bars=3, num_midi=1)})
        return c

    straight, resumed = str(tmp_path / "a"), str(tmp_path / "b")
    loop.train_and_evaluate(cfg(4), straight)
    loop.train_and_evaluate(cfg(2), resumed)
    loop.train_and_evaluate(cfg(4), resumed)
    a, b = _read(straight), _read(resumed)
    assert a == b
    rec = [r for r in a if r.get("split") == "melody"]
    assert len(rec) == 2 and 0.0 <= rec[-1]["in_scale_ratio"] <= 1.0 and rec[-1]["data_polyphony"] == 0.0
    assert (tmp_path / "a" / "midi" / "melody_4_0.mid").exists()
