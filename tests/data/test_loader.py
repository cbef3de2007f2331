"""make_loader: determinism, exact resume, sharding, eval passes, argument errors."""
import grain
import jax
import numpy as np
import pytest

from gen_jax import data


def _take(it, n):
    return [dict(next(it)) for _ in range(n)]


def _assert_same(batches_a, batches_b):
    assert len(batches_a) == len(batches_b)
    for a, b in zip(batches_a, batches_b):
        assert a.keys() == b.keys()
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])


def test_batches_have_the_documented_layout(data_dir):
    it = iter(data.make_loader("digits", "train", batch_size=32, data_dir=data_dir))
    b = next(it)
    assert set(b) == {"x", "label", "index"}
    assert b["x"].shape == (32, 8, 8, 1) and b["x"].dtype == np.uint8
    assert b["label"].shape == (32,) and b["label"].dtype == np.int32


def test_same_seed_same_batches_other_seed_other_batches(data_dir):
    make = lambda seed: iter(data.make_loader("digits", "train", batch_size=64, data_dir=data_dir, seed=seed))
    _assert_same(_take(make(3), 30), _take(make(3), 30))
    a, b = _take(make(3), 1)[0], _take(make(4), 1)[0]
    assert not np.array_equal(a["x"], b["x"])


def test_shuffled_epochs_are_permutations_and_differ(data_dir):
    """With shuffle, each epoch visits every training example exactly once, in a new order per epoch."""
    n = 1437
    train = data.load_arrays("digits", "train", data_dir=data_dir)
    keys = {row.tobytes(): i for i, row in enumerate(train["x"].reshape(n, -1))}
    loader = data.make_loader("digits", "train", batch_size=n, data_dir=data_dir, num_epochs=2, seed=0)
    epochs = [b["x"].reshape(n, -1) for b in loader]
    assert len(epochs) == 2
    orders = []
    for e in epochs:
        order = [keys[row.tobytes()] for row in e]
        orders.append(order)
        assert sorted(row.tobytes() for row in e) == sorted(row.tobytes() for row in train["x"].reshape(n, -1))
    assert orders[0] != orders[1]
    assert orders[0] != sorted(orders[0])


@pytest.mark.parametrize("name", ["digits", "ring8"])
def test_get_state_set_state_resumes_exactly(data_dir, name):
    kwargs = dict(batch_size=48, data_dir=data_dir, seed=11)
    it = iter(data.make_loader(name, "train", **kwargs))
    _take(it, 37)  # crosses an epoch boundary for digits (1437 / 48 ~ 30 batches)
    state = it.get_state()
    expected = _take(it, 40)
    # a fresh loader and iterator, restored from the state: exactly the same following batches
    it2 = iter(data.make_loader(name, "train", **kwargs))
    _take(it2, 3)
    it2.set_state(state)
    _assert_same(_take(it2, 40), expected)
    # and the state itself is plain bytes / JSON that a checkpoint can hold
    assert isinstance(state, (bytes, str, dict))


def test_eval_pass_yields_every_example_once_in_order(data_dir):
    test = data.load_arrays("digits", "test", data_dir=data_dir)
    loader = data.make_loader("digits", "test", batch_size=100, data_dir=data_dir, shuffle=False,
                              num_epochs=1, drop_remainder=False)
    batches = list(loader)
    assert [len(b["label"]) for b in batches] == [100, 100, 100, 60]
    np.testing.assert_array_equal(np.concatenate([b["x"] for b in batches]), test["x"])
    np.testing.assert_array_equal(np.concatenate([b["label"] for b in batches]), test["label"])
    assert len(list(loader)) == 4  # a loader can be iterated again


def _shard_loader(data_dir, index, count, split="test", **kw):
    opts = grain.sharding.ShardOptions(shard_index=index, shard_count=count, drop_remainder=kw.pop("shard_drop"))
    return data.make_loader("digits", split, data_dir=data_dir, shard_options=opts, **kw)


@pytest.mark.parametrize("n,count", [(359, 2), (359, 3), (101, 2), (7, 3)])
def test_eval_shards_of_uneven_size_hold_every_example_once(data_dir, n, count):
    """Several processes evaluating a split whose size they do not divide: together they read every
    example exactly once (grain's own sharding loses one record here), shard sizes differing by at most one."""
    labels = []
    for i in range(count):
        loader = _shard_loader(data_dir, i, count, split=f"test[:{n}]", batch_size=3 * count, shuffle=False,
                               num_epochs=1, drop_remainder=False, shard_drop=False)
        labels.append(np.concatenate([b["label"] for b in loader]))
    sizes = [len(l) for l in labels]
    assert sum(sizes) == n and max(sizes) - min(sizes) <= 1
    np.testing.assert_array_equal(np.concatenate(labels), data.load_arrays("digits", f"test[:{n}]",
                                                                           data_dir=data_dir)["label"])


def test_shard_range():
    assert data.shard_range(10, 0, 3, drop_remainder=True) == (0, 3)
    assert data.shard_range(10, 2, 3, drop_remainder=True) == (6, 9)
    assert [data.shard_range(10, i, 3, drop_remainder=False) for i in range(3)] == [(0, 4), (4, 7), (7, 10)]


