"""Golden outputs of the FID Inception-v3 from an independent PyTorch implementation, on seeded random weights.

    python3.11 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch==2.13.0 numpy
    /tmp/torchenv/bin/python experiments/make_inception_golden.py [--out=tests/metrics/data/inception_golden.npz]

torch is not a dependency of the library; this script (and only it) needs it, and imports nothing of gen_jax.
The reference network below is written in plain torch after pytorch-fid's `fid_inception_v3()` (torchvision's
`Inception3` blocks with pytorch-fid's FID patches: padding-excluding average pools in the A, C and first E
blocks, a max pool in the last E block's pool branch, 1008 classes, batch norm eps 1e-3) and its
`InceptionV3` preprocessing (F.interpolate to 299x299, bilinear, align_corners=False, then 2x - 1); its module
names are pytorch-fid's, so its state_dict has the same names and shapes as pt_inception-2015-12-05.pth.

Weights are not stored: `random_state_dict(spec, seed)` (NumPy only) draws them in the order of `spec` (the
state_dict's names and shapes, stored in the golden file), so the test regenerates them from the seed and
feeds them through the same converter as real weights (`gen_jax.metrics.inception.convert_state_dict`).
The reference runs in float64 (the float32 torch result is reported beside it). Stored: the seed, the spec,
two 37x29 RGB inputs in [0, 1], pool3 [2, 2048], logits [2, 1008], subsamples of the preprocessed input and
of the block outputs (maxpool1, maxpool2, Mixed_6e), and PyTorch's bilinear resize on a few shape pairs.
"""
from __future__ import annotations

import argparse
import os

import numpy as np

SEED = 20151205
INPUT_HW = (37, 29)
RESIZE_CASES = (((5, 7), (11, 23)), ((40, 37), (13, 17)), ((9, 30), (20, 8)), ((6, 6), (6, 6)),
                ((3, 4), (299, 299)))
INPUT_ROWS = np.r_[0:299:7, 298]             # the preprocessed input, every 7th row/column and the last one
BLOCK_SUBSAMPLE = {"block0": (2, np.arange(0, 64, 16)), "block1": (2, np.arange(0, 192, 24)),
                   "block2": (1, np.arange(0, 768, 48))}  # (spatial stride, channels) of each stored block


