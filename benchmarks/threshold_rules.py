"""Label-free threshold rules compared without retraining: the stored models' in-sample scores
(every training window scored through the stream's code path), a new threshold per channel
under each rule, and the per-step test scores a ``streamproc replay`` saved judged again —
point-wise F1, alert F1 at the configured hysteresis (the worker's fusion code, as
``alert_defaults.py``) and the channels that alarm on most of their unlabelled steps — on the
development and confirmation halves of ``--split``. A rule is chosen on the development half::

    python benchmarks/threshold_rules.py --data ../shared/data/SMAP --models MODELS \\
        --replay OUT --detector structure_aware --split benchmarks/smap_split.txt
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from alert_defaults import evaluate, load_scores

from streamproc.config import FusionSettings
from streamproc.datasets import open_dataset
from streamproc.fusion import Fuser, FusionPolicy
from streamproc.metrics import point_wise
from streamproc.thresholds import Spot, ThresholdConfig
from streamproc.training import ModelStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--models", required=True, help="the `streamproc train` output the replay used")
    parser.add_argument("--replay", required=True, type=Path, help="a `streamproc replay` output directory")
    parser.add_argument("--detector", required=True)
    parser.add_argument("--split", required=True, type=Path, help="two lines: development, confirmation channels")
    args = parser.parse_args()
    dev, conf = (line.split(",") for line in args.split.read_text().split())
    halves = {"development": dev, "confirmation": conf, "all": dev + conf}
    replayed_with = json.loads((args.replay / "metrics.json").read_text())["settings"]
    if replayed_with.get("adaptation") is not None or replayed_with.get("risk") is not None:
        parser.error(f"{args.replay}: replayed with --adaptation/--risk; the rules replace the stored thresholds")
    dataset, store, det = open_dataset(args.data), ModelStore(args.models), args.detector
    labels, replayed, in_sample, config, trained = {}, {}, {}, {}, {}
    for name in halves["all"]:
        channel, model = dataset.channel(name), store.load(det, name)
        labels[name] = channel.labels.astype(bool)
        replayed[name] = load_scores(args.replay, det, name)
        config[name] = ThresholdConfig.from_json(model.metadata["training"]["options"]["threshold"])
        if config[name].adaptation != "none":
            parser.error(f"{det} on {name}: trained with an adapting threshold; the rules are for fixed ones")
        trained[name] = model.threshold
        scores, _ = model.score_series(channel.train)
        in_sample[name] = scores[np.isfinite(scores)]

    def stored(name: str) -> float:
        return trained[name]

    def pot(scores: np.ndarray, name: str) -> float:
        return Spot(config[name]).fit(scores).threshold

    rules: dict[str, Callable[[str], float]] = {
        "stored (as trained)": stored,
        "POT on in-sample scores x 1.5": lambda n: pot(in_sample[n] * 1.5, n),
        "max(stored, POT on in-sample x 1.5)": lambda n: max(stored(n), pot(in_sample[n] * 1.5, n)),
        "max(stored, POT on in-sample)": lambda n: max(stored(n), pot(in_sample[n], n)),
        "max(stored, in-sample 0.99 quantile)": lambda n: max(stored(n), float(np.quantile(in_sample[n], 0.99))),
        "max(stored, in-sample 0.9 quantile)": lambda n: max(stored(n), float(np.quantile(in_sample[n], 0.9))),
    }
    settings = FusionSettings()
    fuser = Fuser(
        FusionPolicy("max", {}, 1),
        threshold=settings.threshold,
        open_after=settings.open_after,
        resolve_after=settings.resolve_after,
    )
    print(f"{det}; alerts opened after {settings.open_after} windows, resolved after {settings.resolve_after}\n")
    print(
        "| rule | "
        + " | ".join(f"{h} PW F1 | {h} alert F1 (caught / alerts)" for h in halves)
        + " | channels alarming on > 50% of unlabelled steps | thresholds min / median / max |"
    )
    print("|---|" + "---:|---:|" * len(halves) + "---:|---|")
    for rule_name, rule in rules.items():
        thresholds = {n: rule(n) for n in halves["all"]}
        scores = {
            n: {det: {**replayed[n], "threshold": np.full_like(replayed[n]["threshold"], thresholds[n])}}
            for n in halves["all"]
        }
        cells = []
        for names in halves.values():
            y = np.concatenate([labels[n] for n in names])
            alarms = np.concatenate([replayed[n]["score"] > thresholds[n] for n in names])
            counts = evaluate(names, labels, scores, [det], 10, fuser)
            cells.append(f"{point_wise(y, alarms).f1:.3f} | {counts.f1:.3f} ({counts.caught} / {counts.n_alerts})")
        flooding = sum((replayed[n]["score"][~labels[n]] > thresholds[n]).mean() > 0.5 for n in halves["all"])
        values = np.array(list(thresholds.values()))
        print(
            f"| {rule_name} | "
            + " | ".join(cells)
            + f" | {flooding} | {values.min():.3g} / {np.median(values):.3g} / {values.max():.3g} |"
        )


if __name__ == "__main__":
    main()
