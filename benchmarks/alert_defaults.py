"""Choosing the alert defaults (hysteresis and fusion policy) by alert F1 on a development split.

Reads the per-step scores a ``streamproc replay`` wrote (``REPLAY/scores/<detector>/<channel>.npz``:
every test step scored after the training data's tail, against the model's label-free threshold),
takes the windows a worker would score (every ``--stride`` steps from the first test step) and
fuses them with :class:`streamproc.fusion.Fuser` (the worker's code) under each candidate
setting; alerts are judged with the replay's own alert-level metrics. With one ``--replay``, its
channels are split in two by their sorted order (even positions: development, odd:
confirmation); with two, the first is the development set and the second the confirmation set
(SKAB: ``valve1`` and ``valve2``). A setting is chosen by micro alert F1 on the development set
only; the table reports both (and all channels together), so the confirmation figure of the
chosen setting is an honest estimate. Each detector alone gets its own row: comparing detectors
by alert F1, each is judged at the hysteresis its development half chose (``--alone``: no fused
rows; detectors replayed separately, having different windows, are read from comma-separated
``--replay`` directories)::

    python benchmarks/alert_defaults.py --data ../shared/data/SMAP --replay runs/smap-replay \\
        --detectors structure_aware,pca
    python benchmarks/alert_defaults.py --data ../shared/data/SKAB/valve1 --replay runs/skab-valve1 \\
        --data ../shared/data/SKAB/valve2 --replay runs/skab-valve2 --train-rows 400 --detectors structure_aware,pca

The windows' scores are those of the replay's point-level pass, which scores every window with
the same models (scoring is batch-size invariant): the sweep does not rescore anything.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np

from streamproc.config import FusionSettings
from streamproc.datasets import TableOptions, open_dataset
from streamproc.fusion import ChannelFusion, DetectorVerdict, Fuser, FusionPolicy, WindowVerdicts
from streamproc.metrics import alert_counts, total_alert_counts
from streamproc.replay import channel_alerts

OPEN_AFTER = (1, 2, 3, 4, 6)
RESOLVE_AFTER = (1, 3, 5, 10, 20)


def load_scores(replay: Path, detector: str, channel: str) -> dict[str, np.ndarray]:
    with np.load(replay / "scores" / detector / f"{channel}.npz", allow_pickle=False) as arrays:
        return {key: arrays[key] for key in ("score", "threshold", "contributions")}


def fuse(channel: str, scores: dict[str, dict[str, np.ndarray]], stride: int, fuser: Fuser):
    steps = len(next(iter(scores.values()))["score"])
    state, events = ChannelFusion(), []
    for step in range(0, steps, stride):
        verdicts = [
            DetectorVerdict(d, "", float(s["score"][step]), float(s["threshold"][step]), s["contributions"][step])
            for d, s in sorted(scores.items())
        ]
        events += fuser.fuse(state, WindowVerdicts(channel, step, verdicts))
    return events


def evaluate(channels, labels, scores, detectors, stride, fuser):
    counts = []
    for name in channels:
        events = fuse(name, {d: scores[name][d] for d in detectors}, stride, fuser)
        alerts = channel_alerts(events, np.arange(len(labels[name])))
        counts.append(alert_counts([a.span for a in alerts], labels[name]))
    return total_alert_counts(counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, action="append", help="the data set of each --replay")
    parser.add_argument(
        "--replay",
        required=True,
        action="append",
        help="a `streamproc replay` output directory (several, comma-separated: the detectors' scores pooled)",
    )
    parser.add_argument("--train-rows", type=int, help="for CSV data: the training rows of each file")
    parser.add_argument("--detectors", required=True)
    parser.add_argument("--stride", type=int, default=10)
    parser.add_argument("--alone", action="store_true", help="each detector alone only, no fused rows")
    parser.add_argument("--json", help="write every row here too")
    args = parser.parse_args()
    detectors = [d.strip() for d in args.detectors.split(",") if d.strip()]
    if len(args.data) != len(args.replay) or len(args.replay) > 2:
        parser.error("give one or two --replay directories, each with its --data")
    table = TableOptions(train_rows=args.train_rows) if args.train_rows else None
    labels, scores, sets = {}, {}, []
    for data, replay_dirs in zip(args.data, args.replay, strict=False):
        dataset = open_dataset(data, table)
        # Detectors with different windows are replayed separately: their scores are pooled here.
        holder: dict[str, Path] = {}
        channel_sets = []
        for replay in map(Path, replay_dirs.split(",")):
            replayed = json.loads((replay / "metrics.json").read_text())["settings"]
            if replayed.get("adaptation") is not None or replayed.get("risk") is not None:
                parser.error(f"{replay}: replayed with --adaptation/--risk; a worker uses the stored thresholds")
            channel_sets.append(sorted(replayed["channels"]))
            holder.update({d: replay for d in detectors if d not in holder and (replay / "scores" / d).is_dir()})
        if missing := [d for d in detectors if d not in holder]:
            parser.error(f"no scores of {', '.join(missing)} in {replay_dirs}")
        if any(names != channel_sets[0] for names in channel_sets):
            parser.error(f"{replay_dirs}: the replays cover different channels")
        names = channel_sets[0]
        sets.append(names)
        for n in names:
            labels[n] = dataset.channel(n).labels
            scores[n] = {d: load_scores(holder[d], d, n) for d in detectors}
            if any(len(s["score"]) != len(labels[n]) for s in scores[n].values()):
                parser.error(f"{n}: a replay's scores do not cover the test steps of --data {data}")
    if len(sets) == 2:
        split = {"development": sets[0], "confirmation": sets[1]}
    else:
        split = {"development": sets[0][0::2], "confirmation": sets[0][1::2]}
    split["all"] = split["development"] + split["confirmation"]

    combos: list[tuple[tuple[str, ...], str]] = [((d,), "max") for d in detectors]
    if len(detectors) > 1 and not args.alone:
        combos += [(tuple(detectors), p) for p in ("max", "mean", "k_of_n")]
    rows = []
    for (members, policy), open_after, resolve_after in itertools.product(combos, OPEN_AFTER, RESOLVE_AFTER):
        fuser = Fuser(
            FusionPolicy(policy, {}, 2 if policy == "k_of_n" else 1),
            threshold=FusionSettings().threshold,
            open_after=open_after,
            resolve_after=resolve_after,
        )
        row = {
            "detectors": "+".join(members),
            "policy": policy,
            "open_after": open_after,
            "resolve_after": resolve_after,
        }
        for half, channels in split.items():
            row[half] = evaluate(channels, labels, scores, members, args.stride, fuser).to_json()
        rows.append(row)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")

    print(
        f"stride {args.stride}; development: {len(split['development'])} channels, confirmation: "
        f"{len(split['confirmation'])}; chosen by development alert F1\n"
    )
    print(
        "| detectors | policy | open after | resolve after | dev caught | dev alerts | dev precision | dev alert F1 "
        "| conf caught | conf alerts | conf precision | conf alert F1 | conf false / 10k | all caught | all alerts "
        "| all alert F1 |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    by_combo: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        by_combo.setdefault((row["detectors"], row["policy"]), []).append(row)
    for (members, policy), group in by_combo.items():
        best = max(group, key=lambda r: r["development"]["f1"])
        defaults = FusionSettings()
        default = next(
            r for r in group if (r["open_after"], r["resolve_after"]) == (defaults.open_after, defaults.resolve_after)
        )
        for label, row in (("best on dev", best), (f"default {defaults.open_after}/{defaults.resolve_after}", default)):
            d, c, a = row["development"], row["confirmation"], row["all"]
            print(
                f"| {members} | {policy} ({label}) | {row['open_after']} | {row['resolve_after']} | "
                f"{d['incidents_caught']}/{d['incidents']} | {d['alerts']} | {d['precision']:.3f} | {d['f1']:.3f} | "
                f"{c['incidents_caught']}/{c['incidents']} | {c['alerts']} | {c['precision']:.3f} | {c['f1']:.3f} | "
                f"{c['false_alerts_per_10k_steps']:.2f} | {a['incidents_caught']}/{a['incidents']} | {a['alerts']} | "
                f"{a['f1']:.3f} |"
            )


if __name__ == "__main__":
    main()
