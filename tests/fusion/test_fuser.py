import uuid

import pytest

from streamproc.config import FusionSettings
from streamproc.fusion import (
    ChannelFusion,
    DetectorVerdict,
    Fuser,
    FusionPolicy,
    FusionStateError,
    WindowVerdicts,
    alert_id,
)

NAMES = ("temp", "pressure", "flow")


def window(end: int, **scores: float) -> WindowVerdicts:
    verdicts = [DetectorVerdict(d, "v1", s, 1.0, (0.1, 0.7, 0.2)) for d, s in sorted(scores.items())]
    return WindowVerdicts("pump", end, verdicts, NAMES, produced_at=float(end))


def run(fuser: Fuser, scores: list[float], state: ChannelFusion | None = None, start: int = 0):
    state = state if state is not None else ChannelFusion()
    events = []
    for i, s in enumerate(scores):
        events += fuser.fuse(state, window(1000 * (start + i + 1), pca=s))
    return state, events


def test_opens_after_m_anomalous_and_resolves_after_n_normal():
    fuser = Fuser(open_after=3, resolve_after=2)
    _, events = run(fuser, [0.5, 2, 2, 0.1, 2, 2, 2, 2, 0.1, 2, 0.1, 0.1, 0.1])
    assert [(e.state, e.updated_at) for e in events] == [("OPEN", 7000), ("RESOLVED", 12000)]
    opened, resolved = events
    assert opened.alert_id == resolved.alert_id == alert_id("pump", 7000)
    assert opened.opened_at == resolved.opened_at == 7000
    assert opened.resolved_at is None and resolved.resolved_at == 12000
    assert uuid.UUID(opened.alert_id).version == 5


def test_nothing_on_a_clean_stream():
    _, events = run(Fuser(open_after=1), [0.1, 0.9, 0.99, 0.5] * 20)
    assert events == []


def test_severity_bands_and_updates_only_on_escalation():
    fuser = Fuser(
        open_after=1, resolve_after=1, severity_bands={"LOW": 1.0, "MEDIUM": 2.0, "HIGH": 4.0, "CRITICAL": 8.0}
    )
    _, events = run(fuser, [1.5, 5.0, 3.0, 9.0, 1.2, 0.2])
    assert [(e.state, e.severity) for e in events] == [
        ("OPEN", "LOW"),
        ("UPDATE", "HIGH"),
        ("UPDATE", "CRITICAL"),
        ("RESOLVED", "LOW"),
    ]
    assert events[-1].fused_score == pytest.approx(0.2)


def test_same_input_gives_same_ids():
    scores = [2, 2, 2, 0, 0, 0, 0, 0, 3, 3, 3, 3, 0, 0, 0, 0, 0]
    first = run(Fuser(), scores)[1]
    second = run(Fuser(), scores)[1]
    assert [e.to_record() for e in first] == [e.to_record() for e in second]
    assert len({e.alert_id for e in first}) == 2


def test_old_or_repeated_windows_are_ignored():
    fuser = Fuser(open_after=2)
    state, events = run(fuser, [2, 2])
    assert len(events) == 1
    assert fuser.fuse(state, window(2000, pca=5.0)) == []
    assert fuser.fuse(state, window(1500, pca=5.0)) == []
    assert state.anomalous_run == 2


def test_state_round_trip_resumes_exactly():
    fuser = Fuser(open_after=2, resolve_after=3)
    scores = [2, 2, 5, 0, 0, 2, 0, 0, 0, 2, 2]
    _, whole = run(fuser, scores)
    state, head = run(fuser, scores[:6])
    restored = ChannelFusion.from_bytes(state.to_bytes())
    _, tail = run(fuser, scores[6:], restored, start=6)
    assert [e.to_record() for e in head + tail] == [e.to_record() for e in whole]


def test_corrupt_state_is_rejected():
    for raw in (b"{", b'{"v": 99}', b'{"v": 1}', b"[]"):
        with pytest.raises(FusionStateError):
            ChannelFusion.from_bytes(raw)


