"""Preparing an embedded dataset from several processes at once (parallel test workers, two runs on one
machine): they take turns on a lock in the data_dir, and every one of them reads the same prepared copy."""
import multiprocessing as mp
import os


def _load(data_dir, queue):
    from gen_jax import data

    a = data.load_arrays("toy2d/two_moons", "test[:5]", data_dir=data_dir)
    queue.put(a["x"].tolist())


def test_concurrent_preparations_take_turns_and_agree(tmp_path):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_load, args=(str(tmp_path), queue)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    results = [queue.get(timeout=5) for _ in procs]
    assert results[0] == results[1] == results[2]
    assert os.path.exists(tmp_path / ".prepare-toy2d_two_moons.lock")
