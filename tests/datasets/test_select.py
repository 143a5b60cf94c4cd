from pathlib import Path

import pytest

from streamproc.datasets import DatasetError
from streamproc.datasets._select import select_channels

ROOT = Path("data")
CHANNELS = ["valve1-0", "valve1-1", "valve1-10", "valve2-0", "anomaly-free-0"]


def test_no_request_selects_every_channel_in_order() -> None:
    assert select_channels(ROOT, CHANNELS, None) == CHANNELS
    assert select_channels(ROOT, CHANNELS, [" ", ""]) == CHANNELS


def test_patterns_expand_in_data_set_order_beside_plain_names() -> None:
    assert select_channels(ROOT, CHANNELS, ["valve2-0", "valve1-1*"]) == ["valve2-0", "valve1-1", "valve1-10"]
    assert select_channels(ROOT, CHANNELS, ["valve?-0"]) == ["valve1-0", "valve2-0"]


@pytest.mark.parametrize(
    ("requested", "message"),
    [
        (["valve3-*"], r"unknown channel\(s\) valve3-\*; channels: valve1-0"),
        (["nope", "valve1-0"], r"unknown channel\(s\) nope;"),
        (["valve1-*", "valve1-0"], r"listed twice: valve1-0$"),
    ],
)
def test_what_matches_nothing_or_twice_is_an_error(requested, message) -> None:
    with pytest.raises(DatasetError, match=message):
        select_channels(ROOT, CHANNELS, requested)


def test_an_empty_data_set_is_an_error() -> None:
    with pytest.raises(DatasetError, match="no channels"):
        select_channels(ROOT, [], None)