def random_state_dict(spec, seed: int = SEED):
    """Deterministic random weights for a state_dict spec [(name, shape)], NumPy only, drawn in spec order.

    Scaled so that activations keep an O(1) size through the 94 convolutions: conv weights N(0, 2 / fan_in)
    (He et al. 2015), batch-norm scale U(0.8, 1.2), shift U(-0.1, 0.1), running mean U(-0.1, 0.1),
    running variance U(0.8, 1.2); fc weight N(0, 1 / 2048), bias U(-0.1, 0.1)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in spec:
        shape = tuple(int(s) for s in shape)
        if name.endswith("num_batches_tracked"):
            out[name] = np.zeros(shape, np.int64)
        elif name.endswith("conv.weight"):
            out[name] = (rng.standard_normal(shape) * np.sqrt(2.0 / np.prod(shape[1:]))).astype(np.float32)
        elif name == "fc.weight":
            out[name] = (rng.standard_normal(shape) / np.sqrt(shape[1])).astype(np.float32)
        elif name.endswith(("bn.weight", "bn.running_var")):
            out[name] = rng.uniform(0.8, 1.2, shape).astype(np.float32)
        elif name.endswith(("bn.bias", "bn.running_mean", "fc.bias")):
            out[name] = rng.uniform(-0.1, 0.1, shape).astype(np.float32)
        else:
            raise ValueError(f"random_state_dict: no rule for {name!r}")
    return out


def golden_inputs(seed: int = SEED):
    """The two test images [2, 37, 29, 3] in [0, 1]: a smooth gradient pattern and uniform noise."""
    rng = np.random.default_rng(seed + 1)
    h, w = INPUT_HW
    yy, xx = np.meshgrid(np.linspace(0, 1, h), np.linspace(0, 1, w), indexing="ij")
    smooth = np.stack([yy, xx, 0.5 + 0.5 * np.sin(6 * yy + 4 * xx)], -1)
    return np.stack([smooth, rng.uniform(0, 1, (h, w, 3))]).astype(np.float32)


def resize_case_input(k: int, hw):
    return np.random.default_rng(SEED + 100 + k).uniform(0, 1, (2, hw[0], hw[1], 3)).astype(np.float32)


def build_reference():
    """pytorch-fid's FID Inception-v3 in plain torch (no torchvision)."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    class BasicConv2d(nn.Module):
        def __init__(self, cin, cout, **kw):
            super().__init__()
            self.conv = nn.Conv2d(cin, cout, bias=False, **kw)
            self.bn = nn.BatchNorm2d(cout, eps=0.001)

        def forward(self, x):
            return F.relu(self.bn(self.conv(x)))

    def avg_excl(x):
        return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)

    class FIDInceptionA(nn.Module):
        def __init__(self, cin, pool_features):
            super().__init__()
            self.branch1x1 = BasicConv2d(cin, 64, kernel_size=1)
            self.branch5x5_1 = BasicConv2d(cin, 48, kernel_size=1)
            self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
            self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
            self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
            self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
            self.branch_pool = BasicConv2d(cin, pool_features, kernel_size=1)

        def forward(self, x):
            return torch.cat([self.branch1x1(x), self.branch5x5_2(self.branch5x5_1(x)),
                              self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                              self.branch_pool(avg_excl(x))], 1)

    class InceptionB(nn.Module):
        def __init__(self, cin):
            super().__init__()
            self.branch3x3 = BasicConv2d(cin, 384, kernel_size=3, stride=2)
            self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
            self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
            self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

        def forward(self, x):
            return torch.cat([self.branch3x3(x),
                              self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                              F.max_pool2d(x, kernel_size=3, stride=2)], 1)

    class FIDInceptionC(nn.Module):
        def __init__(self, cin, channels_7x7):
            super().__init__()
            c7 = channels_7x7
            self.branch1x1 = BasicConv2d(cin, 192, kernel_size=1)
            self.branch7x7_1 = BasicConv2d(cin, c7, kernel_size=1)
            self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
            self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
            self.branch7x7dbl_1 = BasicConv2d(cin, c7, kernel_size=1)
            self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
            self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
            self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
            self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
            self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

        def forward(self, x):
            b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
            bd = x
            for i in range(1, 6):
                bd = getattr(self, f"branch7x7dbl_{i}")(bd)
            return torch.cat([self.branch1x1(x), b7, bd, self.branch_pool(avg_excl(x))], 1)

    class InceptionD(nn.Module):
        def __init__(self, cin):
            super().__init__()
            self.branch3x3_1 = BasicConv2d(cin, 192, kernel_size=1)
            self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
            self.branch7x7x3_1 = BasicConv2d(cin, 192, kernel_size=1)
            self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
            self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
            self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

        def forward(self, x):
            b7 = x
            for i in range(1, 5):
                b7 = getattr(self, f"branch7x7x3_{i}")(b7)
            return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b7,
                              F.max_pool2d(x, kernel_size=3, stride=2)], 1)

    class FIDInceptionE(nn.Module):
        def __init__(self, cin, max_pool):
            super().__init__()
            self.max_pool = max_pool
            self.branch1x1 = BasicConv2d(cin, 320, kernel_size=1)
            self.branch3x3_1 = BasicConv2d(cin, 384, kernel_size=1)
            self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
            self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
            self.branch3x3dbl_1 = BasicConv2d(cin, 448, kernel_size=1)
            self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
            self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
            self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
            self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

        def forward(self, x):
            b3 = self.branch3x3_1(x)
            b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
            bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
            bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
            pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1) if self.max_pool else avg_excl(x)
            return torch.cat([self.branch1x1(x), b3, bd, self.branch_pool(pooled)], 1)

    class FIDInception(nn.Module):
        def __init__(self):
            super().__init__()
            self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
            self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
            self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
            self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
            self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
            self.Mixed_5b = FIDInceptionA(192, pool_features=32)
            self.Mixed_5c = FIDInceptionA(256, pool_features=64)
            self.Mixed_5d = FIDInceptionA(288, pool_features=64)
            self.Mixed_6a = InceptionB(288)
            self.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
            self.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
            self.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
            self.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
            self.Mixed_7a = InceptionD(768)
            self.Mixed_7b = FIDInceptionE(1280, max_pool=False)
            self.Mixed_7c = FIDInceptionE(2048, max_pool=True)
            self.fc = nn.Linear(2048, 1008)

        def forward(self, images):
            """images [N, 3, H, W] in [0, 1] -> dict of pool3, logits and block outputs (NCHW)."""
            x = F.interpolate(images, size=(299, 299), mode="bilinear", align_corners=False)
            acts = {"input": 2 * x - 1}
            x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(acts["input"])))
            acts["block0"] = x = F.max_pool2d(x, kernel_size=3, stride=2)
            x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
            acts["block1"] = x = F.max_pool2d(x, kernel_size=3, stride=2)
            for name in ("Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
                         "Mixed_6e"):
                x = getattr(self, name)(x)
            acts["block2"] = x
            x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))
            acts["pool3"] = pool3 = torch.flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1)
            acts["logits"] = self.fc(pool3)
            return acts

    return FIDInception()


