"""MidiNet (Yang et al. 2017) on the soprano bars of music21's Bach chorales (`chorale_bars`): the paper's
model 3 layout (conditioner CNN on the previous bar + 13-d chord condition, feature matching lambda_1 = 0.1,
lambda_2 = 1, two G updates per D update), the paper's layer sizes, a two-octave range (C4..B5, 24 pitches).

Measurement (`melody_stats`, 64 melodies of 8 bars generated bar after bar on the chord sequences of the
test chorales, against the same chorales' real bars): pitch-class histogram distance (total variation),
polyphony, in-scale ratio, empty-bar rate, notes per bar, mean interval at the barline. The ablation without
the conditioner: --config.model.conditioner=False.

Command:
    nice -n 10 python -m experiments.run --config=experiments/configs/ganzoo_midinet_chorales.py \
        --workdir=/tmp/gen_jax/ganzoo_midinet
    nice -n 10 python -m experiments.run --config=experiments/configs/ganzoo_midinet_chorales.py \
        --workdir=/tmp/gen_jax/ganzoo_midinet_nocond --config.model.conditioner=False
Result (seed 0, 1,500 steps, 11-14 min each on a loaded 2-core CPU; split 'melody' of metrics.jsonl):
                          data    MidiNet   no conditioner
    pitch-class TV        0.023   0.131     0.062
    polyphony             0.000   0.256     0.236
    in-scale ratio        0.972   0.992     0.994
    empty-bar rate        0.021   0.000     0.002
    notes per bar         3.78    5.45      4.89
    barline interval      2.31    4.57      4.79   (semitones)
At this budget the conditioner does not yet make the barline interval data-like (one seed).
Generated melodies: workdir/midi/*.mid; piano-roll images: workdir/samples/melodies_*.png.
"""
import ml_collections

from gen_jax.core.config import base_config


def get_config():
    c = base_config()
    c.experiment = "midinet"
    c.dataset = "chorale_bars"
    c.batch_size = 64
    c.eval_batch_size = 128
    c.num_train_steps = 1500
    c.log_every = 100
    c.eval_every = 1500
    c.sample_every = 1500
    c.checkpoint_every = 500
    c.optim.learning_rate = 2e-4
    c.optim.b1 = 0.5
    c.model = ml_collections.ConfigDict(dict(
        latent_dim=100, chord=True, conditioner=True, g_steps=2,
        fm_data=0.1, fm_features=1.0, loss="nonsaturating", g_hidden=1024, g_features=128, c_features=16,
        d_features1=14, d_features2=77, d_hidden=1024))
    c.evals = ml_collections.ConfigDict({
        "test": dict(kind="split_mean", every=-1),
        "melody": dict(kind="melody_stats", every=-1, num_melodies=64, num_bars=8, num_midi=4),
    })
    return c
