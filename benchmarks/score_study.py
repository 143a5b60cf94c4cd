"""What post-processing of stored scores would do, without retraining: smoothing, drift
normalisation and score ensembles, on the per-step scores ``streamproc replay`` saved.

Each replay folder holds ``scores/<detector>/<channel>.npz`` (score, threshold, alarm). Scores
are put on their threshold's scale (1.0 at the label-free threshold, as the replay's micro
metrics do), transformed, and judged on the labels of ``--data``: point-wise F1 with the alarm
at 1.0 (the same threshold, so only an indication for transforms that change the scale), VUS-PR
and the oracle point-wise F1 (best threshold, labelled as an oracle). Figures for all channels
and for the two halves of ``--split`` (development and confirmation).

    python benchmarks/score_study.py --data ../shared/data/SMAP \\
        --runs structure_aware=runs/smap/scores/structure_aware,tranad=runs/smap-tranad/scores/tranad \\
        --split smap_split.txt
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np

from streamproc.datasets import open_dataset
from streamproc.metrics import oracle_best_f1, point_wise, vus_pr
from streamproc.training import flat_features

Transform = Callable[[np.ndarray], np.ndarray]


def load(folder: Path, channels: list[str]) -> dict[str, np.ndarray]:
    """Each channel's scores on its threshold's scale."""
    out = {}
    for name in channels:
        path = folder / f"{name}.npz"
        if path.exists():
            data = np.load(path)
            threshold = data["threshold"].astype(np.float64)
            score = data["score"].astype(np.float64)
            # As the replay's micro metrics do: 1.0 at the threshold (shifted when it is not positive).
            scaled = np.where(threshold > 0, score / np.where(threshold > 0, threshold, 1.0), score - threshold + 1.0)
            out[name] = np.nan_to_num(scaled, nan=0.0, posinf=1e12)
    return out


def ewma(span: int) -> Transform:
    def apply(x: np.ndarray) -> np.ndarray:
        alpha, y, level = 2.0 / (span + 1), np.empty_like(x), x[0] if len(x) else 0.0
        for i, v in enumerate(x):
            level = alpha * v + (1 - alpha) * level
            y[i] = level
        return y

    return apply


def drift(history: int, quantile: float, every: int = 25) -> Transform:
    """Divide by the ``quantile`` of the ``history`` scores before each step, when above 1 (a
    channel whose scores sit above its threshold for long is measured against its recent level)."""

    def apply(x: np.ndarray) -> np.ndarray:
        level = np.zeros_like(x)
        for i in range(0, len(x), every):
            past = x[max(0, i - history) : i]
            level[i : i + every] = np.quantile(past, quantile) if len(past) >= 50 else 0.0
        return x / np.maximum(1.0, level)

    return apply


def judge(labels: dict[str, np.ndarray], scores: dict[str, np.ndarray], names: list[str]) -> dict[str, float]:
    names = [n for n in names if n in scores]
    y = np.concatenate([labels[n] for n in names])
    s = np.concatenate([scores[n] for n in names])
    return {"pw_f1": point_wise(y, s > 1.0).f1, "vus_pr": vus_pr(y, s), "oracle_pw_f1": oracle_best_f1(y, s).f1}


def diagnose(dataset, labels: dict[str, np.ndarray], scores: dict[str, np.ndarray], name: str, top: int = 15) -> None:
    """Where the false alarms come from: per channel, labelled steps, true and false alarms, and
    whether the scored features were (nearly) constant in training, so that the model never saw
    their normal variation and any test movement scores as anomalous."""
    rows = []
    for channel in dataset:
        if channel.name not in scores:
            continue
        scored = [i for i in range(channel.n_features) if i not in set(channel.covariates)]
        spread = float(np.max(np.std(channel.train[:, scored], axis=0)))
        names = [f"f{i}" for i in range(channel.n_features)]
        flat = bool(flat_features(channel.train, names, channel.covariates))
        alarms, y = scores[channel.name] > 1.0, labels[channel.name]
        rows.append((channel.name, int(y.sum()), int((alarms & y).sum()), int((alarms & ~y).sum()), spread, flat))
    false_total = sum(r[3] for r in rows)
    flat = [r for r in rows if r[5]]
    print(
        f"{name}: {false_total:,} false alarms in all; channels with a scored feature that did not vary in "
        f"training (streamproc.training.flat_features, as `train` reports them): {len(flat)}, with "
        f"{sum(r[3] for r in flat):,} of them ({100 * sum(r[3] for r in flat) / max(false_total, 1):.0f}%) "
        f"and {sum(r[1] for r in flat):,} labelled steps"
    )
    print()
    print(
        "| channel | labelled steps | true alarms | false alarms | largest training std of a scored feature | "
        "flat in training |"
    )
    print("|---|---:|---:|---:|---:|---|")
    for row in sorted(rows, key=lambda r: -r[3])[:top]:
        print(f"| {row[0]} | {row[1]:,} | {row[2]:,} | {row[3]:,} | {row[4]:.4f} | {'yes' if row[5] else ''} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument(
        "--runs",
        required=True,
        help="name=folder of a replay's scores/<detector>, comma-separated; the first is the one transformed.",
    )
    parser.add_argument("--split", type=Path, help="Two lines: development channels, confirmation channels.")
    parser.add_argument(
        "--diagnose",
        action="store_true",
        help="Instead: the first run's alarms per channel at its threshold, most false first, with "
        "the spread of each channel's scored features in training.",
    )
    args = parser.parse_args()
    dataset = open_dataset(args.data)
    labels = {ch.name: np.asarray(ch.labels, bool) for ch in dataset}
    names = list(labels)
    runs = dict(item.split("=", 1) for item in args.runs.split(","))
    scores = {name: load(Path(folder), names) for name, folder in runs.items()}
    halves = {"all": names}
    if args.split:
        dev, conf = args.split.read_text().split()
        halves.update(development=dev.split(","), confirmation=conf.split(","))
    first = next(iter(runs))
    if args.diagnose:
        diagnose(dataset, labels, scores[first], first)
        return
    rows: list[tuple[str, dict[str, np.ndarray]]] = [(f"{name} as stored", scores[name]) for name in runs]
    for span in (5, 10, 20, 50):
        rows.append((f"{first}, EWMA span {span}", {n: ewma(span)(s) for n, s in scores[first].items()}))
    for history, quantile in ((1000, 0.1), (3000, 0.1), (3000, 0.5)):
        rows.append(
            (
                f"{first}, drift: / q{quantile:g} of the last {history}",
                {n: drift(history, quantile)(s) for n, s in scores[first].items()},
            )
        )
    for other in list(runs)[1:]:
        common = [n for n in scores[first] if n in scores[other]]
        rows.append((f"{first} + {other}, mean", {n: (scores[first][n] + scores[other][n]) / 2 for n in common}))
        rows.append((f"{first} + {other}, max", {n: np.maximum(scores[first][n], scores[other][n]) for n in common}))
    header = "| scores | " + " | ".join(f"{h} PW F1 | {h} VUS-PR | {h} oracle PW F1" for h in halves) + " |"
    print(header)
    print("|---|" + "---:|" * (3 * len(halves)))
    for label, transformed in rows:
        cells = []
        for members in halves.values():
            result = judge(labels, transformed, members)
            cells += [f"{result['pw_f1']:.3f}", f"{result['vus_pr']:.3f}", f"{result['oracle_pw_f1']:.3f}"]
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