def main():
    import torch
    import torch.nn.functional as F

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "metrics", "data",
                                                   "inception_golden.npz"))
    args = ap.parse_args()
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    net = build_reference().eval()
    spec = [(k, tuple(v.shape)) for k, v in net.state_dict().items()]
    weights = random_state_dict(spec, SEED)
    net.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    x = golden_inputs(SEED)
    xt = torch.from_numpy(x).permute(0, 3, 1, 2)
    with torch.no_grad():
        ref32 = net(xt)
        ref = net.double()(xt.double())
    nhwc = {k: (v.permute(0, 2, 3, 1) if v.ndim == 4 else v).numpy() for k, v in ref.items()}
    out = {"seed": np.int64(SEED), "spec_names": np.array([k for k, _ in spec]),
           "spec_shapes": np.array([",".join(map(str, s)) for _, s in spec]), "inputs": x,
           "pool3": nhwc["pool3"].astype(np.float32), "logits": nhwc["logits"].astype(np.float32),
           "input_rows": INPUT_ROWS, "input_sub": nhwc["input"][:, INPUT_ROWS][:, :, INPUT_ROWS].astype(np.float32)}
    for name, (stride, ch) in BLOCK_SUBSAMPLE.items():
        out[f"{name}_channels"] = ch
        out[f"{name}_sub"] = nhwc[name][:, ::stride, ::stride][..., ch].astype(np.float32)
    for k, (src, dst) in enumerate(RESIZE_CASES):
        xi = resize_case_input(k, src)
        yi = F.interpolate(torch.from_numpy(xi).permute(0, 3, 1, 2).double(), size=dst, mode="bilinear",
                           align_corners=False).permute(0, 2, 3, 1).numpy()
        out[f"resize{k}_out"] = (yi if dst != (299, 299) else yi[:, INPUT_ROWS][:, :, INPUT_ROWS]).astype(np.float32)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    np.savez_compressed(args.out, **out)
    for k in ("pool3", "logits"):
        a, b = ref32[k].numpy(), nhwc[k]
        print(f"{k}: |x| mean {np.abs(b).mean():.4g} max {np.abs(b).max():.4g}; torch float32 vs float64 "
              f"max abs {np.abs(a - b).max():.3g}, max rel {np.abs(a - b).max() / np.abs(b).max():.3g}")
    e = np.exp(nhwc["logits"] - nhwc["logits"].max(1, keepdims=True))
    print(f"largest softmax probability per image: {(e / e.sum(1, keepdims=True)).max(1)}")
    print(f"wrote {args.out} ({os.path.getsize(args.out) / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
