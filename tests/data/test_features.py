"""Feature / DatasetInfo: the kinds, the x-and-label properties, batches built from features, value checks."""
import jax
import numpy as np
import pytest

from gen_jax import data
from gen_jax.data.features import check_values


def _paired_info():
    return data.DatasetInfo("pairs", {"A": data.Feature.levels((4, 4, 1), 256), "B": data.Feature.continuous((4, 4, 3)),
                                      "caption": data.Feature.text()}, {"train": 3})


def test_features_are_validated_and_normalised():
    f = data.Feature([8, 8, 1], np.uint8, "levels", num_levels=17)
    assert f.shape == (8, 8, 1) and f.dtype == "uint8"
    assert data.Feature.levels((2,), 300).dtype == "int32" and data.Feature.levels((2,), 256).dtype == "uint8"
    for bad in (dict(kind="pixels"), dict(kind="levels"), dict(kind="classes", num_classes=0),
                dict(kind="continuous", num_levels=2), dict(kind="levels", num_levels=1)):
        with pytest.raises(data.DataError):
            data.Feature((), "int32", **bad)


def test_x_and_label_properties():
    info = data.DatasetInfo.of_x("d", (8, 8, 1), num_levels=17, num_classes=10, splits={"train": 5})
    assert (info.shape, info.dtype, info.num_levels, info.num_classes, info.num_dims) == ((8, 8, 1), "uint8", 17, 10, 64)
    unlabelled = data.DatasetInfo.of_x("p", (2,), num_levels=None, num_classes=None, splits={"train": 5})
    assert unlabelled.num_classes is None and "label" not in unlabelled.features and unlabelled.dtype == "float32"


def test_a_dataset_without_x_names_its_features():
    info = _paired_info()
    assert info.num_classes is None
    for prop in ("shape", "dtype", "num_levels", "num_dims"):
        with pytest.raises(data.DataError, match="dataset 'pairs' has no feature 'x'; its features: A, B, caption"):
            getattr(info, prop)
    with pytest.raises(data.DataError, match="no feature 'C'"):
        info.select(["A", "C"])


def test_zeros_and_spec_batches_skip_text_by_default():
    info = _paired_info()
    assert info.default_features() == ("A", "B")
    z = info.zeros(2)
    assert set(z) == {"A", "B"} and z["A"].shape == (2, 4, 4, 1) and z["A"].dtype == np.uint8
    assert z["B"].dtype == np.float32 and not z["B"].any()
    spec = info.spec(6)
    assert spec["B"] == jax.ShapeDtypeStruct((6, 4, 4, 3), np.float32)
    assert list(info.zeros(2, ["caption"])["caption"]) == ["", ""]


@pytest.mark.parametrize("feature,values,match", [
    (data.Feature.continuous((2,)), [[0.0, 1.0], [2.0, np.nan], [np.inf, 0.0]], r"example 11 holds a non-finite value \(nan\)"),
    (data.Feature.levels((3,), 17), [[0, 16, 3], [1, 2, 17]], r"example 11 holds a value outside the levels 0..16 \(17\)"),
    (data.Feature.classes(10), [3, 4, -1], r"example 12 holds a value outside the classes 0..9 \(-1\)"),
])
def test_value_checks_name_dataset_feature_split_and_index(feature, values, match):
    with pytest.raises(data.DataError, match="dataset 'd', feature 'f', split 'test': " + match):
        check_values("d", "test", "f", feature, np.asarray(values), offset=10)
    check_values("d", "test", "f", data.Feature.integer(), np.asarray([-5, 10**6]))  # no range for integers
