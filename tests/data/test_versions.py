"""Dataset versions: a builder's stored output under one VERSION never changes, and a copy that is not what
the builder's version produces (an older builder's order, a changed file) is never read."""
import os
import shutil

import pytest

from gen_jax import data
from gen_jax.data import digits, fingerprints, registry


def _full_name(name, data_dir):
    builder = registry._embedded_builder(name, data_dir)  # pylint: disable=protected-access
    return builder.info.full_name


@pytest.mark.parametrize("name", data.EMBEDDED_NAMES)
def test_fresh_preparation_matches_the_stored_fingerprint_of_its_version(data_dir, name):
    """Fails when a builder's output (order, split, content, features) changes under an unchanged VERSION:
    bump the VERSION and record the new fingerprint (`python -m gen_jax.data.fingerprints NAME`)."""
    info = data.dataset_info(name, data_dir=data_dir)  # the session's data_dir is prepared fresh
    splits = {s: data.load_arrays(name, s, data_dir=data_dir) for s in info.splits}
    assert splits and all(set(arrays) == set(info.features) for arrays in splits.values())  # photo_whole: test only
    full = _full_name(name, data_dir)
    assert full.endswith("/" + info.version)
    assert fingerprints.stored().get(full) == fingerprints.fingerprint(splits), (
        f"{full}: the builder's output changed under the same version")


def test_the_stale_shuffled_versions_are_gone():
    assert digits.Digits.VERSION == "2.0.0"
    assert "2.0.0" in digits.Digits.RELEASE_NOTES and "shuffled" in digits.Digits.RELEASE_NOTES["2.0.0"]
    assert not any(k.endswith("/1.0.0") and k.startswith(("digits", "toy2d")) for k in fingerprints.stored())


def test_a_changed_output_under_the_same_version_is_caught(tmp_path, monkeypatch):
    """The old bug: the same examples stored in another order. The fresh copy differs from the fingerprint,
    loading it raises an error naming its directory, and deleting that directory cures it."""
    generate = digits.Digits._generate_examples  # pylint: disable=protected-access

    def reversed_order(self, images, labels, indices):  # the stored order follows the keys: reverse them
        pairs = list(generate(self, images, labels, indices))
        for (_, example), (key, _) in zip(pairs, reversed(pairs)):
            yield key, example

    monkeypatch.setattr(digits.Digits, "_generate_examples", reversed_order)
    d = str(tmp_path / "data")
    _, _, splits = registry.embedded_splits("digits", d, verify=False)
    assert fingerprints.fingerprint(splits) != fingerprints.stored()["digits/2.0.0"]
    version_dir = os.path.join(d, "digits", "2.0.0")
    with pytest.raises(data.StaleDataError, match=f"(?s){version_dir}.*Delete {version_dir}") as err:
        data.dataset_info("digits", data_dir=d)
    assert isinstance(err.value, data.DataError)
    monkeypatch.undo()
    with pytest.raises(data.StaleDataError):  # the copy on disk is still the wrong one
        data.load_arrays("digits", "test", data_dir=d)
    shutil.rmtree(version_dir)
    assert data.dataset_info("digits", data_dir=d).splits == {"train": 1437, "test": 360}


def test_a_version_without_a_recorded_fingerprint_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(fingerprints, "stored", lambda: {})
    with pytest.raises(data.StaleDataError, match="no fingerprint is recorded for .*digits/2.0.0.*"
                                                  "python -m gen_jax.data.fingerprints digits"):
        data.dataset_info("digits", data_dir=str(tmp_path))
