"""Piano rolls <-> Standard MIDI files, a user's MIDI folder as bars, and the melody statistics of MidiNet and
MuseGAN's evaluations.

A piano roll is a binary array [T, P]: roll[t, p] = 1 when MIDI pitch ``low + p`` sounds during 16th step t
(the grid of `gen_jax.data.chorale_bars`). A note is a maximal run of 1s of one pitch; so a roll -> MIDI ->
roll round trip is exact, while two repeated notes of one pitch with no rest between them come back as one
long note (the roll does not record onsets, as in MidiNet's representation).

MIDI files are written and read here (format 0 or 1, note on/off, running status; no dependency): at
``TICKS_PER_STEP`` ticks per 16th note (``4 * TICKS_PER_STEP`` per quarter) and 120 bpm; reading quantises
every note's start and end to the nearest 16th step.

Statistics (`melody_statistics`, over bars [N, T, P] binarised): MuseGAN (Dong et al. 2018, Sec. 5.2) and
MidiNet (Yang et al. 2017, Sec. 5) compare generated and real music by
  * ``empty_bar_rate``: the fraction of bars with no note;
  * ``polyphony``: the fraction of sounding time steps with more than one pitch (0 for a melody);
  * ``in_scale_ratio``: the fraction of sounding (step, pitch) cells whose pitch class is in the scale
    (C major / A natural minor: the data are transposed there);
  * the pitch-class histogram (12 bins, over sounding cells), compared by ``pitch_class_tv``: the total
    variation distance 1/2 sum |h_gen - h_ref| between the generated and the reference histograms;
  * ``boundary_interval``: the mean absolute interval (semitones) from a bar's last note to the next bar's
    first note, for bars given in sequence (what the previous-bar conditioner should make data-like);
  * ``notes_per_bar``: the mean number of note onsets (runs) per bar.
"""
from __future__ import annotations

import os
import struct

import numpy as np

from gen_jax.data.chorale_bars import LOW, MAJOR_SCALE, PITCHES, STEPS, notes_to_roll

TICKS_PER_STEP = 24
TEMPO_US = 500_000       # microseconds per quarter note: 120 bpm


# -- rolls and notes --------------------------------------------------------------------------------------

def roll_to_notes(roll, low: int = LOW):
    """[(pitch, start_step, end_step)] of a binary roll [T, P]: each maximal run of 1s of one pitch, sorted by
    start then pitch."""
    roll = np.asarray(roll)
    if roll.ndim != 2:
        raise ValueError(f"roll_to_notes: a piano roll is [steps, pitches], got shape {roll.shape}")
    on = roll > 0
    padded = np.concatenate([np.zeros((1, on.shape[1]), bool), on, np.zeros((1, on.shape[1]), bool)])
    d = np.diff(padded.astype(np.int8), axis=0)
    notes = []
    for p in range(on.shape[1]):
        starts, ends = np.flatnonzero(d[:, p] == 1), np.flatnonzero(d[:, p] == -1)
        notes.extend((low + p, int(s), int(e)) for s, e in zip(starts, ends))
    return sorted(notes, key=lambda n: (n[1], n[0]))


# -- Standard MIDI files -----------------------------------------------------------------------------------

def _vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def notes_to_midi(notes, ticks_per_step: int = TICKS_PER_STEP, velocity: int = 90, program: int = 0) -> bytes:
    """A format-0 Standard MIDI file (bytes) playing notes (pitch, start_step, end_step) on channel 0."""
    events = []
    for pitch, start, end in notes:
        if not 0 <= pitch < 128 or end <= start:
            raise ValueError(f"notes_to_midi: bad note {(pitch, start, end)} (pitch 0..127, end > start)")
        events.append((end * ticks_per_step, 0, pitch))        # note-offs first at equal times
        events.append((start * ticks_per_step, 1, pitch))
    events.sort()
    track = bytearray(b"\x00\xff\x51\x03" + TEMPO_US.to_bytes(3, "big") + b"\x00" + bytes([0xC0, program]))
    now = 0
    for tick, is_on, pitch in events:
        track += _vlq(tick - now) + bytes([0x90 if is_on else 0x80, pitch, velocity if is_on else 0])
        now = tick
    track += b"\x00\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, 4 * ticks_per_step)
    return header + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)


