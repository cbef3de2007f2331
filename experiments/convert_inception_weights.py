"""Converts pytorch-fid's FID Inception weights (a torch state_dict) into the `.npz` that gen_jax reads.

1. Download the weights once (about 92 MB; pytorch-fid's port of TensorFlow's inception-2015-12-05 graph, the
   network of the reference FID / IS code):

       wget https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth

2. Convert (needs torch, which the library does not; e.g. `python3.11 -m venv /tmp/torchenv &&
   /tmp/torchenv/bin/pip install torch numpy`; the conversion itself is gen_jax's torch-free
   `convert_state_dict`, imported from the source tree without jax when run this way):

       /tmp/torchenv/bin/python experiments/convert_inception_weights.py \
           --pth=pt_inception-2015-12-05-6726825d.pth --out=~/inception_fid.npz

   (or with the project's venv if torch is installed in it).
3. Use it: `python -m gen_jax.metrics.compare SAMPLES REFERENCE --extractor=inception
   --weights=~/inception_fid.npz`, `extractor="inception", weights=...` in a `samples` evaluator, or
   `export GEN_JAX_INCEPTION_WEIGHTS=~/inception_fid.npz`.

The `.npz` holds plain float32 arrays (no pickle) named by their Flax variable paths, and `meta/source_sha256`,
the SHA-256 of the .pth it came from (the file name's 6726825d is the first 8 hex digits of it, torch.hub's
convention; a mismatch is reported).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pth", required=True, help="pt_inception-2015-12-05-6726825d.pth")
    ap.add_argument("--out", required=True, help="the .npz to write")
    args = ap.parse_args(argv)
    import numpy as np

    try:
        import torch
    except ImportError:
        raise SystemExit("this converter needs torch to read the .pth (the library does not): e.g. "
                         "python3.11 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch numpy, then run "
                         "it with /tmp/torchenv/bin/python") from None

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from gen_jax.metrics.inception_weights import convert_state_dict

    pth, out = os.path.expanduser(args.pth), os.path.expanduser(args.out)
    if not os.path.isfile(pth):
        raise SystemExit(f"{pth!r} does not exist; download it from https://github.com/mseitzer/pytorch-fid/"
                         "releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth")
    digest = sha256(pth)
    if not digest.startswith("6726825d"):
        print(f"warning: {pth} has SHA-256 {digest[:16]}..., not pytorch-fid's 6726825d...; converting anyway",
              file=sys.stderr)
    state = torch.load(pth, map_location="cpu", weights_only=True)
    flat = convert_state_dict({k: v.detach().cpu().numpy() for k, v in state.items()})
    flat["meta/source_sha256"] = np.array(digest)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    np.savez(out, **flat)
    try:  # the full check of every name and shape needs jax (absent from a torch-only venv)
        from gen_jax.metrics.inception import load_variables
    except ImportError:
        print("(jax not importable here: every name and shape is checked when the library loads the file)")
    else:
        load_variables(out)
    values = sum(a.size for a in flat.values() if a.dtype.kind == "f")
    print(f"wrote {out}: {len(flat) - 1} arrays, {values / 1e6:.1f}M values, from {pth} (sha256 {digest[:16]}...)")


if __name__ == "__main__":
    main()
