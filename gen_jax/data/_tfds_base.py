"""Base class of gen_jax's embedded TFDS builders."""
from __future__ import annotations

import sys

import tensorflow_datasets as tfds
from etils import epath


class EmbeddedBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """A GeneratorBasedBuilder whose data come with installed packages: nothing to download.

    `code_path` is given directly (the file of the subclass's module): TFDS's own lookup goes through
    `importlib_resources`, which is not among our pinned dependencies, and only serves to find a
    checksums file that these builders do not have.
    """

    @tfds.core.utils.classproperty
    @classmethod
    def code_path(cls) -> epath.Path:
        return epath.Path(sys.modules[cls.__module__].__file__)
