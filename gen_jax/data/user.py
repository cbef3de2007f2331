"""The user's own data: ``npz:/path/file.npz`` and ``folder:/path/to/images``, read whole into memory.

npz convention (loaded with ``allow_pickle=False``):

* ``x``           required, the train split: [N, H, W, C] images, [N, H, W] grey images (a channel axis of
                  size 1 is added), or [N, D] vectors (e.g. 2-D points).
* ``label``       optional, integer [N] (missing -> every label is -1).
* ``x_test``      optional, the test split, same per-example shape as ``x``.
* ``label_test``  optional, integer [N_test] (needs ``x_test``).
* ``num_levels``  optional integer scalar K: the data are integer levels 0..K-1.
  Without it: bool -> 2 levels (stored as uint8 0/1), uint8 -> 256 levels, floating point -> continuous
  (num_levels None), any other integer dtype -> max + 1 over both splits.

folder convention (PNG / JPEG files, extensions .png .jpg .jpeg in any case, read with Pillow):

* ``folder/train/`` and ``folder/test/`` sub-folders, if present (and nothing else at the top), are the
  splits; otherwise the whole folder is the ``train`` split.
* inside a split, either one sub-folder per class (class index = position of the sub-folder name in the
  sorted list of all class names found in any split) or only image files (labels -1, num_classes None).
* every image must have the same width and height (else DataShapeError naming the file). Grey images
  (modes "1", "L") give C = 1; if any image is colour, all are converted to RGB (C = 3); alpha is dropped.
  Values are uint8, 256 levels. Files are read in sorted path order.
"""
from __future__ import annotations

import os

import numpy as np

from gen_jax.data.errors import DataError, DataShapeError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")


def _as_images(x: np.ndarray, what: str) -> np.ndarray:
    if x.ndim < 2:
        raise DataShapeError(f"{what}: expected [N, H, W(, C)] images or [N, D] vectors, got shape {x.shape}")
    if x.ndim == 3:
        x = x[..., None]
    if x.shape[0] == 0:
        raise DataShapeError(f"{what}: no examples (shape {x.shape})")
    return x


def _labels(label, n: int, what: str) -> np.ndarray:
    if label is None:
        return np.full((n,), -1, np.int32)
    label = np.asarray(label)
    if label.shape != (n,):
        raise DataShapeError(f"{what}: expected labels of shape ({n},) to match the images, got {label.shape}")
    if label.size and not np.issubdtype(label.dtype, np.integer):
        if not np.all(label == np.round(label)):
            raise DataShapeError(f"{what}: labels must be integers, got dtype {label.dtype}")
    return label.astype(np.int32)


def load_npz(path: str) -> tuple[dict[str, dict[str, np.ndarray]], int | None]:
    """Reads an npz file by the convention above: ({split: {'x', 'label'}}, num_levels)."""
    if not os.path.isfile(path):
        raise DataError(f"npz dataset: no such file {path!r}")
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    if "x" not in arrays:
        raise DataShapeError(f"{path}: the npz file has no array 'x' (found: {sorted(arrays)})")
    if "label_test" in arrays and "x_test" not in arrays:
        raise DataShapeError(f"{path}: 'label_test' given without 'x_test'")
    splits = {}
    for split, xk, lk in (("train", "x", "label"), ("test", "x_test", "label_test")):
        if xk not in arrays:
            continue
        x = _as_images(np.asarray(arrays[xk]), f"{path}:{xk}")
        splits[split] = {"x": x, "label": _labels(arrays.get(lk), len(x), f"{path}:{lk}")}
    if "test" in splits and splits["test"]["x"].shape[1:] != splits["train"]["x"].shape[1:]:
        raise DataShapeError(
            f"{path}: 'x_test' examples have shape {splits['test']['x'].shape[1:]}, "
            f"but 'x' examples have shape {splits['train']['x'].shape[1:]}"
        )
    dtypes = {s: d["x"].dtype for s, d in splits.items()}
    if len(set(dtypes.values())) > 1:
        raise DataShapeError(f"{path}: 'x' and 'x_test' have different dtypes {dtypes}")
    dtype = splits["train"]["x"].dtype
    if "num_levels" in arrays:
        num_levels = int(np.asarray(arrays["num_levels"]).reshape(()))
        if num_levels < 2:
            raise DataError(f"{path}: num_levels must be >= 2, got {num_levels}")
        for s, d in splits.items():
            if d["x"].min() < 0 or d["x"].max() > num_levels - 1:
                raise DataError(f"{path}: {s} values lie outside the levels 0..{num_levels - 1}")
    elif dtype == np.bool_:
        num_levels = 2
    elif dtype == np.uint8:
        num_levels = 256
    elif np.issubdtype(dtype, np.floating):
        num_levels = None
    elif np.issubdtype(dtype, np.integer):
        lo = min(int(d["x"].min()) for d in splits.values())
        if lo < 0:
            raise DataError(f"{path}: integer data with negative values; store floats or give num_levels")
        num_levels = max(int(d["x"].max()) for d in splits.values()) + 1
    else:
        raise DataShapeError(f"{path}: unsupported dtype {dtype} for 'x'")
    for d in splits.values():
        if d["x"].dtype == np.bool_:
            d["x"] = d["x"].astype(np.uint8)
        elif np.issubdtype(d["x"].dtype, np.floating):
            d["x"] = d["x"].astype(np.float32)
        elif num_levels is not None and num_levels <= 256 and d["x"].dtype != np.uint8:
            d["x"] = d["x"].astype(np.uint8)
    return splits, num_levels


