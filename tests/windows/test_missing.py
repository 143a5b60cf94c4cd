"""Missing values: each policy, the run limit, per-feature policies, and long series."""

from __future__ import annotations

import numpy as np
import pytest

from streamproc.windows import MissingPolicy, fill_series, hold_everywhere

NAN = np.nan


def column(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float64)[:, None]


def test_nothing_missing_is_returned_as_given() -> None:
    values = column(1, 2, 3)
    filled, problem = MissingPolicy().fill(values)
    assert filled is values and problem is None


@pytest.mark.parametrize(
    ("policy", "values", "expected"),
    [
        ("hold", (1, NAN, NAN, 4), (1, 1, 1, 4)),
        ("interpolate", (1, NAN, NAN, 4), (1, 2, 3, 4)),
        ("hold", (NAN, NAN, 3, 4), (3, 3, 3, 4)),  # a leading run takes the first value
        ("interpolate", (1, 2, NAN), (1, 2, 2)),  # a trailing run is held
    ],
)
def test_runs_within_the_limit_are_filled_by_the_policy(policy, values, expected) -> None:
    filled, problem = MissingPolicy(policy, limit=2).fill(column(*values))
    assert problem is None
    np.testing.assert_allclose(filled[:, 0], expected)


@pytest.mark.parametrize(
    ("policy", "values", "reason"),
    [
        ("hold", (1, NAN, NAN, NAN, 5), "feature #0: missing for 3 consecutive steps (the limit is 2)"),
        ("reject", (1, NAN, 3, 4, 5), "feature #0: 1 missing value(s) (policy reject)"),
        ("interpolate", (NAN, NAN), "feature #0: missing at every step"),
    ],
)
def test_what_a_policy_cannot_fill_leaves_the_window_unscored_with_the_reason(policy, values, reason) -> None:
    given = column(*values)
    filled, problem = MissingPolicy(policy, limit=2).fill(given)
    assert problem == reason and filled is given


def test_per_feature_policies_by_name_and_the_default_for_the_rest() -> None:
    values = np.array([[1, 10, 5], [NAN, NAN, NAN], [3, 30, 7]], dtype=np.float64)
    policy = MissingPolicy("hold", limit=1, features={"flow": "interpolate", "valve": "reject"})
    filled, problem = policy.fill(values[:, :2], ["flow", "temp"])
    assert problem is None
    np.testing.assert_allclose(filled, [[1, 10], [2, 10], [3, 30]])
    assert policy.fill(values, ["flow", "temp", "valve"])[1] == "feature valve: 1 missing value(s) (policy reject)"
    # Without names (or with names of another length), every feature has the default policy.
    assert policy.of(3, None) == ["hold"] * 3 and policy.of(3, ["flow"]) == ["hold"] * 3


def test_bad_policies_are_refused() -> None:
    with pytest.raises(ValueError, match="'guess' is not one of hold, interpolate, reject"):
        MissingPolicy("guess")
    with pytest.raises(ValueError, match="policy of temp"):
        MissingPolicy(features={"temp": "zero"})
    with pytest.raises(ValueError, match="limit"):
        MissingPolicy(limit=-1)


def test_a_training_series_keeps_what_a_window_would_fill_and_leaves_out_the_rest() -> None:
    values = np.array([[1, 0], [NAN, 1], [3, 2], [4, NAN], [5, NAN], [6, NAN], [7, 6], [8, 7]], dtype=np.float64)
    filled, kept, count = fill_series(values, MissingPolicy("interpolate", limit=2))
    assert count == 1 and kept.tolist() == [True, True, True, False, False, False, True, True]
    np.testing.assert_allclose(filled[kept], [[1, 0], [2, 1], [3, 2], [7, 6], [8, 7]])
    _, kept, count = fill_series(values, MissingPolicy("reject"))
    assert count == 0 and kept.sum() == 4


def test_the_point_level_view_holds_every_missing_value() -> None:
    values = np.array([[NAN, NAN], [2, NAN], [NAN, NAN], [NAN, NAN], [5, NAN]], dtype=np.float64)
    np.testing.assert_allclose(hold_everywhere(values), [[2, 0], [2, 0], [2, 0], [2, 0], [5, 0]])
