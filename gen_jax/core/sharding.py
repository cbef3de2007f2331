"""Device mesh, batch sharding and multi-host start-up.

One step function serves one device and many: the engine compiles it with `jax.jit` over a 1-D `Mesh`
whose only axis, 'data', splits the batch. Parameters and optimizer state are replicated; a family may shard
parts of its state over the data axis too (`Experiment.state_partition`: per-device environment batches),
see `state_shardings`. With several processes, each process loads its own shard of the global batch and
`jax.make_array_from_process_local_data` assembles the global array.
"""
from __future__ import annotations

import os
from typing import Mapping, Optional, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

DATA_AXIS = "data"


def maybe_initialize_distributed(mode: str = "auto") -> bool:
    """Calls `jax.distributed.initialize()` when asked ('on') or when the environment describes a cluster.

    'auto' initialises when JAX_COORDINATOR_ADDRESS is set or a cluster manager (SLURM, Cloud TPU, ...)
    is detected by JAX; 'off' never does. Returns whether the runtime is (now) multi-process.
    """
    if mode == "off":
        return False
    if mode not in ("auto", "on"):
        raise ValueError(f"config.distributed must be 'auto', 'on' or 'off', got {mode!r}")
    if mode == "on" or os.environ.get("JAX_COORDINATOR_ADDRESS") or os.environ.get("SLURM_NTASKS", "1") != "1":
        try:
            jax.distributed.initialize()
        except RuntimeError as e:  # already initialised
            if "already" not in str(e):
                raise
    return jax.process_count() > 1


def make_mesh(devices: Optional[Sequence[jax.Device]] = None) -> Mesh:
    """A 1-D data-parallel mesh over `devices` (default: all devices of all processes).

    The axis type is Auto (not the new Explicit default) so that layers which reshape or reduce
    without sharding annotations (Dropout, BatchNorm) keep working under jit.
    """
    devices = list(jax.devices() if devices is None else devices)
    return Mesh(np.asarray(devices), (DATA_AXIS,), axis_types=(jax.sharding.AxisType.Auto,))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def data_sharded(mesh: Mesh) -> NamedSharding:
    """Leading (batch) axis split over the mesh's data axis, other axes replicated."""
    return NamedSharding(mesh, P(DATA_AXIS))


def shard_batch(batch, mesh: Mesh):
    """Places a host batch (a dict of numpy arrays, this process's share, or a dict of such dicts, one per
    named loader) on the mesh, split on the batch axis.

    Single process: `jax.device_put`. Several processes: each holds its local share and
    `jax.make_array_from_process_local_data` forms the global array.
    """
    sharding = data_sharded(mesh)
    n = mesh.devices.size
    for path, v in jax.tree_util.tree_flatten_with_path(batch)[0]:
        global_b = np.shape(v)[0] * jax.process_count()
        if global_b % n:
            raise ValueError(f"batch {path_str(path)!r} has global size {global_b}, not divisible by the {n} "
                             f"devices of the mesh: choose a batch size that is a multiple of {n}")
    if jax.process_count() == 1:
        return jax.device_put(batch, sharding)
    return jax.tree.map(lambda v: jax.make_array_from_process_local_data(sharding, np.asarray(v)), batch)


def path_str(path) -> str:
    """A pytree key path as 'a/b/0': field names, dict keys and sequence indices joined with '/'."""
    parts = []
    for k in path:
        for attr in ("name", "key", "idx"):
            if hasattr(k, attr):
                parts.append(str(getattr(k, attr)))
                break
        else:
            parts.append(str(k))
    return "/".join(parts)


def state_shardings(state, mesh: Mesh, partition: Optional[Mapping[str, P]] = None):
    """A pytree of NamedShardings for `state`: the PartitionSpec of the longest matching path prefix in
    `partition` ({'extra/env_state': P('data')}), replicated elsewhere. A prefix that matches no leaf is an
    error (a typo would otherwise silently replicate)."""
    partition = dict(partition or {})
    used = set()

    def spec(path, leaf):
        p = path_str(path)
        best = None
        for prefix in partition:
            if p == prefix or p.startswith(prefix.rstrip("/") + "/"):
                if best is None or len(prefix) > len(best):
                    best = prefix
        if best is None:
            return NamedSharding(mesh, P())
        used.add(best)
        return NamedSharding(mesh, partition[best])

    shardings = jax.tree_util.tree_map_with_path(spec, state)
    unused = set(partition) - used
    if unused:
        paths = [path_str(p) for p, _ in jax.tree_util.tree_flatten_with_path(state)[0]]
        raise ValueError(f"state_partition names {sorted(unused)}, which match no state leaf; leaves: "
                         f"{', '.join(paths[:20])}{' ...' if len(paths) > 20 else ''}")
    return shardings


def place_state(state, mesh: Mesh, partition: Optional[Mapping[str, P]] = None):
    """Puts `state` on the mesh: replicated, except the leaves `partition` shards (see `state_shardings`)."""
    if not partition:
        return replicate(state, mesh)
    return jax.device_put(state, state_shardings(state, mesh, partition))


def replicate(tree, mesh: Mesh):
    """Puts every leaf of `tree` on all devices of the mesh."""
    return jax.device_put(tree, replicated(mesh))