def _read_vlq(data, i):
    n = 0
    while True:
        b = data[i]
        i += 1
        n = (n << 7) | (b & 0x7F)
        if not b & 0x80:
            return n, i


def midi_to_notes(data: bytes, what: str = "MIDI data"):
    """(notes [(pitch, start_step, end_step)] quantised to 16th steps, all tracks and channels merged but
    drums (channel 9) left out) from the bytes of a Standard MIDI file."""
    if data[:4] != b"MThd":
        raise ValueError(f"{what} is not a Standard MIDI file (no MThd header)")
    _, _, ntracks, division = struct.unpack(">IHHH", data[4:14])
    if division & 0x8000:
        raise ValueError(f"{what}: SMPTE time division is not supported (only ticks per quarter note)")
    step = division / 4.0
    i, notes = 14, []
    for _ in range(ntracks):
        if data[i:i + 4] != b"MTrk":
            raise ValueError(f"{what}: expected a track chunk (MTrk) at byte {i}")
        length = struct.unpack(">I", data[i + 4:i + 8])[0]
        i, end, tick, status, active = i + 8, i + 8 + length, 0, 0, {}
        while i < end:
            delta, i = _read_vlq(data, i)
            tick += delta
            if data[i] & 0x80:
                status = data[i]
                i += 1
            kind = status & 0xF0
            if status == 0xFF:                                   # meta event
                i += 1
                n, i = _read_vlq(data, i)
                i += n
            elif status in (0xF0, 0xF7):                         # sysex
                n, i = _read_vlq(data, i)
                i += n
            elif kind in (0xC0, 0xD0):
                i += 1
            else:
                a, b = data[i], data[i + 1]
                i += 2
                channel = status & 0x0F
                if channel == 9 or kind not in (0x80, 0x90):
                    continue
                key = (channel, a)
                if kind == 0x90 and b > 0:
                    active.setdefault(key, []).append(tick)
                elif active.get(key):
                    t0 = active[key].pop(0)
                    s, e = int(round(t0 / step)), int(round(tick / step))
                    if e > s:
                        notes.append((a, s, e))
        i = end
    return sorted(notes, key=lambda n: (n[1], n[0]))


def midi_to_roll(data: bytes, num_steps: int | None = None, low: int = LOW, num: int = PITCHES) -> np.ndarray:
    """uint8 [num_steps, num]: the piano roll of MIDI bytes (num_steps: the last note's end when None)."""
    notes = midi_to_notes(data)
    if num_steps is None:
        num_steps = max((e for _, _, e in notes), default=0)
    return notes_to_roll(notes, num_steps, low, num)


def write_midi(path: str, roll, low: int = LOW) -> None:
    """Writes the piano roll [T, P] (any number of bars end to end) as a MIDI file."""
    with open(path, "wb") as f:
        f.write(notes_to_midi(roll_to_notes(roll, low)))