def _image_files(d: str) -> list[str]:
    return sorted(
        os.path.join(d, f) for f in os.listdir(d)
        if f.lower().endswith(IMAGE_EXTENSIONS) and os.path.isfile(os.path.join(d, f))
    )


def _subdirs(d: str) -> list[str]:
    return sorted(f for f in os.listdir(d) if os.path.isdir(os.path.join(d, f)) and not f.startswith("."))


def load_folder(root: str) -> tuple[dict[str, dict[str, np.ndarray]], int, int | None]:
    """Reads an image folder by the convention above: ({split: {'x', 'label'}}, num_levels, num_classes)."""
    from PIL import Image

    if not os.path.isdir(root):
        raise DataError(f"folder dataset: no such directory {root!r}")
    top_dirs = _subdirs(root)
    if top_dirs and set(top_dirs) <= {"train", "test"} and "train" in top_dirs and not _image_files(root):
        split_dirs = {s: os.path.join(root, s) for s in top_dirs}
    else:
        split_dirs = {"train": root}

    listing = {}  # split -> [(path, class_name or None)]
    class_names = set()
    flat = None
    for split, d in split_dirs.items():
        classes, files = _subdirs(d), _image_files(d)
        if classes and files:
            raise DataError(
                f"{d}: mixes image files and class sub-folders; use one sub-folder per class or only files"
            )
        if flat is not None and flat != (not classes):
            raise DataError(f"{root}: one split has class sub-folders and another has not")
        flat = not classes
        if classes:
            listing[split] = [(p, c) for c in classes for p in _image_files(os.path.join(d, c))]
            class_names.update(classes)
        else:
            listing[split] = [(p, None) for p in files]
        if not listing[split]:
            raise DataError(f"{d}: no {'/'.join(IMAGE_EXTENSIONS)} images found")
    class_index = {c: i for i, c in enumerate(sorted(class_names))}

    images = {}
    size = None
    colour = False
    for split, items in listing.items():
        imgs = []
        for path, _ in items:
            try:
                with Image.open(path) as im:
                    im.load()
                    if im.mode not in ("1", "L"):
                        im = im.convert("RGB")
                        colour = True
                    elif im.mode == "1":
                        im = im.convert("L")
                    arr = np.asarray(im, np.uint8)
            except OSError as e:
                raise DataError(f"{path}: not a readable image ({e})") from e
            if size is None:
                size, first = arr.shape[:2], path
            elif arr.shape[:2] != size:
                raise DataShapeError(
                    f"{path}: image of size {arr.shape[1]}x{arr.shape[0]} (WxH), but {first} is "
                    f"{size[1]}x{size[0]}; all images of a folder dataset must have the same size"
                )
            imgs.append(arr)
        images[split] = imgs

    splits = {}
    for split, imgs in images.items():
        if colour:
            imgs = [a if a.ndim == 3 else np.repeat(a[..., None], 3, axis=-1) for a in imgs]
        else:
            imgs = [a[..., None] for a in imgs]
        labels = [(-1 if c is None else class_index[c]) for _, c in listing[split]]
        splits[split] = {"x": np.stack(imgs).astype(np.uint8), "label": np.asarray(labels, np.int32)}
    return splits, 256, (len(class_index) or None)
