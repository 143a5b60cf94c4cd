"""Deterministic record ids."""

from __future__ import annotations

import re

from streamproc.fusion import DetectorVerdict
from streamproc.pipeline import RawMessage, dead_letter_record, score_record
from streamproc.serde import RECORD_ID_DIGITS, record_id


def test_the_same_parts_give_the_same_id_and_different_parts_different_ids():
    assert record_id("a", 1) == record_id("a", 1)
    assert re.fullmatch(f"[0-9a-f]{{{RECORD_ID_DIGITS}}}", record_id("a", 1))
    assert record_id("a", 1) != record_id("a", 2) != record_id(1, "a")
    # No separator a part could contain makes two different tuples collide.
    assert record_id("a/b", "c") != record_id("a", "b/c")
    assert record_id("1", 1) != record_id(1, "1")


def test_records_are_identified_by_what_they_report_not_by_when():
    verdict = DetectorVerdict("pca", "v1", 2.0, 1.0, (1.0,))
    first = score_record("c1", 1000, verdict, None)
    again = score_record("c1", 1000, DetectorVerdict("pca", "v1", 2.5, 1.0, (1.0,)), None)
    assert first["record_id"] == again["record_id"]  # one window of one model: one id
    assert first["record_id"] != score_record("c1", 1010, verdict, None)["record_id"]
    assert (
        first["record_id"]
        != score_record("c1", 1000, DetectorVerdict("pca", "v2", 2.0, 1.0, (1.0,)), None)["record_id"]
    )
    # a shadow that is a recalibration of the live model shares its model id, never its record ids
    shadow = score_record("c1", 1000, verdict, None, shadow=True)
    assert shadow["shadow"] and not first["shadow"] and shadow["record_id"] != first["record_id"]
    bad = RawMessage(b"c1", b"junk", "readings", 3, 42, 0.0)
    letter = dead_letter_record(bad, "malformed", "one")
    assert letter["record_id"] == dead_letter_record(bad, "malformed", "two")["record_id"]
    assert (
        letter["record_id"]
        != dead_letter_record(RawMessage(b"c1", b"junk", "readings", 3, 43, 0.0), "malformed", "one")["record_id"]
    )


def test_each_event_of_an_alert_has_its_own_id():
    from streamproc.fusion import AlertEvent

    def event(state: str, updated_at: int) -> AlertEvent:
        return AlertEvent("alert-1", "c1", state, 1000, updated_at, None, "warning", 2.0, (), ())

    ids = {
        event("OPEN", 1000).to_record()["record_id"],
        event("UPDATE", 1010).to_record()["record_id"],
        event("UPDATE", 1020).to_record()["record_id"],
        event("RESOLVED", 1020).to_record()["record_id"],
    }
    assert len(ids) == 4
    assert event("OPEN", 1000).to_record()["record_id"] == event("OPEN", 1000).to_record()["record_id"]
