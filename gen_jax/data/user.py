"""The user's own data: ``npz:/path/file.npz`` and ``folder:/path/to/images[?layout=...]``, read whole into memory.

Both give named features (see `gen_jax.data.features`); every split holds every feature, and the values
are checked at load (NaN/inf, levels and classes out of range: an error names the feature, the split and
the first offending example).

npz convention (loaded with ``allow_pickle=False``; an object array is an error naming its key). Two forms:

* **explicit**: a key ``"<split>/<feature>"`` per split and feature, any names: ``train/x``, ``train/y``,
  ``test/x``, ``validation/A``, ``test/label``. An eval-only file holds only ``test/...`` keys.
* **flat** (the legacy form, no '/' in data keys): ``NAME`` is feature NAME of the ``train`` split and
  ``NAME_test`` feature NAME of the ``test`` split: ``x``, ``label``, ``x_test``, ``label_test``. A file
  with only ``x_test`` (and ``label_test``) is eval-only.

Metadata keys, in either form, each a scalar: ``num_levels/<feature>`` (the feature holds integer levels
0..K-1), ``num_classes/<feature>`` (class ids 0..C-1), ``kind/<feature>`` (a string: 'levels', 'classes',
'continuous', 'integer' or 'text'); the legacy ``num_levels`` is ``num_levels/x``. Without them a feature's
kind follows its dtype and name: strings -> 'text'; bool -> 'levels' with 2 levels (served uint8 0/1);
floating point -> 'continuous' (float32); integers -> 'classes' for ``label`` (num_classes = max + 1 over
the splits), 'levels' for ``x`` and for any uint8 feature (uint8: 256 levels, other integer dtypes of ``x``:
max + 1 over the splits), else 'integer'. Levels are served uint8 (up to 256 levels), classes int32.
``x`` must be [N, H, W(, C)] images or [N, D] vectors; a grey [N, H, W] ``x`` gets a channel axis of size
1. Other features keep the shape they are stored in. Every split must hold the same features, with the
same per-example shapes.

folder convention (PNG / JPEG files, extensions .png .jpg .jpeg in any case, read with Pillow, in sorted
name order):

* ``folder/<split>/`` sub-folders, when every sub-folder is named ``train``, ``test``, ``val`` or
  ``validation`` (and there are no images at the top), are the splits, named as the folders; otherwise the
  whole folder is the ``train`` split.
* inside a split, the layout (``?layout=`` after the path; default ``auto``):

  - ``classes``: one sub-folder per class (feature ``label``, the class index = position of the sub-folder
    name in the sorted list of all class names found in any split) or only image files (no ``label``);
    image feature ``x``;
  - ``paired``: sub-folders ``A/`` and ``B/`` whose files are matched by name without the extension
    (``A/0001.png`` with ``B/0001.jpg``; names found on one side only are listed in the error):
    features ``A`` and ``B``, e.g. an input image and its target;
  - ``side_by_side``: image files each holding two images of equal width side by side, as in the pix2pix
    datasets (facades, maps, edges2shoes): the left half is feature ``A``, the right half ``B``
    (``folder:/data/facades?layout=side_by_side``);
  - ``auto``: ``paired`` when a split's only sub-folders are ``A`` and ``B``, else ``classes``. (A class
    dataset with exactly two classes named A and B needs ``?layout=classes``.)

* every image of a feature must have the same width and height (else DataShapeError naming the file). Grey
  images (modes "1", "L") give C = 1; if any image of a feature is colour, all of it is converted to RGB
  (C = 3); alpha is dropped. Values are uint8, 256 levels.
"""
from __future__ import annotations

import os
from urllib.parse import parse_qsl

import numpy as np

from gen_jax.data.errors import DataError, DataShapeError
from gen_jax.data.features import KINDS, Feature, check_values

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
SPLIT_FOLDERS = ("train", "test", "val", "validation")
FOLDER_LAYOUTS = ("auto", "classes", "paired", "side_by_side")
_META = ("num_levels", "num_classes", "kind")


