"""Errors raised by gen_jax.data. All are `ValueError`s, so callers that validate input can catch one type."""
from __future__ import annotations


class DataError(ValueError):
    """Base class of every error raised by gen_jax.data."""


class UnknownDatasetError(DataError):
    """A dataset name that is neither embedded, nor a TFDS catalog name, nor an `npz:` / `folder:` path."""


class DatasetNotPreparedError(DataError):
    """A catalog dataset that is not prepared (in array_record format) under the data_dir looked in."""


class DataShapeError(DataError):
    """Images of a wrong or inconsistent shape (npz arrays, image folders, batch shapes)."""
