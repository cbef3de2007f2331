"""Fault injection: kills at random moments and mid-save, corrupt checkpoints, poisoned states, two runs on one
workdir, damaged metrics files, skip limits and one-line errors. Everything is local and bounded."""
import glob
import json
import os
import random
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gen_jax.core import checkpoint as ckpt_lib
from gen_jax.core import logging as log_lib
from gen_jax.core import loop
from gen_jax.core import steps as steps_lib
from gen_jax.core.experiment import Experiment, register
from gen_jax.core.workdir import WorkdirLock, WorkdirLockedError
from tests.core.test_loop import tiny_vae_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STEPS = 30


def worker(workdir, *extra):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("XLA_FLAGS", None)  # one device: faster start-up
    return subprocess.Popen([sys.executable, "-m", "tests.core.fault_worker", workdir, str(STEPS), *extra],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(workdir, *extra):
    p = worker(workdir, *extra)
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0 and "DONE" in out, err[-2000:]


def metrics_bytes(workdir):
    with open(os.path.join(workdir, "metrics.jsonl"), "rb") as f:
        return f.read()


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("straight"))
    t0 = time.time()
    finish(workdir)
    return workdir, time.time() - t0


def saved_steps(workdir):
    d = os.path.join(workdir, "checkpoints")
    return [int(n) for n in os.listdir(d) if n.isdigit()] if os.path.isdir(d) else []


def kill_after_checkpoint(workdir, target: int, delay: float, timeout=120):
    """Starts the worker and SIGKILLs it `delay` s after checkpoint `target` appears; whether it was killed."""
    p = worker(workdir)
    t0 = time.time()
    while p.poll() is None and time.time() - t0 < timeout:
        if max(saved_steps(workdir), default=0) >= target:
            time.sleep(delay)
            p.send_signal(signal.SIGKILL)
            p.wait()
            return True
        time.sleep(0.002)
    p.communicate()
    return False


@pytest.mark.slow
def test_kills_at_random_moments_and_mid_save_resume_byte_identically(straight, tmp_path):
    ref, _ = straight
    workdir = str(tmp_path / "killed")
    rng = random.Random(0)
    # at random moments: some time after a random checkpoint, anywhere inside a step or a save
    assert kill_after_checkpoint(workdir, rng.randint(3, 10), rng.uniform(0.0, 0.3))
    assert kill_after_checkpoint(workdir, rng.randint(14, 22), rng.uniform(0.0, 0.3))
    # mid-save: while the temporary directory of step 27 is half written
    p = worker(workdir, "slow_save=27")
    line = p.stdout.readline()
    assert line.startswith("SAVING"), p.stderr.read()[-2000:]
    tmp_dirs = glob.glob(os.path.join(workdir, "checkpoints", "27.orbax-checkpoint-tmp*"))
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert tmp_dirs and 27 not in saved_steps(workdir)
    finish(workdir)
    assert metrics_bytes(workdir) == metrics_bytes(ref)


@pytest.mark.slow
def test_a_kill_during_the_metrics_rewrite_loses_nothing(straight, tmp_path):
    ref, _ = straight
    workdir = str(tmp_path / "rewrite")
    finish(workdir)
    # as if the run had died after logging step 30 but before saving it: the resume restores step 29 and
    # rewrites metrics.jsonl without the records of step 30
    ckpt_dir = os.path.join(workdir, "checkpoints")
    os.rename(os.path.join(ckpt_dir, str(STEPS)), os.path.join(ckpt_dir, "moved_away"))
    before = metrics_bytes(workdir)
    p = worker(workdir, "slow_rewrite")
    line = p.stdout.readline()
    assert line.strip() == "REWRITING", p.stderr.read()[-2000:]
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert metrics_bytes(workdir) == before  # the kill left the old file whole, never an empty one
    finish(workdir)
    assert metrics_bytes(workdir) == metrics_bytes(ref)


def largest_file(directory):
    files = [f for f in glob.glob(os.path.join(directory, "**"), recursive=True) if os.path.isfile(f)]
    return max(files, key=os.path.getsize)