def parse_name(name: str) -> tuple[str, str, dict[str, str]]:
    """'npz:/p.npz' -> ('npz', '/p.npz', {}); 'folder:/d?layout=paired' -> ('folder', '/d', {'layout': 'paired'})."""
    scheme, _, rest = name.partition(":")
    path, _, query = rest.partition("?")
    options = dict(parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))) if query else {}
    known = {"npz": (), "folder": ("layout",)}[scheme]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise DataError(f"{name!r}: unknown option(s) {', '.join(unknown)}; "
                        + (f"{scheme}: takes {', '.join(known)}" if known else f"{scheme}: takes none"))
    return scheme, os.path.expanduser(path), options


# ------------------------------------------------------------------------------------------------ npz


def _read_npz(path: str) -> dict[str, np.ndarray]:
    if not os.path.isfile(path):
        raise DataError(f"npz dataset: no such file {path!r}")
    arrays = {}
    with np.load(path, allow_pickle=False) as f:
        for k in f.files:
            try:
                arrays[k] = f[k]
            except ValueError as e:
                raise DataError(f"{path}: array {k!r} is an object array, which gen_jax does not load (no "
                                f"pickle): store numbers, or strings as a fixed-width unicode array ({e})") from e
    return arrays


def _npz_layout(path: str, arrays: dict) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, dict]]:
    """({split: {feature: array}}, {meta: {feature: value}}) of an npz file, in either form."""
    meta = {m: {} for m in _META}
    data = {}
    for k, v in arrays.items():
        head, _, tail = k.partition("/")
        if head in _META and tail:
            meta[head][tail] = v
        elif k == "num_levels":
            meta["num_levels"]["x"] = v
        else:
            data[k] = v
    explicit = [k for k in data if "/" in k]
    splits: dict[str, dict[str, np.ndarray]] = {}
    if explicit:
        flat = sorted(set(data) - set(explicit))
        if flat:
            raise DataShapeError(f"{path}: mixes '<split>/<feature>' keys ({', '.join(sorted(explicit)[:3])}) with "
                                 f"flat keys ({', '.join(flat)}); use one form")
        for k, v in data.items():
            split, _, feature = k.partition("/")
            if not split or not feature:
                raise DataShapeError(f"{path}: key {k!r} is not '<split>/<feature>'")
            splits.setdefault(split, {})[feature] = v
    else:
        for k, v in data.items():
            split, feature = ("test", k[:-5]) if k.endswith("_test") and len(k) > 5 else ("train", k)
            splits.setdefault(split, {})[feature] = v
        splits = {s: splits[s] for s in ("train", "test") if s in splits}
    if not splits:
        raise DataShapeError(f"{path}: the npz file holds no data arrays (found: {sorted(arrays) or 'nothing'}); "
                             "expected 'x' (and 'x_test') or '<split>/<feature>' keys such as 'train/x'")
    return splits, meta


def _scalar(path, key, value, kind):
    a = np.asarray(value)
    if a.size != 1:
        raise DataShapeError(f"{path}: {key!r} must be a scalar, got shape {a.shape}")
    return a.reshape(()).item() if kind is None else kind(a.reshape(()).item())


