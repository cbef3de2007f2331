"""Validation split carved from train, and the best state by a validation metric (early stopping)."""
import os
import shutil

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gen_jax.core import checkpoint as ckpt_lib
from gen_jax.core import loop
from gen_jax.core import sharding as sh
from gen_jax.core.experiment import Experiment, register
from gen_jax.core.state import TrainState
from tests.core.test_loop import read_metrics, tiny_vae_config


@register("test_walk_past_the_mean")
class WalkPastTheMean(Experiment):
    """A point w that walks along the diagonal, from (-0.6, -0.6) by +0.05 per step, past the mean of the
    ring8 points (about the origin): the mean squared distance of the data to w falls, then rises, so its
    minimum over the run lies in the middle (step 12), not at the end."""

    def init_state(self, rng, batch):
        return TrainState.create(params={"w": jnp.full(2, -0.6)}, tx=optax.sgd(0.05), rng=rng)

    def train_step(self, state, batch, rng):
        loss, g = jax.value_and_grad(lambda p: -jnp.sum(p["w"]) + 0.0 * jnp.sum(batch["x"]))(state.params)
        return state.apply_gradients(g), {"loss": loss}

    def eval_step(self, state, batch, rng):
        sq = jnp.sum((batch["x"] - state.params["w"]) ** 2, axis=-1)
        return {"sq_dist": sq, "neg_sq_dist": -sq}


def walk_config(**overrides):
    # Small validation and test slices: the loader's per-example cost, not the model, dominates here.
    c = tiny_vae_config(experiment="test_walk_past_the_mean", dataset="toy2d/ring8", train_split="train[:-400]",
                        validation_split="train[-400:]", eval_split="test[:400]", select_best="sq_dist")
    c.num_train_steps, c.log_every, c.eval_every, c.checkpoint_every = 20, 5, 2, 10
    c.eval_batch_size = 200
    for k, v in overrides.items():
        c[k] = v
    return c


def restored_best(config, workdir):
    """The eval-split metrics of workdir/best, restored by hand (not through Trainer.run)."""
    trainer = loop.Trainer(config, workdir)
    try:
        best = ckpt_lib.Checkpointer(os.path.join(workdir, "best"), keep=1,
                                     best_metric=f"validation/{config.select_best}", best_mode=config.select_best_mode)
        state, _ = best.restore(trainer.initial_state())
        best.close()
        return int(state.step), trainer.evaluate(sh.replicate(state, trainer.mesh))
    finally:
        trainer.close()


@pytest.mark.parametrize("metric,mode,pick", [("sq_dist", "min", np.argmin), ("neg_sq_dist", "max", np.argmax)])
def test_selected_step_is_the_best_validation_step(tmp_path, metric, mode, pick):
    workdir = str(tmp_path / "walk")
    config = walk_config(select_best=metric, select_best_mode=mode)
    result = loop.train_and_evaluate(config, workdir)
    records = read_metrics(workdir)
    val = [r for r in records if r["split"] == "validation"]
    assert [r["step"] for r in val] == list(range(2, 21, 2))
    best = val[int(pick([r[metric] for r in val]))]
    assert result["best_step"] == best["step"] == 12  # the walk passes the data mean mid-run
    assert result[f"best_validation_{metric}"] == best[metric]
    # the returned figures are the test metrics of the restored best state, logged once as 'test_best'
    step, test = restored_best(config, workdir)
    assert step == 12 and {k: result[k] for k in test} == test
    (summary,) = [r for r in records if r["split"] == "test_best"]
    assert summary == {"step": 12, "split": "test_best", **test}
    last_test = [r for r in records if r["split"] == "test"][-1]
    assert last_test["step"] == 20 and last_test["sq_dist"] > test["sq_dist"]
    assert sorted(os.listdir(os.path.join(workdir, "best"))) == ["12"]  # max_to_keep=1
    # --mode=eval evaluates the best checkpoint too, into its own file that says what was scored
    again = loop.evaluate_checkpoint(config, workdir, overrides=["--config.x=1"])
    assert again == result
    (record,) = read_metrics(workdir, "evaluations.jsonl")
    assert {k: record[k] for k in test} == test
    assert {k: record[k] for k in ("step", "evaluator", "kind", "dataset", "split", "num_examples", "overrides")} == {
        "step": 12, "evaluator": "test", "kind": "split_mean", "dataset": "toy2d/ring8", "split": "test[:400]",
        "num_examples": 400, "overrides": ["--config.x=1"]}


