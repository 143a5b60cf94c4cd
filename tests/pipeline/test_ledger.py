"""The dead-letter ledger: a message handled before a restart is not dead-lettered again."""

from __future__ import annotations

from streamproc.pipeline import DeadLetterLedger, RawMessage


def message(offset: int, partition: int = 0, topic: str = "readings", timestamp: float | None = None) -> RawMessage:
    # Kafka timestamps grow with the offset, unless a test says otherwise.
    return RawMessage(b"k", b"\x00", topic, partition, offset, offset if timestamp is None else timestamp)


def commit(ledger: DeadLetterLedger) -> list[tuple[bytes, int, bytes]]:
    return list(ledger.changes())


def test_a_committed_dead_letter_is_not_admitted_again_but_later_offsets_are():
    store: dict[bytes, bytes] = {}
    ledger = DeadLetterLedger(store)
    assert ledger.admit(message(5))
    assert commit(ledger) == [(b"readings/0", 0, b"5 5000")]
    restarted = DeadLetterLedger(store)  # what a restarted worker recovers from the changelog
    assert not restarted.admit(message(5))
    assert not restarted.admit(message(3))  # handled before the restart, whatever its fate was
    assert restarted.admit(message(6))


def test_offsets_of_one_batch_are_all_admitted_in_any_order_and_the_highest_recorded():
    store: dict[bytes, bytes] = {}
    ledger = DeadLetterLedger(store)
    # A window's fusion failure is reported after the ingest's dead letters of later messages.
    assert ledger.admit(message(7)) and ledger.admit(message(5)) and ledger.admit(message(9, partition=2))
    assert sorted(commit(ledger)) == [(b"readings/0", 0, b"7 7000"), (b"readings/2", 2, b"9 9000")]
    assert commit(ledger) == []  # nothing left pending once written


def test_partitions_and_topics_are_kept_apart():
    store: dict[bytes, bytes] = {}
    ledger = DeadLetterLedger(store)
    ledger.admit(message(10, partition=1))
    commit(ledger)
    assert ledger.admit(message(2, partition=0))
    assert ledger.admit(message(2, partition=1, topic="feedback"))
    assert not ledger.admit(message(2, partition=1))


def test_a_discarded_attempt_records_nothing():
    store: dict[bytes, bytes] = {}
    ledger = DeadLetterLedger(store)
    ledger.admit(message(4))
    ledger.discard()  # the batch failed before its outputs were flushed
    assert commit(ledger) == [] and store == {}
    assert ledger.admit(message(4))


def test_a_newer_message_at_a_low_offset_is_not_taken_for_a_repeat():
    store: dict[bytes, bytes] = {}
    ledger = DeadLetterLedger(store)
    ledger.admit(message(500, timestamp=1000.0))
    commit(ledger)
    # The topic was deleted and created again: offsets start over, the messages are new.
    assert ledger.admit(message(3, timestamp=2000.0))
    assert not ledger.admit(message(3, timestamp=400.0))


def test_entries_of_the_first_format_and_unreadable_ones_do_not_stop_the_worker():
    ledger = DeadLetterLedger({b"readings/0": b"5", b"readings/1": b"not a number"})
    assert not ledger.admit(message(5, timestamp=10**9))  # the offset alone: no timestamp limit
    assert ledger.admit(message(6))
    assert ledger.admit(message(1, partition=1))  # unreadable: ignored, the dead letter repeats
