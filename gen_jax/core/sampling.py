"""Sample mode: write N samples of a trained model to disk, for an outside tool (FID, listening, rendering).

    python -m experiments.run --mode=sample --config=... --workdir=... --num_samples=10000 --out=DIR \
        [--sample_seed=0] [--sample_chunk=250] [--sample_format=npz,png] [--sample_kwargs='{"sampler": "ddim"}']

The samples are cut into units of `chunk` samples; unit u is drawn by the experiment's `sample` hook with the
key fold_in(PRNGKey(seed), u) (and, for a conditional model, the labels i mod C of its samples i), so the
output depends only on the checkpoint, the seed and the chunk size: not on the device or process count.
Units are spread over the processes (unit u on process u mod P) and, within a process, drawn D at a time,
one per local device (the hook vmapped over D keys sharded over the local devices). Each process writes
`samples-<p>-of-<P>.npz` (one process: `samples.npz`) holding `x` [n, ...] and `sample_index` [n] (and
`label` when conditional), and/or one PNG per image named by its sample index. Images are written as
uint8 levels round(255 x); 2-D points only as npz.
"""
from __future__ import annotations

import json
import os
from typing import Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

FORMATS = ("npz", "png")


def sample_units(num_samples: int, chunk: int):
    """[(unit, first sample index, size)] covering 0..num_samples-1."""
    return [(u, s, min(chunk, num_samples - s)) for u, s in enumerate(range(0, num_samples, chunk))]


def draw(experiment, state, num_samples: int, seed: int = 0, chunk: int = 250, sample_kwargs=None,
         devices: Optional[Sequence] = None, progress: bool = True):
    """This process's samples: (x [n, ...] float32 host array, sample indices [n], labels [n] or None)."""
    sample_kwargs = dict(sample_kwargs or {})
    num_classes = int(getattr(experiment, "num_classes", 0) or 0)
    root = jax.random.PRNGKey(seed)
    units = [u for u in sample_units(num_samples, chunk) if u[0] % jax.process_count() == jax.process_index()]
    devices = list(devices or jax.local_devices())
    mesh = Mesh(np.asarray(devices), ("units",))

    def one(key, labels):
        return experiment.sample(state, key, chunk, labels=labels, **sample_kwargs)

    group_fn = jax.jit(jax.vmap(one), in_shardings=NamedSharding(mesh, P("units")),
                       out_shardings=NamedSharding(mesh, P("units")))
    bar = None
    if progress and jax.process_index() == 0 and len(units) > 1:
        from tqdm.auto import tqdm

        bar = tqdm(total=sum(u[2] for u in units), desc="sampling", delay=2.0, dynamic_ncols=True)
    xs, idx = [], []
    for g in range(0, len(units), len(devices)):
        group = units[g:g + len(devices)]
        pad = len(devices) - len(group)
        keys = jnp.stack([jax.random.fold_in(root, u) for u, _, _ in group] + [root] * pad)
        labels = None
        if num_classes:
            labels = jnp.asarray(np.stack([(np.arange(s, s + chunk)) % num_classes for _, s, _ in group]
                                          + [np.zeros(chunk, np.int64)] * pad), jnp.int32)
        out = np.asarray(jax.device_get(group_fn(keys, labels)), np.float32)
        for (u, s, size), block in zip(group, out):
            xs.append(block[:size])
            idx.append(np.arange(s, s + size))
            if bar is not None:
                bar.update(size)
    if bar is not None:
        bar.close()
    if not xs:
        return np.zeros((0,)), np.zeros((0,), np.int64), None
    index = np.concatenate(idx)
    labels = (index % num_classes).astype(np.int32) if num_classes else None
    return np.concatenate(xs), index, labels


def write(out_dir: str, x, index, labels=None, formats=("npz",)) -> list:
    """Writes this process's samples; returns the paths written."""
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"unknown sample format(s) {sorted(unknown)}; known: {', '.join(FORMATS)}")
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    name = "samples.npz" if jax.process_count() == 1 else \
        f"samples-{jax.process_index():05d}-of-{jax.process_count():05d}.npz"
    if "npz" in formats:
        arrays = {"x": x, "sample_index": index}
        if labels is not None:
            arrays["label"] = labels
        path = os.path.join(out_dir, name)
        tmp = path + ".tmp.npz"
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
        paths.append(path)
    if "png" in formats:
        if x.ndim != 4:
            raise ValueError(f"png output needs images [N, H, W, C], got samples of shape {x.shape[1:]}")
        from PIL import Image

        for i, img in zip(index, x):
            a = np.clip(np.round(img * 255.0), 0, 255).astype(np.uint8)
            a = a[..., 0] if a.shape[-1] == 1 else a
            p = os.path.join(out_dir, f"{int(i):06d}.png")
            Image.fromarray(a).save(p)
            paths.append(p)
    return paths


def sample_checkpoint(config, workdir: str, num_samples: int, out_dir: str, seed: int = 0, chunk: int = 250,
                      formats=("npz",), sample_kwargs=None, devices=None) -> dict:
    """Restores the latest checkpoint of `workdir` (model state only) and writes `num_samples` samples."""
    from gen_jax.core import checkpoint as ckpt_lib
    from gen_jax.core.loop import Trainer

    if num_samples < 1:
        raise ValueError(f"--num_samples must be >= 1, got {num_samples}")
    trainer = Trainer(config, workdir, devices=devices, mode="eval")
    try:
        if trainer.checkpointer.latest_step() is None:
            raise ckpt_lib.CheckpointError(f"no checkpoint in {trainer.checkpointer.directory}: train first")
        state = trainer.restore_or_init()
        x, index, labels = draw(trainer.experiment, state, num_samples, seed, chunk, sample_kwargs,
                                progress=config.get("progress_bar", True))
        paths = write(out_dir, x, index, labels, formats)
        info = {"workdir": os.path.abspath(workdir), "step": int(jax.device_get(state.step)),
                "num_samples": int(num_samples), "seed": int(seed), "chunk": int(chunk),
                "sample_kwargs": dict(sample_kwargs or {}), "formats": list(formats), "shape": list(x.shape[1:])}
        if jax.process_index() == 0:
            with open(os.path.join(out_dir, "samples.json"), "w") as f:
                json.dump(info, f, indent=1)
        return {**info, "written": len(paths)}
    finally:
        trainer.close()
