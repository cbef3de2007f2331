"""Sliced split names ('train[:1200]', 'train[90%:]'): the arithmetic, TFDS's rounding, the loaders."""
import grain
import numpy as np
import pytest

from gen_jax import data

SIZES = {"train": 1437, "test": 360}


@pytest.mark.parametrize("split,expected", [
    ("train", ("train", 0, 1437)),
    ("train[:1200]", ("train", 0, 1200)),
    ("train[1200:]", ("train", 1200, 1437)),
    ("test[10:20]", ("test", 10, 20)),
    ("test[-60:]", ("test", 300, 360)),
    ("test[:-60]", ("test", 0, 300)),
    ("test[-20:-10]", ("test", 340, 350)),
    ("train[:]", ("train", 0, 1437)),
    ("train[:90%]", ("train", 0, 1293)),       # 0.9 * 1437 = 1293.3
    ("train[90%:]", ("train", 1293, 1437)),
    ("train[-10%:]", ("train", 1293, 1437)),   # -143.7 -> -144
    ("train[:12.5%]", ("train", 0, 180)),      # 179.625
    ("test[25%:75%]", ("test", 90, 270)),
    ("train[0%:100%]", ("train", 0, 1437)),
])
def test_split_bounds(split, expected):
    assert data.split_bounds(split, SIZES) == expected


@pytest.mark.parametrize("n", [1437, 360, 101, 7, 2])
def test_percent_bounds_use_tfds_rounding(n):
    """Same examples as tfds.load(split=...) would read: TFDS's own resolution of the same names."""
    import tensorflow_datasets as tfds

    info = {"train": tfds.core.SplitInfo(name="train", shard_lengths=[n], num_bytes=0, filename_template=None)}
    for spec in ("train[:90%]", "train[90%:]", "train[-10%:]", "train[:50%]", "train[12.5%:62.5%]",
                 "train[33.3%:66.7%]", "train[:-25%]", "train[5%:]"):
        (ref,) = tfds.core.ReadInstruction.from_spec(spec).to_absolute(info)
        want = (ref.from_ or 0, n if ref.to is None else ref.to)
        if want[0] >= want[1]:  # TFDS reads an empty slice; here that is an error
            with pytest.raises(ValueError, match="selects no examples"):
                data.split_bounds(spec, {"train": n})
        else:
            assert data.split_bounds(spec, {"train": n}) == ("train",) + want, spec


def _range_or_empty(split, n):
    try:
        _, start, stop = data.split_bounds(split, {"train": n})
        return range(start, stop)
    except ValueError as e:
        assert "selects no examples" in str(e)
        return range(0)


@pytest.mark.parametrize("n", [1437, 360, 11, 2])
def test_the_two_halves_partition_the_split(n):
    for cut in ("1", "-1", "10%", "33.3%", "50%", "90%", "-10%", "-0.1%", "99.5%", "0.1%"):
        head, tail = _range_or_empty(f"train[:{cut}]", n), _range_or_empty(f"train[{cut}:]", n)
        assert list(head) + list(tail) == list(range(n)), cut


@pytest.mark.parametrize("split,match", [
    ("train[5]", "malformed split 'train\\[5\\]'.*exactly one ':'"),
    ("train[::2]", "malformed.*no steps"),
    ("train[]", "malformed"),
    ("train[1.5:]", "malformed.*must be an integer"),
    ("train[10:50%]", "malformed.*both bounds"),
    ("train[ab:]", "malformed.*'ab' is neither"),
    ("train[:10", "malformed.*NAME\\[START:STOP\\]"),
    ("train[:2000]", "bound 2000 .*1437 examples.* out of range"),
    ("train[-1438:]", "out of range"),
    ("train[:101%]", "bound 101% is out of range"),
    ("train[10:10]", "selects no examples.*\\[10:10\\]"),
    ("train[90%:10%]", "selects no examples"),
    ("test[:0.1%]", "selects no examples"),  # 0.36 rounds to 0
    ("valid", "no split 'valid'; splits: train, test"),
    ("valid[:10]", "no split 'valid' \\(in 'valid\\[:10\\]'\\)"),
])
def test_bad_split_names_are_clear_value_errors(split, match):
    with pytest.raises(data.DataError, match=match) as err:
        data.split_bounds(split, SIZES, dataset="digits")
    assert isinstance(err.value, ValueError)


def _rows(x):
    return [r.tobytes() for r in np.asarray(x).reshape(len(x), -1)]


