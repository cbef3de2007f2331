"""Sample metrics between two sets of images on disk, like torch-fidelity's or clean-fid's command line.

    python -m gen_jax.metrics.compare SAMPLES REFERENCE [--extractor=inception] [--weights=inception_fid.npz]
        [--kid_subsets=100] [--kid_subset_size=1000] [--k=3] [--is_splits=10] [--no_precision_recall]
        [--key=x] [--data_dir=...] [--json]

SAMPLES and REFERENCE are each
* a folder of PNGs (all of one size; grey stays 1 channel, other modes become RGB (alpha dropped); levels / 255), or
* an `.npz` file (array `--key`, default `x`, or the only array in it), or a folder holding the `.npz` output
  of `experiments.run --mode=sample` (`samples.npz`, or the per-process `samples-<p>-of-<P>.npz`, array `x`,
  put back in sample order by `sample_index`); float arrays are images in [0, 1], uint8 arrays levels / 255.

Extractors (`gen_jax.metrics.extractors`): `inception` (default), the standard FID Inception-v3, whose
weights file the user makes once (`experiments/convert_inception_weights.py`; `--weights` or
$GEN_JAX_INCEPTION_WEIGHTS): fid, kid, kid_std, is, is_std (IS of SAMPLES), precision, recall. Any other
extractor (`pixels`, `digits_classifier`, `classifier:<dataset>`) needs no download and gives the same
metrics but IS, named after it (`frechet_pixels`, ...). Prints a table, or one JSON line with `--json`.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys

import numpy as np


def _as_unit(a, source):
    a = np.asarray(a)
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    if not np.issubdtype(a.dtype, np.floating):
        raise ValueError(f"{source}: images must be float in [0, 1] or uint8, got dtype {a.dtype}")
    return a.astype(np.float32)


def _load_npz(path, key):
    with np.load(path, allow_pickle=False) as f:
        if key in f.files:
            return f[key], (f["sample_index"] if "sample_index" in f.files else None)
        if key == "x" and len(f.files) == 1:
            return f[f.files[0]], None
        raise ValueError(f"{path}: no array {key!r} (it holds {', '.join(f.files)}); choose one with --key")


def _load_pngs(paths):
    from PIL import Image

    imgs = []
    for p in paths:
        with Image.open(p) as im:
            a = np.asarray(im.convert("L") if im.mode in ("L", "LA", "1") else im.convert("RGB"))
        imgs.append(a[..., None] if a.ndim == 2 else a)
    shapes = sorted({a.shape for a in imgs})
    if len(shapes) > 1:
        raise ValueError(f"{os.path.dirname(paths[0])}: the PNGs have {len(shapes)} different shapes "
                         f"({shapes[:3]}...); all images of a set must have one size")
    return np.stack(imgs)


def load_images(path: str, key: str = "x") -> np.ndarray:
    """Images [N, H, W, C] in [0, 1] from an .npz file, a folder of sample-mode .npz files, or a PNG folder."""
    path = os.path.expanduser(path)
    if os.path.isfile(path):
        if not path.endswith(".npz"):
            raise ValueError(f"{path}: expected an .npz file or a folder of PNGs / samples .npz")
        images, _ = _load_npz(path, key)
        return _check(_as_unit(images, path), path)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{path!r} does not exist (expected an .npz file or a folder)")
    shards = sorted(glob.glob(os.path.join(path, "samples.npz")) or
                    glob.glob(os.path.join(path, "samples-*-of-*.npz")))
    if shards:
        parts = [_load_npz(p, "x") for p in shards]      # the sample mode's format: always x
        images = np.concatenate([x for x, _ in parts])
        if all(i is not None for _, i in parts):
            images = images[np.argsort(np.concatenate([i for _, i in parts]), kind="stable")]
        return _check(_as_unit(images, path), path)
    pngs = sorted(glob.glob(os.path.join(path, "*.png")))
    if not pngs:
        raise ValueError(f"{path}: no samples.npz / samples-*-of-*.npz and no .png files in this folder")
    return _check(_load_pngs(pngs).astype(np.float32) / 255.0, path)


def _check(images, source):
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4:
        raise ValueError(f"{source}: expected images [N, H, W, C], got shape {images.shape}")
    if len(images) < 2:
        raise ValueError(f"{source}: need at least 2 images, got {len(images)}")
    if not np.all(np.isfinite(images)):
        raise ValueError(f"{source}: images contain NaN/inf")
    return images


def compare(samples, reference, extractor: str = "inception", weights=None, data_dir=None, kid_subsets: int = 100,
            kid_subset_size: int = 1000, precision_recall: bool = True, k: int = 3, is_splits: int = 10,
            key: str = "x", seed: int = 0) -> dict:
    """Metrics of the images at `samples` against those at `reference` (paths, or arrays [N, H, W, C])."""
    from gen_jax.metrics.extractors import extractor_for
    from gen_jax.metrics.feature_metrics import sample_metrics

    smp = load_images(samples, key) if isinstance(samples, str) else _check(_as_unit(samples, "samples"), "samples")
    ref = load_images(reference, key) if isinstance(reference, str) else _check(_as_unit(reference, "reference"),
                                                                                 "reference")
    ext = extractor_for(extractor, data_dir, weights=weights)
    if not getattr(ext, "standard", False) and smp.shape[1:] != ref.shape[1:]:
        raise ValueError(f"samples {smp.shape[1:]} and reference {ref.shape[1:]} differ in shape; only the "
                         f"'inception' extractor resizes (to 299x299)")
    out = {"extractor": extractor, "num_samples": int(len(smp)), "num_reference": int(len(ref))}
    out.update(sample_metrics(extractor, ext, ref, smp, kid_subsets=kid_subsets, kid_subset_size=kid_subset_size,
                              seed=seed, with_precision_recall=precision_recall, k=k, is_splits=is_splits))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m gen_jax.metrics.compare",
                                 description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 2)[2])
    ap.add_argument("samples")
    ap.add_argument("reference")
    ap.add_argument("--extractor", default="inception")
    ap.add_argument("--weights", default=None, help="the converted FID Inception .npz (inception only)")
    ap.add_argument("--data_dir", default=None, help="data directory of library-trained extractors")
    ap.add_argument("--kid_subsets", type=int, default=100)
    ap.add_argument("--kid_subset_size", type=int, default=1000)
    ap.add_argument("--k", type=int, default=3, help="precision/recall: the k of the k-NN radii")
    ap.add_argument("--is_splits", type=int, default=10)
    ap.add_argument("--no_precision_recall", action="store_true")
    ap.add_argument("--key", default="x", help="the array of .npz file inputs")
    ap.add_argument("--seed", type=int, default=0, help="seed of the KID subsets")
    ap.add_argument("--json", action="store_true", help="print one JSON line")
    args = ap.parse_args(argv)
    try:
        out = compare(args.samples, args.reference, extractor=args.extractor, weights=args.weights,
                      data_dir=args.data_dir, kid_subsets=args.kid_subsets, kid_subset_size=args.kid_subset_size,
                      precision_recall=not args.no_precision_recall, k=args.k, is_splits=args.is_splits,
                      key=args.key, seed=args.seed)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(out))
    else:
        width = max(map(len, out))
        for name, v in out.items():
            print(f"{name:<{width}}  {v:.6g}" if isinstance(v, float) else f"{name:<{width}}  {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
