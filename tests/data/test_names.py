"""Dataset names: path components are rejected, embedded names take only their own version."""
import pytest

from gen_jax import data


@pytest.mark.parametrize("name", ["digits/../mnist5k", "../digits", "/abs/path/mnist", "~/mnist", "./digits",
                                  "a/b/c", "mnist:latest", "mnist\\x", "digits/.."])
def test_names_with_path_components_are_rejected(tmp_path, name):
    with pytest.raises(data.UnknownDatasetError, match="is not a dataset name.*npz:/path/file.npz") as err:
        data.dataset_info(name, data_dir=str(tmp_path))
    assert repr(name) in str(err.value)
    assert not (tmp_path / "mnist5k").exists()


def test_catalog_names_still_pass_the_check():
    for name in ("mnist", "celeb_a/align:2.1.0", "cifar10:3.0.2", "ring8", "npz:/x/../y.npz", "folder:/a/../b?layout=paired"):
        assert data.canonical_name(name) == ("toy2d/ring8" if name == "ring8" else name)
    assert data.canonical_name("ring8:2.0.0") == "toy2d/ring8:2.0.0"


def test_embedded_names_take_only_their_current_version(data_dir):
    assert data.dataset_info("digits:2.0.0", data_dir=data_dir).splits == {"train": 1437, "test": 360}
    with pytest.raises(data.UnknownDatasetError, match="embedded at version 2.0.0; digits:1.0.0 is not served"):
        data.dataset_info("digits:1.0.0", data_dir=data_dir)