def test_a_flipped_block_in_an_array_file_is_detected_and_the_previous_checkpoint_restored(tmp_path):
    straight, damaged = str(tmp_path / "straight"), str(tmp_path / "damaged")
    loop.train_and_evaluate(tiny_vae_config(), straight)
    loop.train_and_evaluate(tiny_vae_config(num_train_steps=15, checkpoint_every=5), damaged)
    victim = largest_file(os.path.join(damaged, "checkpoints", "15", "state"))
    size = os.path.getsize(victim)
    with open(victim, "r+b") as f:
        f.seek(size // 2)
        f.write(bytes(64))
    cp = ckpt_lib.Checkpointer(os.path.join(damaged, "checkpoints"))
    state = loop.Trainer(tiny_vae_config(), str(tmp_path / "fresh")).initial_state()
    restored, _ = cp.restore(state)
    assert int(restored.step) == 10  # 15 failed (unreadable or a wrong checksum) and was moved aside
    assert glob.glob(os.path.join(damaged, "checkpoints", "15.corrupt-*"))
    cp.close()


def test_no_good_checkpoint_is_one_clear_error_never_a_fresh_start(tmp_path):
    workdir = str(tmp_path / "run")
    loop.train_and_evaluate(tiny_vae_config(num_train_steps=10), workdir)
    for path in glob.glob(os.path.join(workdir, "checkpoints", "10", "state", "**"), recursive=True):
        if os.path.isfile(path):
            with open(path, "wb") as f:
                f.write(b"\x00garbage")
    with pytest.raises(ckpt_lib.CheckpointError, match=r"none of the 1 checkpoints in .*checkpoints could be"):
        loop.train_and_evaluate(tiny_vae_config(num_train_steps=20), workdir)


def test_a_poisoned_state_is_never_saved(tmp_path):
    workdir = str(tmp_path / "poison")
    config = tiny_vae_config(num_train_steps=6, checkpoint_every=1, log_every=1)
    config.optim.learning_rate = 1e39
    with pytest.raises((ckpt_lib.NonFiniteStateError, steps_lib.NonFiniteError)):
        loop.train_and_evaluate(config, workdir)
    cp = ckpt_lib.Checkpointer(os.path.join(workdir, "checkpoints"))
    for step in cp.all_steps():  # whatever was saved is finite
        state, _ = cp.restore(loop.Trainer(tiny_vae_config(), str(tmp_path / "f")).initial_state(), step=step)
        assert not ckpt_lib.nonfinite_paths(ckpt_lib.state_dict(state))
    cp.close()


def test_the_state_itself_is_checked_before_a_save(tmp_path):
    cp = ckpt_lib.Checkpointer(str(tmp_path / "c"))
    state = loop.Trainer(tiny_vae_config(), str(tmp_path / "f")).initial_state()
    bad = state.replace(params=jax.tree.map(lambda p: p.at[(0,) * p.ndim].set(jnp.inf), state.params))
    with pytest.raises(ckpt_lib.NonFiniteStateError, match=r"non-finite values in \d+ arrays \(first: params/"):
        cp.save(bad)
    assert cp.all_steps() == []
    cp.close()


def test_a_second_run_on_a_workdir_refuses_and_a_dead_owner_is_taken_over(tmp_path):
    workdir = str(tmp_path / "w")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        os.makedirs(workdir)
        with open(os.path.join(workdir, "run.lock"), "w") as f:
            json.dump({"pid": sleeper.pid, "host": os.uname().nodename, "start": time.time()}, f)
        with pytest.raises(WorkdirLockedError, match=rf"in use by pid {sleeper.pid}"):
            loop.Trainer(tiny_vae_config(), workdir)
    finally:
        sleeper.kill()
        sleeper.wait()
    lock = WorkdirLock(workdir).acquire()  # the owner is dead now: taken over
    assert json.load(open(lock.path))["pid"] == os.getpid()
    lock.release()
    assert not os.path.exists(lock.path)


def test_a_truncated_last_metrics_line_is_dropped_with_a_warning(tmp_path):
    workdir = str(tmp_path / "t")
    loop.train_and_evaluate(tiny_vae_config(num_train_steps=10), workdir)
    path = os.path.join(workdir, "metrics.jsonl")
    whole = log_lib.read_metrics(path)
    with open(path, "a") as f:
        f.write('{"step": 11, "split": "tra')
    assert log_lib.read_metrics(path) == whole
    loop.train_and_evaluate(tiny_vae_config(num_train_steps=20), workdir)  # resumes, repairs the file
    records = log_lib.read_metrics(path)
    assert [r["step"] for r in records] == [5, 10, 10, 15, 20, 20]


def test_nonfinite_values_are_strict_json_and_read_back(tmp_path):
    w = log_lib.MetricWriter(str(tmp_path), tensorboard=False)
    w.write_scalars(1, "train", {"a": float("nan"), "b": float("inf"), "c": 1.5})
    text = open(w.path).read()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c} in metrics.jsonl"))
    r = log_lib.read_metrics(w.path)[0]
    assert np.isnan(r["a"]) and r["b"] == float("inf") and r["c"] == 1.5


