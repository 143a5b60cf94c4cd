"""The ratio construction reaches exactly the share it claims, reproducibly, within its constraints."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from streamproc.bench import BenchError, RatioInfeasible, crop_to_ratio, ratio_fraction
from streamproc.datasets import SyntheticConfig, generate_synthetic, labels_from_segments

TARGETS = (0.005, 0.01, 0.02, 0.05, 0.10)


def _labels(seed: int, ratio: float = 0.05, steps: int = 8000) -> np.ndarray:
    config = SyntheticConfig(n_features=2, train_steps=50, test_steps=steps, anomaly_ratio=ratio, seed=seed)
    return generate_synthetic(config).labels


@pytest.mark.parametrize("data_seed", [0, 1, 2])
@pytest.mark.parametrize("target", TARGETS)
def test_every_target_is_reached_exactly_for_several_seeds(data_seed: int, target: float) -> None:
    labels = _labels(data_seed)
    for seed in range(4):
        crop = crop_to_ratio(labels, target, np.random.default_rng(seed), min_length=500, lead=64)
        inside = labels[crop.start : crop.stop]
        assert crop.anomalous == int(inside.sum()) > 0
        assert Fraction(crop.anomalous, crop.length) == ratio_fraction(target)
        assert abs(crop.achieved - target) < 1e-12
        assert crop.length >= 500
        assert crop.start >= 63 and not labels[crop.start : crop.start + 64].any()


def _segments(labels: np.ndarray) -> list[tuple[int, int]]:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], labels.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=False))


@pytest.mark.parametrize("target", TARGETS)
def test_only_the_end_of_a_slice_may_cut_a_segment(target: float) -> None:
    labels = _labels(3)
    for seed in range(4):
        crop = crop_to_ratio(labels, target, np.random.default_rng(seed), min_length=500, lead=16)
        touched = [(a, b) for a, b in _segments(labels) if a < crop.stop and b > crop.start]
        assert len(touched) == crop.segments >= 1
        assert all(crop.start < a for a, _ in touched)  # a slice starts in normal data
        assert all(b <= crop.stop for _, b in touched[:-1])  # every segment but the last is whole
        assert crop.ends_inside_segment == (touched[-1][1] > crop.stop)


def test_a_seed_gives_the_same_slice_and_seeds_differ() -> None:
    labels = _labels(4)
    first = [crop_to_ratio(labels, 0.02, np.random.default_rng(s), min_length=300) for s in range(6)]
    again = [crop_to_ratio(labels, 0.02, np.random.default_rng(s), min_length=300) for s in range(6)]
    assert first == again
    assert len({(c.start, c.stop) for c in first}) > 1


def _brute_force(labels: np.ndarray, target: float, min_length: int, lead: int) -> set[tuple[int, int]]:
    fraction = ratio_fraction(target)
    prefix = np.concatenate([[0], np.cumsum(labels)])
    found = set()
    for a in range(len(labels)):
        if a < lead - 1 or a + lead > len(labels) or labels[a : a + lead].any():
            continue
        for b in range(a + min_length, len(labels) + 1):
            if Fraction(int(prefix[b] - prefix[a]), b - a) == fraction:
                found.add((a, b))
    return found


def test_draws_cover_exactly_the_long_candidates_of_a_brute_force_search() -> None:
    rng = np.random.default_rng(7)
    labels = np.zeros(400, dtype=bool)
    for start in rng.choice(380, size=6, replace=False):
        labels[start : start + rng.integers(2, 12)] = True
    candidates = _brute_force(labels, 0.1, min_length=50, lead=5)
    longest = max(b - a for a, b in candidates)
    kept = {(a, b) for a, b in candidates if b - a >= np.ceil(0.5 * longest)}
    drawn = {
        (c.start, c.stop)
        for c in (crop_to_ratio(labels, 0.1, np.random.default_rng(s), min_length=50, lead=5) for s in range(400))
    }
    assert drawn <= kept
    assert len(drawn) >= min(len(kept), 20)


def test_a_slice_may_end_inside_a_segment_and_says_so() -> None:
    labels = np.zeros(3000, dtype=bool)
    labels[2000:2900] = True  # one long segment: 0.5% is reachable only by cutting it
    crop = crop_to_ratio(labels, 0.005, np.random.default_rng(0), min_length=1000)
    assert crop.ends_inside_segment and labels[crop.stop]
    assert crop.start < 2000 < crop.stop and crop.segments == 1


def test_unreachable_targets_raise() -> None:
    labels = labels_from_segments([(500, 502)], 2000)  # 3 labelled points in all
    with pytest.raises(RatioInfeasible):
        crop_to_ratio(labels, 0.1, np.random.default_rng(0), min_length=100)
    with pytest.raises(RatioInfeasible):
        crop_to_ratio(np.ones(100, dtype=bool), 0.1, np.random.default_rng(0), min_length=10)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (0.005, Fraction(1, 200)),
        (0.01, Fraction(1, 100)),
        (0.02, Fraction(1, 50)),
        (0.05, Fraction(1, 20)),
        (0.1, Fraction(1, 10)),
        (0.125, Fraction(1, 8)),
    ],
)
def test_targets_become_exact_fractions(target: float, expected: Fraction) -> None:
    assert ratio_fraction(target) == expected


@pytest.mark.parametrize("target", [0.0, 1.0, -0.1, 1e-6])
def test_targets_out_of_reach_are_refused(target: float) -> None:
    with pytest.raises(BenchError):
        ratio_fraction(target)