def _npz_feature(path: str, name: str, per_split: dict[str, np.ndarray], meta: dict) -> Feature:
    """The Feature of `name` from its arrays in every split and the metadata keys (see the module doc)."""
    first = next(iter(per_split.values()))
    values = list(per_split.values())
    kind = meta["kind"].get(name)
    kind = None if kind is None else _scalar(path, f"kind/{name}", kind, str)
    if kind is not None and kind not in KINDS:
        raise DataError(f"{path}: 'kind/{name}' must be one of {', '.join(KINDS)}, got {kind!r}")
    num_levels = meta["num_levels"].get(name)
    num_levels = None if num_levels is None else _scalar(path, f"num_levels/{name}", num_levels, int)
    num_classes = meta["num_classes"].get(name)
    num_classes = None if num_classes is None else _scalar(path, f"num_classes/{name}", num_classes, int)
    dtype = first.dtype
    if kind is None:
        if dtype.kind in "US":
            kind = "text"
        elif num_classes is not None:
            kind = "classes"
        elif num_levels is not None or dtype == np.bool_:
            kind = "levels"
        elif np.issubdtype(dtype, np.floating):
            kind = "continuous"
        elif not np.issubdtype(dtype, np.integer):
            raise DataShapeError(f"{path}: unsupported dtype {dtype} for feature {name!r}")
        elif name == "label":
            kind = "classes"
        elif name == "x" or dtype == np.uint8:
            kind = "levels"
        else:
            kind = "integer"
    shape = first.shape[1:]
    if kind in ("levels", "classes") and not all(np.issubdtype(v.dtype, np.integer) or v.dtype == np.bool_
                                                 or np.all(v == np.round(v)) for v in values):
        raise DataShapeError(f"{path}: feature {name!r} ({kind}) must hold integers, got dtype {dtype}")
    if kind == "levels":
        if num_levels is None:
            if dtype == np.bool_:
                num_levels = 2
            elif dtype == np.uint8:
                num_levels = 256
            else:
                if min(int(v.min()) for v in values) < 0:
                    raise DataError(f"{path}: feature {name!r}: integer levels with negative values; store "
                                    f"floats, or give 'num_levels/{name}'")
                num_levels = max(2, max(int(v.max()) for v in values) + 1)
        return Feature.levels(shape, num_levels)
    if kind == "classes":
        if num_classes is None:
            num_classes = max(1, max(int(v.max()) for v in values) + 1)
        return Feature.classes(num_classes, shape)
    if num_levels is not None or num_classes is not None:
        raise DataError(f"{path}: feature {name!r} is of kind {kind!r}: it takes no num_levels / num_classes")
    if kind == "continuous":
        return Feature.continuous(shape)
    if kind == "text":
        return Feature(shape, "object", "text")
    if not np.issubdtype(dtype, np.integer):
        raise DataShapeError(f"{path}: feature {name!r} of kind 'integer' has dtype {dtype}")
    return Feature.integer(shape, dtype.name)


def load_npz(path: str, dataset: str | None = None
             ) -> tuple[dict[str, Feature], dict[str, dict[str, np.ndarray]]]:
    """Reads an npz file by the convention above: ({feature: Feature}, {split: {feature: array}}).

    `dataset` (default ``npz:<path>``) names the dataset in the errors of the value checks."""
    splits, meta = _npz_layout(path, _read_npz(path))
    names = list(dict.fromkeys(k for d in splits.values() for k in d))
    for split, d in splits.items():
        missing = [k for k in names if k not in d]
        if missing:
            other = next(s for s, e in splits.items() if missing[0] in e)
            raise DataShapeError(f"{path}: split {split!r} has no feature {missing[0]!r} (split {other!r} has): "
                                 "every split must hold the same features")
        for k, v in d.items():
            v = np.asarray(v)
            if v.ndim == 0:
                raise DataShapeError(f"{path}: {split}/{k} is a scalar; a feature has one row per example")
            if k == "x":
                if v.ndim < 2:
                    raise DataShapeError(f"{path}: {split}/x: expected [N, H, W(, C)] images or [N, D] vectors, "
                                         f"got shape {v.shape}")
                if v.ndim == 3:
                    v = v[..., None]
            if v.shape[0] == 0:
                raise DataShapeError(f"{path}: {split}/{k}: no examples (shape {v.shape})")
            d[k] = v
    features = {}
    for k in names:
        per_split = {s: d[k] for s, d in splits.items()}
        shapes = {s: v.shape[1:] for s, v in per_split.items()}
        if len(set(shapes.values())) > 1:
            raise DataShapeError(f"{path}: feature {k!r} has different per-example shapes in the splits: "
                                 + ", ".join(f"{s} {sh}" for s, sh in shapes.items()))
        kinds = {s: {"u": "i", "U": "S"}.get(v.dtype.kind, v.dtype.kind) for s, v in per_split.items()}
        if len(set(kinds.values())) > 1:
            raise DataShapeError(f"{path}: feature {k!r} has different dtypes in the splits: "
                                 + ", ".join(f"{s} {v.dtype}" for s, v in per_split.items()))
        features[k] = _npz_feature(path, k, per_split, meta)
    for split, d in splits.items():
        lengths = {k: len(v) for k, v in d.items()}
        if len(set(lengths.values())) > 1:
            raise DataShapeError(f"{path}: split {split!r}: features of different lengths "
                                 + ", ".join(f"{k} {n}" for k, n in lengths.items()))
        for k, f in features.items():
            a = np.round(d[k]) if f.kind in ("levels", "classes") and d[k].dtype.kind == "f" else d[k]
            check_values(dataset or f"npz:{path}", split, k, f, a)  # before a cast could wrap a bad value
            d[k] = f.serve(a)
    unused = sorted({n for m in meta.values() for n in m} - set(features))
    if unused:
        raise DataError(f"{path}: metadata for feature(s) {', '.join(unused)} that the file does not hold")
    return features, splits