@register("test_mostly_nan")
class MostlyNaN(Experiment):
    """Every step but those with step % 10 == 0 has a NaN loss."""

    def init_state(self, rng, batch):
        return self.create_state({"w": jnp.ones(2)}, rng, tx=optax.sgd(0.1))

    def train_step(self, state, batch, rng):
        loss, g = jax.value_and_grad(lambda p: jnp.mean((batch["x"] @ p["w"]) ** 2))(state.params)
        loss = jnp.where(state.step % 10 == 0, loss, jnp.nan)
        return state.apply_gradients(g), {"loss": loss}

    def eval_step(self, state, batch, rng):
        return {"loss": (batch["x"] @ state.params["w"]) ** 2}


def test_skip_mode_stops_past_its_limit_and_keeps_skipped_steps_out_of_the_means(tmp_path):
    c = tiny_vae_config(experiment="test_mostly_nan", dataset="toy2d/ring8", nonfinite="skip")
    c.num_train_steps, c.log_every, c.eval_every, c.checkpoint_every = 30, 10, 0, 0
    c.max_consecutive_skips = 5
    with pytest.raises(steps_lib.NonFiniteError, match=r"consecutive train steps were non-finite and skipped"):
        loop.train_and_evaluate(c, str(tmp_path / "a"))
    c.max_consecutive_skips = 100
    with pytest.raises(steps_lib.NonFiniteError, match=r"of 20 train steps were non-finite.*max_skip_fraction"):
        loop.train_and_evaluate(c, str(tmp_path / "b"))
    c.max_skip_fraction = 1.0
    loop.train_and_evaluate(c, str(tmp_path / "c"))
    train = [r for r in log_lib.read_metrics(str(tmp_path / "c" / "metrics.jsonl")) if r["split"] == "train"]
    assert [r["skipped"] for r in train] == [9, 9, 9]
    assert all(np.isfinite(r["loss"]) for r in train)  # the mean of the one kept step per 10


def cli(*args, env=None):
    e = dict(os.environ, **(env or {}))
    e.pop("XLA_FLAGS", None)
    return subprocess.run([sys.executable, "-m", "experiments.run", *args], cwd=ROOT, env=e, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.slow
def test_the_command_line_prints_one_line_per_error(tmp_path):
    cfg = "--config=experiments/configs/vae_digits.py"
    wd = f"--workdir={tmp_path / 'w'}"
    cases = {
        ("--config.nonexistent=1",): r"^ConfigError: unknown config field 'nonexistent'.*closest: nonfinite",
        ("--config.dataset=digits/../mnist5k",): r"^\w*Error: .*digits/\.\./mnist5k",
        ("--config.batch_size=2000",): r"^\w*Error: .*2000",
        ("--config.dataset=no_such_set",): r"^UnknownDatasetError: unknown dataset 'no_such_set'",
    }
    nan = tmp_path / "nan.npz"
    x = np.random.default_rng(0).normal(size=(40, 2)).astype(np.float32)
    x[17, 1] = np.nan
    np.savez(nan, **{"train/x": x, "test/x": x[:8]})
    cases[(f"--config.dataset=npz:{nan}", "--config.batch_size=8")] = r"^\w*Error: .*'x'.*train.*17"
    obj = tmp_path / "obj.npz"
    np.savez(obj, **{"train/x": np.array([1, "a"], dtype=object)})  # pickled: the loader must refuse it
    cases[(f"--config.dataset=npz:{obj}",)] = r"^\w*Error: .*obj\.npz.*train/x"
    for extra, pattern in cases.items():
        r = cli(cfg, wd, *extra)
        assert r.returncode == 1, (extra, r.stderr[-3000:])
        lines = [line for line in r.stderr.strip().splitlines() if line.strip()]
        assert len(lines) == 1 and __import__("re").search(pattern, lines[0]), (extra, r.stderr[-3000:])
    r = cli(cfg, wd, "--config.nonexistent=1", "--traceback")
    assert "Traceback (most recent call last)" in r.stderr