def test_loaders_and_arrays_over_a_sliced_split_hold_exactly_its_examples(data_dir):
    train = data.load_arrays("digits", "train", data_dir=data_dir)
    part = data.load_arrays("digits", "train[1200:]", data_dir=data_dir)
    np.testing.assert_array_equal(part["x"], train["x"][1200:])
    np.testing.assert_array_equal(part["label"], train["label"][1200:])
    part["x"][0] = 0  # fresh copies, as for a whole split
    assert data.num_examples("digits", "train[1200:]", data_dir=data_dir) == 237
    assert data.num_examples("digits", "train[:90%]", data_dir=data_dir) == 1293
    assert data.dataset_info("digits", data_dir=data_dir).splits == {"train": 1437, "test": 360}
    # eval style: every example of the slice once, in order
    loader = data.make_loader("digits", "train[1200:]", batch_size=100, data_dir=data_dir, shuffle=False,
                              num_epochs=1, drop_remainder=False)
    batches = list(loader)
    assert [len(b["label"]) for b in batches] == [100, 100, 37]
    np.testing.assert_array_equal(np.concatenate([b["x"] for b in batches]), train["x"][1200:])
    # training style: a shuffled epoch is a permutation of the slice, never an example outside it
    loader = data.make_loader("digits", "train[:1200]", batch_size=1200, data_dir=data_dir, num_epochs=1, seed=3)
    (epoch,) = list(loader)
    assert sorted(_rows(epoch["x"])) == sorted(_rows(train["x"][:1200]))
    assert _rows(epoch["x"]) != _rows(train["x"][:1200])


def test_sharding_and_resume_on_a_sliced_split(data_dir):
    test = data.load_arrays("digits", "test", data_dir=data_dir)
    seen = []
    for i in range(2):
        opts = grain.sharding.ShardOptions(shard_index=i, shard_count=2, drop_remainder=False)
        loader = data.make_loader("digits", "test[-100:]", batch_size=20, data_dir=data_dir, shuffle=False,
                                  num_epochs=1, drop_remainder=False, shard_options=opts)
        seen.append([r for b in loader for r in _rows(b["x"])])
    assert list(map(len, seen)) == [50, 50] and not set(seen[0]) & set(seen[1])
    assert sorted(seen[0] + seen[1]) == sorted(_rows(test["x"][-100:]))

    kwargs = dict(batch_size=32, data_dir=data_dir, seed=7)
    it = iter(data.make_loader("digits", "train[:90%]", **kwargs))
    for _ in range(45):  # past the first epoch of 1293 // 32 = 40 batches
        next(it)
    state = it.get_state()
    expected = [next(it)["x"] for _ in range(10)]
    it2 = iter(data.make_loader("digits", "train[:90%]", **kwargs))
    it2.set_state(state)
    for x in expected:
        np.testing.assert_array_equal(next(it2)["x"], x)


@pytest.mark.parametrize("name", ["toy2d/ring8", "user_npz"])
def test_other_in_memory_sources_slice_too(data_dir, tmp_path, name):
    if name == "user_npz":
        path = tmp_path / "mine.npz"
        np.savez(path, x=np.arange(40 * 4, dtype=np.uint8).reshape(40, 2, 2), label=np.arange(40) % 3)
        name = f"npz:{path}"
    whole = data.load_arrays(name, "train", data_dir=data_dir)
    n = len(whole["x"])
    _, cut, _ = data.split_bounds("train[75%:]", {"train": n})
    batches = list(data.make_loader(name, "train[75%:]", batch_size=8, data_dir=data_dir, shuffle=False,
                                    num_epochs=1, drop_remainder=False))
    np.testing.assert_array_equal(np.concatenate([b["x"] for b in batches]), whole["x"][cut:])
    np.testing.assert_array_equal(np.concatenate([b["label"] for b in batches]), whole["label"][cut:])


def test_a_bad_split_fails_in_make_loader_before_any_batch(data_dir):
    with pytest.raises(ValueError, match="selects no examples"):
        data.make_loader("digits", "test[300:300]", batch_size=8, data_dir=data_dir)
    with pytest.raises(ValueError, match="malformed split"):
        data.load_arrays("digits", "test[1:2:3]", data_dir=data_dir)
    # a slice smaller than one training batch is the loader's usual error, naming the sliced split
    with pytest.raises(ValueError, match="split 'test\\[:10\\]' of 'digits' has 10 examples"):
        data.make_loader("digits", "test[:10]", batch_size=16, data_dir=data_dir, num_epochs=1)
