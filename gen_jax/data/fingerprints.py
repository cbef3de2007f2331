"""Fingerprints of the embedded datasets' stored output, one per (builder, config, version).

A builder whose stored output changes (order, split, content, features) must get a new VERSION: figures
measured on one version are then never silently compared with figures on another, and a copy prepared by
an older builder is never read again. To hold that promise, ``fingerprints.json`` beside this file stores
`fingerprint` of every split of each (builder, config, version) as freshly prepared, keyed by TFDS's
full name (``digits/2.0.0``, ``toy2d/ring8/2.0.0``), and

* every load of a prepared embedded dataset recomputes it and raises `StaleDataError` (naming the
  directory and saying to delete it) when it differs, or when no fingerprint is stored for the version;
* tests/data/test_versions.py prepares every builder afresh and compares, so a change of a builder's
  output under an unchanged VERSION fails the tests.

After changing a builder's output, bump its VERSION (with a RELEASE_NOTES entry saying what changed and
why) and record the new fingerprint with::

    python -m gen_jax.data.fingerprints digits toy2d/ring8 ...   # or no names: every embedded dataset

which prepares each named dataset in a temporary directory and writes its entry into fingerprints.json.
"""
from __future__ import annotations

import hashlib
import json
import os
from typing import Mapping

import numpy as np

from gen_jax.data.errors import DataError

PATH = os.path.join(os.path.dirname(__file__), "fingerprints.json")


class StaleDataError(DataError):
    """A prepared embedded dataset whose contents are not what its builder version produces."""


def fingerprint(splits: Mapping[str, Mapping[str, np.ndarray]]) -> str:
    """SHA-256 over every split (sorted by name) and every feature (sorted by name) in stored order: for each,
    the line ``"<split>/<feature> <dtype> <shape>\\n"`` then the little-endian C-order bytes of its array
    (text features: the UTF-8 strings, each followed by a NUL byte)."""
    h = hashlib.sha256()
    for split in sorted(splits):
        for name in sorted(splits[split]):
            a = np.asarray(splits[split][name])
            h.update(f"{split}/{name} {a.dtype.name} {tuple(a.shape)}\n".encode())
            if a.dtype == object:
                h.update(b"".join(str(v).encode("utf-8") + b"\0" for v in a.reshape(-1)))
            else:
                h.update(np.ascontiguousarray(a, a.dtype.newbyteorder("<")).tobytes())
    return h.hexdigest()


def stored() -> dict[str, str]:
    """full name (``digits/2.0.0``) -> fingerprint, as recorded in fingerprints.json."""
    with open(PATH) as f:
        return json.load(f)


def verify(full_name: str, directory: str, splits: Mapping[str, Mapping[str, np.ndarray]]) -> None:
    """Raises StaleDataError unless `splits`, read from the prepared `directory`, match the stored fingerprint."""
    want = stored().get(full_name)
    got = fingerprint(splits)
    if want is None:
        raise StaleDataError(
            f"no fingerprint is recorded for the embedded dataset {full_name} (in {PATH}): a new builder or "
            f"version must record one with `python -m gen_jax.data.fingerprints {full_name.rsplit('/', 1)[0]}`"
        )
    if got != want:
        raise StaleDataError(
            f"the prepared copy of {full_name} in {directory} is not what this builder version produces "
            f"(fingerprint {got[:12]}..., expected {want[:12]}...): it was prepared by an older builder or "
            f"changed on disk. Delete {directory} and it is prepared afresh on the next use. If a fresh copy "
            "fails too, the builder's output changed under an unchanged VERSION: bump its VERSION and record "
            "the new fingerprint (see gen_jax/data/fingerprints.py)."
        )


def _record(names) -> None:
    import tempfile

    from gen_jax.data import registry

    table = stored()
    for name in names or registry.EMBEDDED_NAMES:
        with tempfile.TemporaryDirectory() as tmp:
            builder, _, splits = registry.embedded_splits(name, tmp, verify=False)
            table[builder.info.full_name] = fingerprint(splits)
            print(f"{builder.info.full_name}: {table[builder.info.full_name]}")
    with open(PATH, "w") as f:
        json.dump(dict(sorted(table.items())), f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    import sys

    _record(sys.argv[1:])