# --------------------------------------------------------------------------------------------- folder


def _image_files(d: str) -> list[str]:
    return sorted(
        os.path.join(d, f) for f in os.listdir(d)
        if f.lower().endswith(IMAGE_EXTENSIONS) and os.path.isfile(os.path.join(d, f))
    )


def _subdirs(d: str) -> list[str]:
    return sorted(f for f in os.listdir(d) if os.path.isdir(os.path.join(d, f)) and not f.startswith("."))


def _read_image(path: str) -> np.ndarray:
    """uint8 [H, W] (grey) or [H, W, 3] (colour) pixels of an image file."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()
            if im.mode not in ("1", "L"):
                im = im.convert("RGB")
            elif im.mode == "1":
                im = im.convert("L")
            return np.asarray(im, np.uint8)
    except OSError as e:
        raise DataError(f"{path}: not a readable image ({e})") from e


def _stack(images: list[tuple[str, np.ndarray]], what: str) -> np.ndarray:
    """[N, H, W, C] uint8 from (path, pixels) pairs: one size for all, RGB for all if any is colour."""
    size, first = images[0][1].shape[:2], images[0][0]
    for path, a in images:
        if a.shape[:2] != size:
            raise DataShapeError(
                f"{path}: image of size {a.shape[1]}x{a.shape[0]} (WxH), but {first} is "
                f"{size[1]}x{size[0]}; all images of {what} must have the same size"
            )
    if any(a.ndim == 3 for _, a in images):
        return np.stack([a if a.ndim == 3 else np.repeat(a[..., None], 3, axis=-1) for _, a in images])
    return np.stack([a[..., None] for _, a in images])


def _split_layout(d: str, layout: str) -> str:
    subdirs, files = _subdirs(d), _image_files(d)
    if layout == "auto":
        layout = "paired" if set(subdirs) == {"A", "B"} and not files else "classes"
    if layout == "paired" and set(subdirs) != {"A", "B"}:
        raise DataError(f"{d}: layout 'paired' needs exactly the sub-folders A/ and B/, found "
                        f"{', '.join(subdirs) or 'none'}")
    if layout in ("classes", "side_by_side") and subdirs and files:
        raise DataError(
            f"{d}: mixes image files and sub-folders; use one sub-folder per class or only files"
        )
    if layout == "side_by_side" and subdirs:
        raise DataError(f"{d}: layout 'side_by_side' reads the image files of a split, found sub-folders "
                        f"{', '.join(subdirs)}")
    return layout


def _paired_files(d: str) -> list[tuple[str, str]]:
    """(A file, B file) pairs of a paired split, matched by name without the extension."""
    sides = {}
    for side in ("A", "B"):
        by_stem = {}
        for p in _image_files(os.path.join(d, side)):
            stem = os.path.splitext(os.path.basename(p))[0]
            if stem in by_stem:
                raise DataError(f"{os.path.join(d, side)}: two images named {stem!r} ({os.path.basename(by_stem[stem])}, "
                                f"{os.path.basename(p)}): files of a pair are matched by name")
            by_stem[stem] = p
        sides[side] = by_stem
    only = {s: sorted(set(sides[s]) - set(sides["B" if s == "A" else "A"])) for s in ("A", "B")}
    if only["A"] or only["B"]:
        def names(v):
            return ", ".join(v[:20]) + (f" and {len(v) - 20} more" if len(v) > 20 else "") if v else "none"
        raise DataError(f"{d}: the files of A/ and B/ must match by name; only in A/: {names(only['A'])}; "
                        f"only in B/: {names(only['B'])}")
    return [(sides["A"][s], sides["B"][s]) for s in sorted(sides["A"])]


def load_folder(root: str, layout: str = "auto") -> tuple[dict[str, Feature], dict[str, dict[str, np.ndarray]]]:
    """Reads an image folder by the convention above: ({feature: Feature}, {split: {feature: array}})."""
    if layout not in FOLDER_LAYOUTS:
        raise DataError(f"folder dataset {root!r}: unknown layout {layout!r}; layouts: {', '.join(FOLDER_LAYOUTS)}")
    if not os.path.isdir(root):
        raise DataError(f"folder dataset: no such directory {root!r}")
    top_dirs = _subdirs(root)
    if top_dirs and set(top_dirs) <= set(SPLIT_FOLDERS) and not _image_files(root):
        split_dirs = {s: os.path.join(root, s) for s in top_dirs}
    else:
        split_dirs = {"train": root}
    layouts = {s: _split_layout(d, layout) for s, d in split_dirs.items()}
    if len(set(layouts.values())) > 1:
        raise DataError(f"{root}: the splits have different layouts: "
                        + ", ".join(f"{s} {v}" for s, v in layouts.items()))
    layout = next(iter(layouts.values()))

    raw: dict[str, dict[str, list]] = {}  # split -> feature -> [(path, pixels)]
    labels: dict[str, list] = {}
    class_names: set = set()
    has_classes = None
    for split, d in split_dirs.items():
        if layout == "paired":
            pairs = _paired_files(d)
            raw[split] = {"A": [(a, _read_image(a)) for a, _ in pairs], "B": [(b, _read_image(b)) for _, b in pairs]}
        elif layout == "side_by_side":
            halves = {"A": [], "B": []}
            for p in _image_files(d):
                a = _read_image(p)
                if a.shape[1] % 2:
                    raise DataShapeError(f"{p}: a side-by-side image must have an even width, got {a.shape[1]}")
                w = a.shape[1] // 2
                halves["A"].append((p, a[:, :w]))
                halves["B"].append((p, a[:, w:]))
            raw[split] = halves
        else:
            classes = _subdirs(d)
            if has_classes is not None and has_classes != bool(classes):
                raise DataError(f"{root}: one split has class sub-folders and another has not")
            has_classes = bool(classes)
            items = ([(p, c) for c in classes for p in _image_files(os.path.join(d, c))] if classes
                     else [(p, None) for p in _image_files(d)])
            raw[split] = {"x": [(p, _read_image(p)) for p, _ in items]}
            labels[split] = [c for _, c in items]
            class_names.update(classes)
        if not next(iter(raw[split].values())):
            raise DataError(f"{d}: no {'/'.join(IMAGE_EXTENSIONS)} images found")

    splits: dict[str, dict[str, np.ndarray]] = {}
    features: dict[str, Feature] = {}
    names = list(next(iter(raw.values())))
    for name in names:
        # one size and one colour mode per feature, over every split
        everything = [item for split in raw for item in raw[split][name]]
        stacked = _stack(everything, f"feature {name!r} of a folder dataset")
        features[name] = Feature.levels(stacked.shape[1:], 256)
        start = 0
        for split in raw:
            n = len(raw[split][name])
            splits.setdefault(split, {})[name] = stacked[start:start + n]
            start += n
    if class_names:
        class_index = {c: i for i, c in enumerate(sorted(class_names))}
        features["label"] = Feature.classes(len(class_index))
        for split in splits:
            splits[split]["label"] = np.asarray([class_index[c] for c in labels[split]], np.int32)
    return features, splits