def test_resume_keeps_the_best_saved_after_the_last_checkpoint(tmp_path):
    """A run that dies between a best save (step 12) and the next checkpoint (20) resumes from 10, keeps
    the best of step 12, and ends exactly as a run that never stopped."""
    straight = str(tmp_path / "straight")
    expected = loop.train_and_evaluate(walk_config(), straight)

    killed = str(tmp_path / "killed")
    loop.train_and_evaluate(walk_config(), killed)
    shutil.rmtree(os.path.join(killed, "checkpoints", "20"))  # died before checkpointing step 20
    assert ckpt_lib.Checkpointer(os.path.join(killed, "checkpoints")).latest_step() == 10
    assert loop.train_and_evaluate(walk_config(), killed) == expected
    assert read_metrics(killed) == read_metrics(straight)
    assert os.listdir(os.path.join(killed, "best")) == ["12"]


def test_select_best_errors_name_the_problem(tmp_path, caplog):
    with pytest.raises(ValueError, match=r"select_best='sq_dist'.*validation_split is empty"):
        loop.Trainer(walk_config(validation_split=""), str(tmp_path / "a"))
    with pytest.raises(ValueError, match=r"select_best_mode must be 'min' or 'max', got 'lowest'"):
        loop.Trainer(walk_config(select_best_mode="lowest"), str(tmp_path / "b"))
    with pytest.raises(ValueError, match=r"select_best='validation/nll_nats': 'nll_nats' is not a metric .*: neg_sq_dist, sq_dist"):
        loop.train_and_evaluate(walk_config(select_best="nll_nats"), str(tmp_path / "c"))
    assert not os.path.exists(tmp_path / "c" / "metrics.jsonl")  # failed before the first step
    with pytest.raises(ValueError, match=r"malformed split 'train\[80%\]'"):
        loop.Trainer(walk_config(validation_split="train[80%]"), str(tmp_path / "d"))
    with pytest.raises(ValueError, match=r"no split 'valid'"):
        loop.Trainer(walk_config(eval_split="valid"), str(tmp_path / "e"))
    # not an error, but said: a validation split that overlaps the training examples selects on them
    loop.Trainer(walk_config(train_split="train[:-100]"), str(tmp_path / "f")).close()
    assert "shares 300 examples with config.train_split='train[:-100]'" in caplog.text


@pytest.fixture(scope="module")
def vae_best_run(tmp_path_factory):
    """The tiny VAE of test_loop, trained on train[:1200] with validation on train[1200:], by IWAE NLL."""
    config = tiny_vae_config(train_split="train[:1200]", validation_split="train[1200:]", select_best="nll_nats")
    workdir = str(tmp_path_factory.mktemp("vae") / "straight")
    return config, workdir, loop.train_and_evaluate(config, workdir)


def test_vae_reports_the_test_metrics_of_its_restored_best_state(vae_best_run):
    config, workdir, result = vae_best_run
    records = read_metrics(workdir)
    val = [r for r in records if r["split"] == "validation"]
    assert [r["step"] for r in val] == [10, 20]
    assert result["best_step"] == val[int(np.argmin([r["nll_nats"] for r in val]))]["step"]
    step, test = restored_best(config, workdir)
    assert step == result["best_step"]
    chex.assert_trees_all_equal({k: result[k] for k in test}, test)
    # the training loader really drew from train[:1200] only: what differs from a plain run is the data
    assert [r["split"] for r in records if r["step"] == 10] == ["train", "test", "validation"]


def test_vae_resume_keeps_the_best_and_is_bit_exact(vae_best_run, tmp_path):
    config, workdir, result = vae_best_run
    resumed = str(tmp_path / "resumed")
    loop.train_and_evaluate(tiny_vae_config(**{k: config[k] for k in ("train_split", "validation_split",
                                                                      "select_best")}, num_train_steps=10), resumed)
    assert os.listdir(os.path.join(resumed, "best")) == ["10"]
    assert loop.train_and_evaluate(config, resumed) == result
    assert read_metrics(resumed) == read_metrics(workdir)
