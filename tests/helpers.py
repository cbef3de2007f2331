"""Checks every experiment's tests make: one train step sharded over 8 devices equals the same step on one,
and a run killed at a checkpoint and restarted writes exactly the metrics of an uninterrupted run.

    from tests.helpers import assert_same_on_8_devices_as_on_1, assert_resume_is_exact
"""
from __future__ import annotations

import json
import os

import chex
import jax


def read_metrics(workdir):
    """The records of `workdir/metrics.jsonl`, in order."""
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


def assert_same_on_8_devices_as_on_1(exp, batches, rtol=2e-4, atol=2e-5, compare=None):
    """Runs `batches` through `exp`'s train step on one device and on all eight; parameters, model state and
    metrics must agree. `compare(state, metrics)` picks what is compared (default: params, model_state,
    metrics). Returns the two (state, metrics) pairs for further checks."""
    from gen_jax.core import steps as steps_lib

    assert len(jax.devices()) == 8, "tests/conftest.py creates 8 CPU devices before jax is imported"
    compare = compare or (lambda state, metrics: (state.params, state.model_state, metrics))
    runs = [steps_lib.run_train_steps(exp, batches, devices=devices)
            for devices in (jax.devices()[:1], jax.devices())]
    chex.assert_trees_all_close(compare(*runs[0]), compare(*runs[1]), rtol=rtol, atol=atol)
    return runs


def assert_resume_is_exact(config_for_steps, tmp_path, steps=4, killed_at=2):
    """`config_for_steps(n)` is a config that trains n steps and checkpoints at `killed_at`. One run trains
    `steps` straight; another stops at `killed_at` ("killed") and is restarted to `steps`. Their metrics files
    must be identical. Returns the records."""
    from gen_jax.core import loop

    straight, resumed = str(tmp_path / "straight"), str(tmp_path / "resumed")
    loop.train_and_evaluate(config_for_steps(steps), straight)
    loop.train_and_evaluate(config_for_steps(killed_at), resumed)
    loop.train_and_evaluate(config_for_steps(steps), resumed)
    a, b = read_metrics(straight), read_metrics(resumed)
    assert a == b
    return a