def test_top_features_by_name_and_share():
    fuser = Fuser(open_after=1)
    w = WindowVerdicts(
        "pump",
        1,
        [
            DetectorVerdict("pca", "v", 4.0, 1.0, (1.0, 6.0, 3.0)),
            DetectorVerdict("usad", "v", 0.0, 1.0, (9.0, 0.0, 0.0)),
        ],
        NAMES,
    )
    (event,) = fuser.fuse(ChannelFusion(), w)
    # usad's score is 0: its contributions carry no weight.
    assert [(f.name, f.index) for f in event.top_features] == [("pressure", 1), ("flow", 2), ("temp", 0)]
    assert sum(f.contribution for f in event.top_features) == pytest.approx(1.0)
    assert event.top_features[0].contribution == pytest.approx(0.6)


def test_top_features_without_names_and_limited():
    fuser = Fuser(open_after=1, top_features=2)
    w = WindowVerdicts("c", 1, [DetectorVerdict("pca", "v", 2.0, 1.0, (0.0, 1.0, 3.0, 2.0))])
    (event,) = fuser.fuse(ChannelFusion(), w)
    assert [(f.index, f.name) for f in event.top_features] == [(2, None), (3, None)]


def test_k_of_n_needs_agreement():
    fuser = Fuser(FusionPolicy("k_of_n", k=2), open_after=1)
    assert fuser.fuse(ChannelFusion(), window(1, pca=9.0, usad=0.5)) == []
    (event,) = fuser.fuse(ChannelFusion(), window(1, pca=9.0, usad=1.2))
    assert {d.detector for d in event.detector_scores} == {"pca", "usad"}


def test_record_matches_the_alert_schema():
    from streamproc.serde import Codec

    fuser = Fuser(open_after=1, resolve_after=1)
    _, events = run(fuser, [3.0, 0.0])
    codec = Codec()
    for event in events:
        decoded = codec.decode(codec.encode("Alert", event.to_record()))
        assert decoded.record["alert_id"] == event.alert_id


def test_from_settings():
    settings = FusionSettings(policy="mean", open_after=2, resolve_after=4)
    fuser = Fuser.from_settings(settings)
    assert (fuser.policy.name, fuser.open_after, fuser.resolve_after) == ("mean", 2, 4)


class TestJoin:
    def verdict(self, detector: str, score: float = 0.5) -> DetectorVerdict:
        return DetectorVerdict(detector, "v", score, 1.0, (1.0,))

    def test_waits_for_every_expected_detector(self):
        fuser, state = Fuser(), ChannelFusion()
        assert fuser.join(state, "c", 10, self.verdict("pca"), {"pca", "usad"}) == []
        ready = fuser.join(state, "c", 10, self.verdict("usad"), {"pca", "usad"}, ["x"], 3.0)
        assert [(w.window_end, [v.detector for v in w.verdicts], w.feature_names) for w in ready] == [
            (10, ["pca", "usad"], ["x"])
        ]
        assert state.pending == {}

    def test_older_incomplete_windows_are_released_first(self):
        fuser, state = Fuser(), ChannelFusion()
        fuser.join(state, "c", 10, self.verdict("pca"), {"pca", "usad"})
        fuser.join(state, "c", 20, self.verdict("pca"), {"pca", "usad"})
        ready = fuser.join(state, "c", 20, self.verdict("usad"), {"pca", "usad"})
        assert [(w.window_end, len(w.verdicts)) for w in ready] == [(10, 1), (20, 2)]

    def test_pending_survives_a_restart(self):
        fuser, state = Fuser(), ChannelFusion()
        fuser.join(state, "c", 10, self.verdict("pca", 0.25), {"pca", "usad"}, ["x"], 1.0)
        restored = ChannelFusion.from_bytes(state.to_bytes())
        ready = fuser.join(restored, "c", 10, self.verdict("usad"), {"pca", "usad"})
        assert ready[0].verdicts[0].score == 0.25 and ready[0].feature_names == ["x"]

    def test_already_fused_windows_are_ignored(self):
        fuser, state = Fuser(), ChannelFusion(last_window_end=10)
        assert fuser.join(state, "c", 10, self.verdict("pca"), {"pca"}) == []
        assert state.pending == {}

    def test_pending_is_bounded(self):
        from streamproc.fusion import MAX_PENDING_WINDOWS

        fuser, state = Fuser(), ChannelFusion()
        released = []
        for end in range(MAX_PENDING_WINDOWS + 5):
            released += fuser.join(state, "c", end, self.verdict("pca"), {"pca", "missing"})
        assert len(state.pending) <= MAX_PENDING_WINDOWS + 1
        assert [w.window_end for w in released] == list(range(len(released)))
