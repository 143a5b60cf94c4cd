"""Which source messages were dead-lettered already, so that a restarted worker does not
dead-letter them again."""

from __future__ import annotations

import logging
from collections.abc import Iterator, MutableMapping

from ._records import RawMessage

_LOG = logging.getLogger(__name__)
_NO_LIMIT = 2**63 - 1


class DeadLetterLedger:
    """Per source partition, the highest offset dead-lettered by a committed batch, with that
    message's timestamp.

    ``store`` maps ``b"<topic>/<partition>"`` to ``b"<offset> <timestamp ms>"`` (a Faust table's
    in-memory data, changelogged to the source partition's own changelog partition, so it moves
    with the partition on a rebalance; feedback, which every worker reads whole, is dead-lettered
    only by the owner of the partition of the same number, so its entries move the same way).
    A worker handles a partition's messages in offset order and records its states
    only after the batch's outputs are flushed, so a message at or below the recorded offset was
    handled before the worker stopped: its dead letter now would be a repeat. A message newer
    than the recorded one (a topic recreated, offsets starting again) is not a repeat whatever its
    offset. (Producers that set timestamps out of offset order, with skewed clocks, can make a
    message read again look newer: it is then dead-lettered again, under the same ``record_id``.)
    Within a batch, offsets are recorded as they are admitted and written by :meth:`changes` when
    the batch commits; :meth:`discard` forgets an attempt that failed.
    """

    def __init__(self, store: MutableMapping[bytes, bytes]) -> None:
        self.store = store
        self._pending: dict[bytes, tuple[int, int, int]] = {}

    @staticmethod
    def _key(message: RawMessage) -> bytes:
        return f"{message.topic}/{message.partition}".encode()

    def admit(self, message: RawMessage) -> bool:
        """Whether ``message`` should be dead-lettered now: false when a committed batch did."""
        key = self._key(message)
        timestamp = int(message.timestamp * 1000)
        recorded = self._recorded(key)
        if recorded is not None:
            offset, recorded_timestamp = recorded
            if message.offset <= offset and timestamp <= recorded_timestamp:
                return False
        pending = self._pending.get(key)
        if pending is None or message.offset > pending[1]:
            self._pending[key] = (message.partition, message.offset, timestamp)
        return True

    def _recorded(self, key: bytes) -> tuple[int, int] | None:
        """The stored ``(offset, timestamp ms)``; an entry of the first format (the offset alone)
        reads with no timestamp limit, and an unreadable one is logged and ignored (dead letters
        are then repeated rather than lost)."""
        raw = self.store.get(key)
        if raw is None:
            return None
        try:
            fields = [int(v) for v in raw.split()]
            if len(fields) == 1:
                return fields[0], _NO_LIMIT
            offset, timestamp = fields
            return offset, timestamp
        except ValueError:
            _LOG.error("ignoring the unreadable dead-letter ledger entry %r of %r", raw[:80], key)
            return None

    def discard(self) -> None:
        self._pending.clear()

    def changes(self) -> Iterator[tuple[bytes, int, bytes]]:
        """``(key, partition, data)`` of each partition dead-lettered in this batch, stored as
        it is yielded (the :class:`StateBuffer` protocol, for the same changelog writes)."""
        pending, self._pending = self._pending, {}
        for key, (partition, offset, timestamp) in pending.items():
            data = f"{offset} {timestamp}".encode()
            self.store[key] = data
            yield key, partition, data
