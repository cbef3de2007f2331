"""grain DataLoaders over any dataset name, sharded per JAX process, resumable (`make_loader`)."""
from __future__ import annotations

import os
from typing import Any, Iterable

import grain
import numpy as np

from gen_jax.data.errors import DataError
from gen_jax.data.registry import resolve
from gen_jax.data.sources import ArraySource, RangeSource

# In memory, reading in the main thread is fastest (grain's prefetch threads only add overhead).
_IN_MEMORY_READ = grain.ReadOptions(num_threads=0, prefetch_buffer_size=0)
_STREAM_READ = grain.ReadOptions(num_threads=8, prefetch_buffer_size=128)


def _default_shard_options(drop_remainder: bool):
    return grain.sharding.ShardByJaxProcess(drop_remainder=drop_remainder)


def shard_range(n: int, index: int, count: int, drop_remainder: bool) -> tuple[int, int]:
    """The contiguous records [start, stop) of shard `index` of `count` over n records.

    drop_remainder: every shard gets n // count records (the last n % count are left out: training, where
    processes must take the same number of steps); otherwise the shards differ in size by at most one and
    together hold every record once (evaluation).
    """
    if drop_remainder:
        size = n // count
        return index * size, (index + 1) * size
    q, r = divmod(n, count)
    start = index * q + min(index, r)
    return start, start + q + (1 if index < r else 0)


def make_loader(
    name: str,
    split: str,
    *,
    batch_size: int,
    data_dir: str | os.PathLike | None = None,
    shuffle: bool = True,
    seed: int = 0,
    num_epochs: int | None = None,
    drop_remainder: bool = True,
    shard_options: Any = None,
    features: Iterable[str] | None = None,
) -> grain.DataLoader:
    """A grain DataLoader of batches {feature: [b, *shape]} for this JAX process.

    Args:
      name, split, data_dir: as in `load_arrays` (so `split` may be sliced: 'train[:1200]'; sharding,
        shuffling and get_state/set_state then work on the examples of the slice).
      batch_size: the GLOBAL batch size; each of the jax.process_count() processes yields batches of
        batch_size // process_count examples (it must divide), to be assembled into the global batch
        with `jax.make_array_from_process_local_data`. With drop_remainder, a per-process batch larger
        than the process's shard of the split is an error (it would repeat examples within a batch).
      shuffle, seed: global shuffle of each process's shard, reshuffled every epoch, fully determined by
        seed (a non-negative 32-bit int).
      num_epochs: None repeats forever (training); 1 for a single pass (eval).
      drop_remainder: drop the last incomplete batch, and shard so that every process has the same number
        of examples (training). Eval use: shuffle=False, num_epochs=1, drop_remainder=False yields every
        example once; with several processes their shards may then differ by one example, so the last
        batches can differ in size between processes (pad them before assembling a global array).
      shard_options: overrides grain.sharding.ShardByJaxProcess(drop_remainder=drop_remainder), e.g.
        grain.sharding.ShardOptions(shard_index=i, shard_count=n) to simulate n processes.
      features: the feature names a batch holds (default: every feature whose kind is not 'text').

    The iterator `it = iter(loader)` has `it.get_state()` / `it.set_state(state)`: restoring a state gives
    exactly the batches that followed it (checkpoint it with grain.checkpoint.CheckpointSave/Restore).
    """
    ds = resolve(name, data_dir)
    source = ds.source(split, features)
    if shard_options is None:
        shard_options = _default_shard_options(drop_remainder)
    shard_count = int(shard_options.shard_count)
    if not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if batch_size % shard_count:
        raise ValueError(
            f"the global batch_size {batch_size} is not divisible by the number of data shards "
            f"(JAX processes) {shard_count}"
        )
    per_shard = batch_size // shard_count
    if not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2**32:
        raise ValueError(f"seed must be an integer in [0, 2**32), got {seed!r}")
    n = len(source)
    if drop_remainder and n // shard_count < per_shard:
        shards = f" ({n // shard_count} per shard of {shard_count})" if shard_count > 1 else ""
        raise DataError(
            f"split {split!r} of {ds.info.name!r} has {n} examples{shards}, fewer than one batch of "
            f"{per_shard}{' per shard' if shard_count > 1 else ''} (batch_size {batch_size}) with "
            "drop_remainder=True: no batch would be produced, or every batch would repeat examples. Use a "
            "smaller batch_size"
        )
    # Each process reads its own contiguous range of records; grain then sees one unsharded source. (grain
    # 0.2.18's sampler + DataLoader sharding loses a record when shard sizes differ: with 101 records and
    # 2 shards, record 50 is never read.)
    read_options = _IN_MEMORY_READ if isinstance(source, ArraySource) else _STREAM_READ
    if shard_count > 1:
        start, stop = shard_range(n, int(shard_options.shard_index), shard_count,
                                  bool(shard_options.drop_remainder))
        source = RangeSource(source, start, stop)
    sampler = grain.samplers.IndexSampler(
        num_records=len(source),
        shard_options=grain.sharding.NoSharding(),
        shuffle=shuffle,
        num_epochs=num_epochs,
        seed=int(seed),
    )
    return grain.DataLoader(
        data_source=source,
        sampler=sampler,
        operations=[grain.transforms.Batch(batch_size=per_shard, drop_remainder=drop_remainder)],
        worker_count=0,
        shard_options=grain.sharding.NoSharding(),
        read_options=read_options,
    )
