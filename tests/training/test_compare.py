"""Live against shadow: the comparison ``streamproc models compare`` prints, on score records."""

from __future__ import annotations

import pytest

from streamproc.training import compare_shadow


def _record(end: int, score: float, *, shadow: bool, channel: str = "P-1", detector: str = "pca") -> dict:
    return {
        "channel": channel,
        "window_end": end,
        "detector": detector,
        "model_version": "v2" if shadow else "v1",
        "score": score,
        "threshold": 1.0,
        "anomalous": score > 1.0,
        "contributions": [score],
        "shadow": shadow,
    }


def test_windows_both_versions_scored_are_compared_and_alerts_counted_with_the_fusion_hysteresis() -> None:
    live = [0.5] * 10 + [2.0] * 3 + [0.5] * 10  # one run of three anomalous windows
    shadow = [0.6] * 10 + [2.0] * 2 + [0.5] * 3 + [3.0] * 4 + [0.5] * 4  # two runs: 2 and 4 windows
    records = [_record(i, s, shadow=False) for i, s in enumerate(live)]
    records += [_record(i, s, shadow=True) for i, s in enumerate(shadow)]
    records += [_record(99, 5.0, shadow=False), _record(5, 9.0, shadow=True, detector="usad")]  # unmatched
    (found,) = compare_shadow(records, "pca", open_after=3, resolve_after=2)
    assert (found.channel, found.live_versions, found.shadow_versions, found.windows) == ("P-1", ("v1",), ("v2",), 23)
    assert (found.live_anomalous, found.shadow_anomalous) == (3, 6)
    assert (found.live_alerts, found.shadow_alerts) == (1, 1), "a run of two windows opens nothing at open_after 3"
    assert found.agreement == pytest.approx(18 / 23)
    assert 0.0 < found.correlation < 1.0


def test_a_channel_without_shadow_scores_is_left_out_and_a_constant_score_has_no_correlation() -> None:
    records = [_record(i, 0.5, shadow=False, channel="A") for i in range(5)]
    records += [_record(i, 0.5, shadow=False, channel="B") for i in range(5)]
    records += [_record(i, 0.1 * i, shadow=True, channel="B") for i in range(5)]
    (found,) = compare_shadow(records, "pca", open_after=1, resolve_after=1)
    assert found.channel == "B" and found.correlation is None and found.agreement == 1.0
