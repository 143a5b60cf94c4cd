"""Operators' verdicts tune a channel's detector threshold scales, and fusion uses them."""

from __future__ import annotations

import pytest

from streamproc.fusion import (
    REMEMBERED_ALERTS,
    ChannelFusion,
    DetectorVerdict,
    FeedbackOutcome,
    FeedbackTuner,
    Fuser,
    WindowVerdicts,
)


def window(end: int, **scores: float) -> WindowVerdicts:
    return WindowVerdicts("pump", end, [DetectorVerdict(d, "v1", s, 1.0, (1.0,)) for d, s in sorted(scores.items())])


def open_alert(fuser: Fuser, state: ChannelFusion, start: int, **scores: float) -> str:
    events = []
    for i in range(fuser.open_after):
        events += fuser.fuse(state, window(start + i, **scores))
    for i in range(fuser.resolve_after):
        events += fuser.fuse(state, window(start + fuser.open_after + i, **dict.fromkeys(scores, 0.1)))
    assert [e.state for e in events] == ["OPEN", "RESOLVED"]
    return events[0].alert_id


def test_the_fuser_remembers_which_detectors_fired_at_the_alerts_peak():
    fuser, state = Fuser(open_after=2, resolve_after=1), ChannelFusion()
    events = []
    for end, (pca, usad) in enumerate([(2.0, 0.5), (2.0, 0.5), (3.0, 0.8), (2.5, 0.9), (0.1, 0.1)]):
        events += fuser.fuse(state, window(end, pca=pca, usad=usad))
    (remembered,) = state.remembered
    assert remembered.alert_id == events[0].alert_id and remembered.verdict is None
    assert (remembered.fired, remembered.quiet) == (["pca"], ["usad"])
    # A second alert, whose first window has only pca above 1 and whose peak has both.
    fuser.fuse(state, window(9, pca=2.0, usad=0.5))
    fuser.fuse(state, window(10, pca=2.0, usad=0.5))
    fuser.fuse(state, window(11, pca=4.0, usad=1.5))
    assert len(state.remembered) == 2
    assert (state.remembered[-1].fired, state.remembered[-1].quiet) == (["pca", "usad"], [])


def test_a_false_positive_raises_the_scales_of_the_detectors_that_fired():
    fuser, state = Fuser(open_after=1, resolve_after=1), ChannelFusion()
    alert = open_alert(fuser, state, 0, pca=1.5, usad=0.5)
    tuner = FeedbackTuner(step=0.25, max_scale=4.0)
    assert tuner.apply(state, alert, "FALSE_POSITIVE") is FeedbackOutcome.APPLIED
    assert state.scales == {"pca": 1.25}
    # The same window now normalises to 1.5 / 1.25 = 1.2: still anomalous; one more verdict
    # on the next such alert puts it below the fused threshold.
    second = open_alert(fuser, state, 100, pca=1.5, usad=0.5)
    assert tuner.apply(state, second, "FALSE_POSITIVE") is FeedbackOutcome.APPLIED
    assert state.scales["pca"] == pytest.approx(1.5625)
    assert fuser.fuse(state, window(200, pca=1.5, usad=0.5)) == [] and state.anomalous_run == 0


def test_a_true_positive_sharpens_detectors_that_missed_it_and_relaxes_those_that_fired():
    state = ChannelFusion(scales={"pca": 2.0})
    tuner = FeedbackTuner(step=1.0, max_scale=4.0)
    tuner.remember(state, "a", {"pca": 1.5, "usad": 0.4})
    assert tuner.apply(state, "a", "TRUE_POSITIVE") is FeedbackOutcome.APPLIED
    assert state.scales == {"usad": 0.5}  # pca back to 1 (dropped), usad halved
    tuner.remember(state, "b", {"pca": 1.5, "usad": 0.4})
    tuner.apply(state, "b", "TRUE_POSITIVE")
    tuner.remember(state, "c", {"pca": 1.5, "usad": 0.4})
    tuner.apply(state, "c", "TRUE_POSITIVE")
    assert state.scales == {"usad": 0.25}  # bounded by 1 / max_scale


def test_scales_are_bounded_and_unsure_moves_nothing():
    tuner, state = FeedbackTuner(step=1.0, max_scale=3.0), ChannelFusion()
    for i in range(4):
        tuner.remember(state, f"a{i}", {"pca": 5.0})
        tuner.apply(state, f"a{i}", "FALSE_POSITIVE")
    assert state.scales == {"pca": 3.0}
    tuner.remember(state, "u", {"pca": 5.0, "usad": 0.1})
    assert tuner.apply(state, "u", "UNSURE") is FeedbackOutcome.APPLIED
    assert state.scales == {"pca": 3.0}


def test_an_alert_counts_its_first_verdict_only_and_unknown_alerts_change_nothing():
    tuner, state = FeedbackTuner(), ChannelFusion()
    tuner.remember(state, "a", {"pca": 2.0})
    assert tuner.apply(state, "a", "FALSE_POSITIVE") is FeedbackOutcome.APPLIED
    scales = dict(state.scales)
    assert tuner.apply(state, "a", "FALSE_POSITIVE") is FeedbackOutcome.REPEATED
    assert tuner.apply(state, "a", "TRUE_POSITIVE") is FeedbackOutcome.REPEATED
    assert tuner.apply(state, "nope", "FALSE_POSITIVE") is FeedbackOutcome.UNKNOWN_ALERT
    assert state.scales == scales
    with pytest.raises(ValueError, match="verdict"):
        tuner.apply(state, "a", "MAYBE")


def test_only_the_most_recent_alerts_are_remembered():
    state = ChannelFusion()
    for i in range(REMEMBERED_ALERTS + 5):
        FeedbackTuner.remember(state, f"a{i}", {"pca": 2.0})
    assert len(state.remembered) == REMEMBERED_ALERTS
    assert state.remembered[0].alert_id == "a5"
    assert FeedbackTuner().apply(state, "a0", "FALSE_POSITIVE") is FeedbackOutcome.UNKNOWN_ALERT


def test_tuned_state_round_trips():
    tuner, state = FeedbackTuner(), ChannelFusion(partition=3)
    tuner.remember(state, "a", {"pca": 2.0, "usad": 0.5})
    tuner.remember(state, "b", {"pca": 1.2})
    tuner.apply(state, "a", "FALSE_POSITIVE")
    assert ChannelFusion.from_bytes(state.to_bytes()) == state
    # States written before feedback existed read as untuned.
    plain = ChannelFusion.from_bytes(b'{"v":1,"last":5,"runs":[0,1]}')
    assert plain.scales == {} and plain.remembered == [] and plain.partition is None


def test_bad_tuner_settings():
    with pytest.raises(ValueError, match="step"):
        FeedbackTuner(step=-0.1)
    with pytest.raises(ValueError, match="max_scale"):
        FeedbackTuner(max_scale=0.5)
