"""TFDS-style split names, whole or sliced: ``train``, ``train[:1200]``, ``train[90%:]``, ``test[-60:]``.

A slice keeps the stored order, so ``train[:90%]`` and ``train[90%:]`` partition ``train``; see `split_bounds`.
"""
from __future__ import annotations

import re
from typing import Mapping

from gen_jax.data.errors import DataError

_SPLIT_RE = re.compile(r"^(?P<name>[\w-]+)(?:\[(?P<selector>[^\[\]]*)\])?$")
_BOUND_RE = re.compile(r"^(?P<value>[+-]?(?:\d+(?:\.\d*)?|\.\d+))(?P<percent>%?)$")


def _slice_error(split: str, problem: str) -> DataError:
    return DataError(
        f"malformed split {split!r}: {problem}. Use a split name, optionally sliced like a Python list by "
        "example indices or by percentages: 'train', 'train[:1200]', 'train[1200:]', 'train[:90%]', "
        "'train[90%:]', 'test[-60:]'"
    )


def split_bounds(split: str, sizes: Mapping[str, int], dataset: str = "") -> tuple[str, int, int]:
    """Resolves a TFDS-style split name to (stored split, start, stop) with 0 <= start < stop <= size.

    ``'train'`` is the whole split; ``'train[a:b]'`` is examples a..b-1 in the stored order. Either bound
    may be left out, and a negative bound counts from the end as in Python (``'test[-60:]'`` is the last
    60). Bounds are integers (example indices) or percentages of the split size, possibly fractional
    (``'train[:12.5%]'``); a slice uses one kind for both bounds. A percentage p of a split of n examples
    becomes the index ``round(p * n / 100)`` with Python's round (halves go to the even integer): TFDS's
    default 'closest' rounding for split slicing, so the same name selects the same examples here and
    in ``tfds.load``. Hence ``train[:p%]`` and ``train[p%:]`` always partition ``train``.

    Unlike a Python slice, a bound beyond the split (``|bound| > size``) is an error rather than clipped,
    as in TFDS, and so is a slice that selects no example. Steps (``[::2]``), single indices (``[5]``)
    and TFDS shard units are not supported. Every problem raises `DataError` (a ValueError).

    Args:
      split: e.g. ``'train'``, ``'train[:1200]'``, ``'train[90%:]'``.
      sizes: stored split name -> number of examples (`DatasetInfo.splits`).
      dataset: the dataset's name, for the error messages.
    """
    where = f"dataset {dataset!r}" if dataset else "the dataset"
    if not isinstance(split, str):
        raise DataError(f"a split name must be a string, got {split!r}")
    match = _SPLIT_RE.match(split.strip())
    if match is None:
        raise _slice_error(split, "expected NAME or NAME[START:STOP]")
    name, selector = match.group("name"), match.group("selector")
    if name not in sizes:
        inside = "" if name == split else f" (in {split!r})"
        raise DataError(f"{where} has no split {name!r}{inside}; splits: {', '.join(sizes)}")
    n = int(sizes[name])
    if selector is None:
        if n == 0:
            raise DataError(f"split {name!r} of {where} is empty")
        return name, 0, n
    parts = selector.split(":")
    if len(parts) != 2:
        raise _slice_error(split, "a slice needs exactly one ':' (no steps, no single index)")
    bounds = []
    for part in parts:
        part = part.strip()
        if not part:
            bounds.append(None)
            continue
        m = _BOUND_RE.match(part)
        if m is None:
            raise _slice_error(split, f"{part!r} is neither an integer nor a percentage")
        percent = bool(m.group("percent"))
        if not percent and not m.group("value").lstrip("+-").isdigit():
            raise _slice_error(split, f"{part!r}: an example index must be an integer (or add '%')")
        bounds.append((float(m.group("value")), percent))
    kinds = {b[1] for b in bounds if b is not None}
    if len(kinds) > 1:
        raise _slice_error(split, "both bounds must be indices or both percentages")

    def index(bound, default):
        if bound is None:
            return default
        value, percent = bound
        limit = 100.0 if percent else n
        if abs(value) > limit:
            unit = "%" if percent else f" (the split has {n} examples)"
            raise DataError(f"split {split!r} of {where}: bound {value:g}{unit} is out of range")
        i = int(round(value * n / 100.0)) if percent else int(value)
        return i + n if i < 0 else i  # as in Python and TFDS, -0 (-0.2% of 100 rounded) is the start

    start, stop = index(bounds[0], 0), index(bounds[1], n)
    if start >= stop:
        raise DataError(
            f"split {split!r} of {where} selects no examples: it resolves to [{start}:{stop}] of the "
            f"{n} examples of {name!r}"
        )
    return name, start, stop
