import math

import pytest

from streamproc.fusion import FusionConfigError, FusionPolicy, normalise


def test_normalise_is_one_at_the_threshold():
    assert normalise(2.0, 2.0) == 1.0
    assert normalise(3.0, 1.5) == 2.0
    assert normalise(-1.0, 1.0) == 0.0


@pytest.mark.parametrize("score, threshold", [(math.nan, 1.0), (math.inf, 1.0)])
def test_non_finite_scores_carry_no_evidence(score, threshold):
    assert normalise(score, threshold) == 0.0


def test_degenerate_thresholds_stay_finite():
    for threshold in (0.0, -1.0, math.nan):
        assert math.isfinite(normalise(1e-3, threshold))
        assert normalise(1e-3, threshold) > 1.0


SCORES = {"pca": 3.0, "usad": 0.5, "tranad": 1.5}


@pytest.mark.parametrize(
    "policy, expected",
    [
        (FusionPolicy("max"), 3.0),
        (FusionPolicy("mean"), 5.0 / 3.0),
        (FusionPolicy("weighted", {"pca": 0.0, "usad": 1.0}), (0.5 + 1.5) / 2.0),
        (FusionPolicy("weighted", {"pca": 2.0}), (6.0 + 0.5 + 1.5) / 4.0),
        (FusionPolicy("k_of_n", k=1), 3.0),
        (FusionPolicy("k_of_n", k=2), 1.5),
        (FusionPolicy("k_of_n", k=3), 0.5),
        (FusionPolicy("k_of_n", k=4), 0.0),
    ],
)
def test_policies(policy, expected):
    assert policy.combine(SCORES) == pytest.approx(expected)


def test_k_of_n_exceeds_one_exactly_when_k_detectors_agree():
    policy = FusionPolicy("k_of_n", k=2)
    assert policy.combine({"a": 5.0, "b": 1.0, "c": 0.1}) <= 1.0
    assert policy.combine({"a": 5.0, "b": 1.01, "c": 0.1}) > 1.0


def test_empty_input_is_not_anomalous():
    for name in ("max", "mean", "weighted", "k_of_n"):
        assert FusionPolicy(name).combine({}) == 0.0
    assert FusionPolicy("weighted", {"a": 0.0}).combine({"a": 9.0}) == 0.0


@pytest.mark.parametrize(
    "kwargs, key",
    [
        ({"name": "median"}, "fusion.policy"),
        ({"name": "k_of_n", "k": 0}, "fusion.k"),
        ({"name": "weighted", "weights": {"pca": -1.0}}, "fusion.weights.pca"),
    ],
)
def test_bad_policies_name_their_key(kwargs, key):
    with pytest.raises(FusionConfigError, match=key):
        FusionPolicy(**kwargs)