def test_two_shards_are_disjoint_and_cover_the_split(data_dir):
    test = data.load_arrays("digits", "test", data_dir=data_dir)
    rows = sorted(r.tobytes() for r in test["x"].reshape(360, -1))
    # eval style: every example exactly once over the two shards
    seen = []
    for i in range(2):
        loader = _shard_loader(data_dir, i, 2, batch_size=64, shuffle=False, num_epochs=1, drop_remainder=False,
                               shard_drop=False)
        batches = list(loader)
        assert all(len(b["label"]) <= 32 for b in batches)  # 64 global -> 32 per shard
        seen.append([r.tobytes() for b in batches for r in b["x"].reshape(len(b["x"]), -1)])
    assert len(seen[0]) == len(seen[1]) == 180
    assert not set(seen[0]) & set(seen[1])
    assert sorted(seen[0] + seen[1]) == rows
    # training style (shuffled, sharded): still disjoint shards, same number of batches each
    seen = []
    for i in range(2):
        loader = _shard_loader(data_dir, i, 2, batch_size=20, shuffle=True, seed=5, num_epochs=1,
                               drop_remainder=True, shard_drop=True)
        seen.append([r.tobytes() for b in loader for r in b["x"].reshape(len(b["x"]), -1)])
    assert len(seen[0]) == len(seen[1]) == 180
    assert not set(seen[0]) & set(seen[1]) and sorted(seen[0] + seen[1]) == rows


def test_default_sharding_is_by_jax_process(data_dir):
    from gen_jax.data import loader as loader_lib

    opts = loader_lib._default_shard_options(True)  # pylint: disable=protected-access
    assert isinstance(opts, grain.sharding.ShardByJaxProcess)
    assert (opts.shard_index, opts.shard_count) == (jax.process_index(), jax.process_count()) == (0, 1)
    # one process reads the whole split
    loader = data.make_loader("digits", "test", batch_size=72, data_dir=data_dir, shuffle=False, num_epochs=1,
                              drop_remainder=False)
    assert sum(len(b["label"]) for b in loader) == 360


def test_global_batch_must_divide_over_processes(data_dir):
    opts = grain.sharding.ShardOptions(shard_index=0, shard_count=3)
    with pytest.raises(ValueError, match="batch_size 32 is not divisible .* 3"):
        data.make_loader("digits", "train", batch_size=32, data_dir=data_dir, shard_options=opts)


@pytest.mark.parametrize("kwargs,match", [
    (dict(batch_size=0), "batch_size"),
    (dict(batch_size=8, seed=-1), "seed"),
    (dict(batch_size=1000, num_epochs=1), "fewer than one batch"),
])
def test_bad_arguments(data_dir, kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.make_loader("digits", "test", data_dir=data_dir, **kwargs)


def test_unknown_split(data_dir):
    with pytest.raises(ValueError, match="no split 'validation'.*train, test"):
        data.make_loader("digits", "validation", batch_size=8, data_dir=data_dir)
    with pytest.raises(ValueError, match="no split"):
        data.load_arrays("digits", "valid", data_dir=data_dir)


def test_loader_throughput_is_reasonable(data_dir):
    """Guards the in-memory fast path: grain's per-record cost on TFDS records is ~10x higher."""
    import time

    it = iter(data.make_loader("digits", "train", batch_size=128, data_dir=data_dir))
    next(it)
    t = time.perf_counter()
    for _ in range(20):
        next(it)
    assert (time.perf_counter() - t) / 20 < 0.1  # seconds per batch of 128, generous for slow CI


@pytest.mark.parametrize("num_epochs", [None, 1])
def test_a_training_batch_larger_than_the_split_is_an_error(data_dir, num_epochs):
    """batch_size=2000 on the 1,437 training digits would train on repeated examples."""
    with pytest.raises(data.DataError, match=r"split 'train' of 'digits' has 1437 examples, fewer than one batch "
                                             r"of 2000 \(batch_size 2000\)"):
        data.make_loader("digits", "train", batch_size=2000, data_dir=data_dir, num_epochs=num_epochs)
    opts = grain.sharding.ShardOptions(shard_index=0, shard_count=2, drop_remainder=True)
    with pytest.raises(data.DataError, match=r"360 examples \(180 per shard of 2\), fewer than one batch of 200 per "
                                             r"shard \(batch_size 400\)"):
        data.make_loader("digits", "test", batch_size=400, data_dir=data_dir, shard_options=opts)
    # an eval pass keeps its short batch
    (batch,) = data.make_loader("digits", "test", batch_size=2000, data_dir=data_dir, shuffle=False, num_epochs=1,
                                drop_remainder=False)
    assert len(batch["x"]) == 360


def test_loaders_select_features(data_dir):
    b = next(iter(data.make_loader("digits", "test", batch_size=8, data_dir=data_dir, shuffle=False,
                                   features=["index", "x"])))
    assert set(b) == {"index", "x"}
    np.testing.assert_array_equal(b["index"], data.load_arrays("digits", "test", data_dir=data_dir)["index"][:8])
    with pytest.raises(data.DataError, match="no feature 'label_x'; its features: x, label, index"):
        data.make_loader("digits", "test", batch_size=8, data_dir=data_dir, features=["label_x"])