def read_midi(path: str, low: int = LOW, num: int = PITCHES, steps_per_bar: int = STEPS) -> np.ndarray:
    """uint8 [num_bars, steps_per_bar, num]: a MIDI file's notes (pitches folded into the range) as bars."""
    with open(path, "rb") as f:
        notes = midi_to_notes(f.read(), what=path)
    total = max((e for _, _, e in notes), default=0)
    bars = max(1, -(-total // steps_per_bar))
    return notes_to_roll(notes, bars * steps_per_bar, low, num).reshape(bars, steps_per_bar, num)


def midi_folder_bars(folder: str, low: int = LOW, num: int = PITCHES):
    """A user's folder of .mid/.midi files read as chorale_bars reads the chorales: dict of arrays x, prev
    [N, 16, num, 1] uint8, chord [N] (the triad of the bar's own notes), song, bar; files in sorted order.
    Save it with `save_npz` and train on ``dataset = 'npz:/path/file.npz'``."""
    from gen_jax.data.chorale_bars import chord_of

    files = sorted(f for f in os.listdir(folder) if f.lower().endswith((".mid", ".midi")))
    if not files:
        raise ValueError(f"no .mid / .midi files in {folder}")
    out = {k: [] for k in ("x", "prev", "chord", "song", "bar")}
    for s, name in enumerate(files):
        bars = read_midi(os.path.join(folder, name), low, num)
        prev = np.concatenate([np.zeros_like(bars[:1]), bars[:-1]])
        for b in range(len(bars)):
            weights = np.zeros(12)
            for p in range(num):
                weights[(low + p) % 12] += bars[b, :, p].sum()
            out["x"].append(bars[b][..., None])
            out["prev"].append(prev[b][..., None])
            out["chord"].append(chord_of(weights))
            out["song"].append(s)
            out["bar"].append(b)
    return {k: np.asarray(v, np.uint8 if k in ("x", "prev") else np.int32) for k, v in out.items()}


def save_npz(path: str, arrays, test_every: int = 10) -> None:
    """`midi_folder_bars` output as an npz of gen_jax's explicit form (songs with id % test_every == 0 ->
    test), with the kinds declared (x, prev: 2 levels; chord: 24 classes)."""
    test = arrays["song"] % test_every == 0
    out = {}
    for split, mask in (("train", ~test), ("test", test)):
        for k, v in arrays.items():
            out[f"{split}/{k}"] = v[mask]
    out.update({"num_levels/x": 2, "num_levels/prev": 2, "num_classes/chord": 24})
    np.savez(path, **out)


# -- statistics ----------------------------------------------------------------------------------------------

def pitch_class_histogram(bars, low: int = LOW) -> np.ndarray:
    """float64 [12]: the fraction of sounding cells of each pitch class (zeros when nothing sounds)."""
    bars = np.asarray(bars) > 0
    per_pitch = bars.reshape(-1, bars.shape[-1]).sum(0)
    h = np.zeros(12)
    for p, c in enumerate(per_pitch):
        h[(low + p) % 12] += c
    return h / max(h.sum(), 1)


def melody_statistics(bars, reference=None, low: int = LOW, sequences: int | None = None):
    """The statistics of the module docstring for binary bars [N, T, P] (or [N, T, P, 1]).

    reference: bars of the data to compare the pitch-class histogram with (adds ``pitch_class_tv``).
    sequences: when the N bars are S melodies of N / S consecutive bars, give S to measure
    ``boundary_interval`` within each melody (bars are then [S * L, ...] in melody-major order).
    """
    bars = np.asarray(bars)
    if bars.ndim == 4:
        bars = bars[..., 0]
    if bars.ndim != 3:
        raise ValueError(f"melody_statistics: expected bars [N, steps, pitches], got shape {bars.shape}")
    on = bars > 0
    sounding = on.sum(-1)                                          # [N, T]
    cells = on.sum()
    in_scale = np.isin((low + np.arange(on.shape[-1])) % 12, MAJOR_SCALE)
    out = {"empty_bar_rate": float(np.mean(on.sum((1, 2)) == 0)),
           "polyphony": float((sounding > 1).sum() / max((sounding > 0).sum(), 1)),
           "in_scale_ratio": float(on[..., in_scale].sum() / max(cells, 1)),
           "notes_per_bar": float(np.mean([len(roll_to_notes(b)) for b in on]))}
    if reference is not None:
        out["pitch_class_tv"] = float(0.5 * np.abs(pitch_class_histogram(on, low)
                                                   - pitch_class_histogram(reference, low)).sum())
    if sequences:
        if len(on) % sequences:
            raise ValueError(f"melody_statistics: {len(on)} bars do not split into {sequences} melodies")
        melodies = on.reshape((sequences, -1) + on.shape[1:])
        jumps = []
        for m in melodies:
            for a, b in zip(m[:-1], m[1:]):
                pa, pb = np.flatnonzero(a.any(-1)), np.flatnonzero(b.any(-1))
                if len(pa) and len(pb):       # highest pitch at the last / first sounding step
                    jumps.append(abs(np.flatnonzero(a[pa[-1]]).max() - np.flatnonzero(b[pb[0]]).max()))
        out["boundary_interval"] = float(np.mean(jumps)) if jumps else float("nan")
    return out
