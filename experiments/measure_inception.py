"""Two figures of the FID Inception-v3 in Flax: its agreement with the PyTorch reference, and its throughput.

    python -m experiments.measure_inception [--batch_size=50] [--num_images=200] [--size=32]

Agreement: the golden file's seeded random weights (`experiments/make_inception_golden.py`, an independent
float64 PyTorch implementation) through the converter, the Flax network in float32 on the golden inputs; max
abs difference, and the same relative to the largest reference value, of pool3, the logits and the stored
block activations. Throughput: `InceptionExtractor.features_and_logits` (resize to 299x299 included) on
`num_images` random `size`x`size` RGB images in batches of `batch_size`, after one compiling batch; images/s
(wall clock, and per CPU-second of the process, which a shared machine's load does not change as much) on
whatever device jax uses. Needs no download.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import jax
import numpy as np

from experiments.make_inception_golden import INPUT_ROWS, random_state_dict
from gen_jax.metrics import inception as inc

GOLDEN = os.path.join(os.path.dirname(__file__), "..", "tests", "metrics", "data", "inception_golden.npz")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch_size", type=int, default=50)
    ap.add_argument("--num_images", type=int, default=200)
    ap.add_argument("--size", type=int, default=32)
    args = ap.parse_args()
    g = dict(np.load(GOLDEN, allow_pickle=False))
    spec = [(n, tuple(int(s) for s in shp.split(",") if s)) for n, shp in zip(g["spec_names"], g["spec_shapes"])]
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "w.npz")
        np.savez(path, **inc.convert_state_dict(random_state_dict(spec, int(g["seed"]))))
        variables = inc.load_variables(path)
    out = jax.jit(lambda v, x: inc.FIDInceptionV3().apply(v, x, intermediates=True))(variables, g["inputs"])
    out = {k: np.asarray(v) for k, v in out.items()}
    pairs = {"pool3": (out["pool3"], g["pool3"]), "logits": (out["logits"], g["logits"]),
             "input": (out["input"][:, INPUT_ROWS][:, :, INPUT_ROWS], g["input_sub"])}
    for name, stride in (("block0", 2), ("block1", 2), ("block2", 1)):
        pairs[name] = (out[name][:, ::stride, ::stride][..., g[f"{name}_channels"]], g[f"{name}_sub"])
    print(f"device: {jax.devices()[0].platform} x{jax.device_count()}")
    for name, (a, r) in pairs.items():
        d = np.abs(a - r)
        print(f"agreement {name:7s} max abs {d.max():.3g}  max abs / max |ref| {d.max() / np.abs(r).max():.3g}")
    ext = inc.InceptionExtractor(variables, batch_size=args.batch_size)
    x = np.random.default_rng(0).uniform(size=(args.num_images, args.size, args.size, 3)).astype(np.float32)
    t0 = time.perf_counter()
    ext.features_and_logits(x[:args.batch_size])
    t1, c1 = time.perf_counter(), time.process_time()
    ext.features_and_logits(x)
    t2, c2 = time.perf_counter(), time.process_time()
    print(f"throughput: {args.num_images / (t2 - t1):.1f} images/s wall, {args.num_images / (c2 - c1):.2f} images per "
          f"CPU-second of this process ({args.num_images} {args.size}x{args.size} images, batches of "
          f"{args.batch_size}; first batch with compilation {t1 - t0:.1f} s; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
