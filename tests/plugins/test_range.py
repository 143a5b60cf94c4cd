"""``range``: distance outside the training range, on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest
from streamproc_plugins.range import RangeDetector

# Feature 0 spans [0, 2] (unit 2); feature 1 spans [10, 10.5] (unit floored at min_range = 1).
TRAIN = np.array([[0.0, 10.0], [2.0, 10.5], [1.0, 10.2]], np.float32)


def _fitted(**config) -> RangeDetector:
    detector = RangeDetector(**config)
    detector.fit(TRAIN)
    return detector


def _window(last: list[float], earlier: list[float] | None = None) -> np.ndarray:
    return np.array([[earlier or [1.0, 10.2], last]], np.float32)


@pytest.mark.parametrize(
    "last, excess",
    [
        ([3.0, 10.2], [0.5, 0.0]),  # one unit-2 range above by 1
        ([-1.0, 12.5], [0.5, 2.0]),  # below feature 0 by 1, above feature 1 by 2 (unit 1)
        ([2.0, 10.0], [0.0, 0.0]),  # on the bounds: inside
    ],
)
def test_contributions_are_excesses_in_range_units(last, excess) -> None:
    scores, contributions = _fitted().score(_window(last))
    np.testing.assert_allclose(contributions[0], excess, rtol=1e-6)
    if sum(excess) > 0:
        assert scores[0] == pytest.approx(sum(excess), rel=1e-6)


def test_inside_the_range_the_score_is_minus_the_closest_distance_to_a_bound() -> None:
    detector = _fitted()
    # feature 0 is 0.5 from its bound (0.25 of its range), feature 1 is 0.1 from 10.5 (unit 1)
    scores, contributions = detector.score(_window([1.5, 10.4]))
    assert scores[0] == pytest.approx(-0.1, abs=1e-6)
    assert (contributions == 0).all()
    centre, edge = detector.score(np.concatenate([_window([1.0, 10.25]), _window([1.9, 10.25])])).scores
    assert centre < edge < 0


def test_features_constant_in_training_do_not_pin_the_in_range_score_to_zero() -> None:
    train = np.array([[0.0, 0.0], [4.0, 0.0], [2.0, 0.0]], np.float32)  # feature 1 never moves
    detector = RangeDetector()
    detector.fit(train)
    near_edge, centre, flag_set = detector.score(
        np.array([[[2.0, 0.0], [3.0, 0.0]], [[2.0, 0.0], [2.0, 0.0]], [[2.0, 0.0], [2.0, 1.0]]], np.float32)
    ).scores
    assert near_edge == pytest.approx(-0.25) and centre == pytest.approx(-0.5)
    assert flag_set == pytest.approx(1.0)  # the constant feature leaving its value: one scaler unit


def test_only_the_last_step_counts() -> None:
    detector = _fitted()
    quiet = detector.score(_window([1.0, 10.2], earlier=[1.0, 10.2])).scores
    loud_past = detector.score(_window([1.0, 10.2], earlier=[100.0, -50.0])).scores
    np.testing.assert_array_equal(quiet, loud_past)


def test_min_range_sets_the_unit_of_constant_features() -> None:
    constant = np.array([[0.0, 1.0], [0.0, 2.0], [0.0, 1.5]], np.float32)
    for min_range, expected in ((1.0, 3.0), (0.5, 6.0)):
        detector = RangeDetector(min_range=min_range)
        detector.fit(constant)
        assert detector.score(np.array([[[0.0, 1.5], [3.0, 1.5]]], np.float32)).scores[0] == pytest.approx(expected)
    with pytest.raises(ValueError, match="min_range"):
        RangeDetector(min_range=0.0)


def test_save_load_keeps_the_range(tmp_path) -> None:
    detector = _fitted()
    detector.save(tmp_path)
    loaded = RangeDetector.load(tmp_path)
    windows = np.concatenate([_window([3.0, 9.0]), _window([1.0, 10.1])])
    np.testing.assert_array_equal(loaded.score(windows).scores, detector.score(windows).scores)
