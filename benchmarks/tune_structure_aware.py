"""How the structure_aware score is assembled, measured on telemanom channels.

Trains one model per channel with ``streamproc.training.train_channel`` (the code path of
``streamproc train``), keeps each head's raw per-feature errors on the training and test
windows, and then evaluates scoring variants without retraining: ``alpha``,
``recency_halflife`` and per-feature error normalisation (``normalize_errors`` with
``error_scale_floor``). Every variant gets a label-free POT threshold calibrated on the
held-out tail of the training series, exactly as ``train`` does. Prints a markdown table of
micro-averaged metrics (VUS-PR with buffers 0..100, 100 thresholds, to keep it quick)::

    flock /tmp/streamproc-cpu.lock python benchmarks/tune_structure_aware.py \\
        --data ../shared/data/SMAP --channels A-1,A-5,A-9,D-12,D-4,D-8,E-11,E-3,E-7,F-2,G-3,P-1,P-7,T-2

The errors come from the plugin's own ``_squared_errors`` (one forward pass per window), so
the variants differ only in how the same errors are weighted. The level term (``level_weight``)
is not part of these variants, and short channels fall back to plain in-sample scores: for the
product's score and calibration, use ``streamproc train`` and ``streamproc replay``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from streamproc.datasets import load_telemanom
from streamproc.detection import sliding_windows
from streamproc.metrics import ChannelSeries, evaluate_channels
from streamproc.thresholds import Spot, ThresholdConfig
from streamproc.training import TrainingOptions, train_channel

HALFLIVES = (0.0, 5.0, 20.0)
# (alpha, recency_halflife, error_scale_floor or None for raw errors)
VARIANTS = [
    (0.5, 0.0, None),
    (0.5, 5.0, None),
    (0.0, 5.0, 1.0),
    (0.25, 5.0, 1.0),
    (0.5, 0.0, 1.0),
    (0.5, 5.0, 1.0),
    (0.5, 20.0, 1.0),
    (0.5, 5.0, 0.1),
    (0.75, 5.0, 1.0),
    (1.0, 5.0, 1.0),
]


def _errors(detector, scaled: np.ndarray) -> dict[str, np.ndarray]:
    """Per-window, per-feature errors: reconstruction under each half-life, and prediction."""
    windows = sliding_windows(scaled, detector.window)
    steps = detector.window - 1
    age = torch.arange(steps - 1, -1, -1, dtype=torch.float32)
    weights = {h: (torch.pow(0.5, age / h) if h > 0 else torch.ones(steps)) for h in HALFLIVES}
    out: dict[str, list[np.ndarray]] = {f"rec{h:g}": [] for h in HALFLIVES} | {"pred": []}
    detector.module.eval()
    with torch.inference_mode():
        for start in range(0, len(windows), 1024):
            rec, pred = detector._squared_errors(torch.from_numpy(np.ascontiguousarray(windows[start : start + 1024])))
            for halflife, weight in weights.items():
                out[f"rec{halflife:g}"].append(torch.einsum("btc,t->bc", rec, weight / weight.sum()).numpy())
            out["pred"].append(pred.numpy())
    return {key: np.concatenate(parts) for key, parts in out.items()}


def _variant(channels: dict, alpha: float, halflife: float, floor: float | None) -> dict:
    series = {}
    for name, ch in channels.items():
        train_rec, test_rec = ch["train"][f"rec{halflife:g}"], ch["test"][f"rec{halflife:g}"]
        train_pred, test_pred = ch["train"]["pred"], ch["test"]["pred"]
        fit_windows = slice(0, ch["first_held_out"])
        if floor is not None:

            def scale(errors: np.ndarray, fit_windows: slice = fit_windows) -> np.ndarray:
                mean = errors[fit_windows].mean(axis=0)
                return np.maximum(mean, floor * mean.mean()) if mean.mean() > 0 else np.ones_like(mean)

            rec_scale, pred_scale = scale(train_rec), scale(train_pred)
            train_rec, test_rec = train_rec / rec_scale, test_rec / rec_scale
            train_pred, test_pred = train_pred / pred_scale, test_pred / pred_scale
        calibration = (alpha * train_rec + (1 - alpha) * train_pred).sum(axis=1)
        held_out = calibration[ch["first_held_out"] :]
        calibration = held_out if len(held_out) >= ch["min_calibration"] else calibration
        scores = np.full(len(ch["labels"]), np.nan)
        scores[ch["window"] - 1 :] = (alpha * test_rec + (1 - alpha) * test_pred).sum(axis=1)
        thresholds, alarms = Spot(ThresholdConfig()).fit(calibration).run(scores)
        series[name] = ChannelSeries(ch["labels"], scores, alarms, float(thresholds[0]))
    return evaluate_channels(series, max_buffer=100, n_thresholds=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--channels", required=True, help="comma-separated channel names")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="detector config override (JSON value), repeatable",
    )
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    overrides = {key: json.loads(value) for key, _, value in (item.partition("=") for item in args.set)}
    dataset = load_telemanom(args.data)
    options = TrainingOptions()
    channels, seconds = {}, 0.0
    for name in args.channels.split(","):
        data = dataset.channel(name)
        started = time.perf_counter()
        model = train_channel("structure_aware", name, data.train, config=overrides, options=options)
        seconds += time.perf_counter() - started
        detector, scaler = model.detector, model.scaler
        channels[name] = {
            "labels": data.labels.astype(bool),
            "window": detector.window,
            "first_held_out": max(model.metadata["training"]["fit_steps"] - (detector.window - 1), 0),
            "min_calibration": options.min_calibration,
            "train": _errors(detector, scaler.transform(data.train)),
            "test": _errors(detector, scaler.transform(data.test)),
        }
    print(f"{len(channels)} channels trained in {seconds:.0f} s; overrides {json.dumps(overrides)}\n")
    print("| alpha | recency_halflife | error_scale_floor | PA F1 | PW F1 | event F1 | VUS-PR | alarm rate |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for alpha, halflife, floor in VARIANTS:
        micro = _variant(channels, alpha, halflife, floor)["micro"]
        print(
            f"| {alpha} | {halflife:g} | {'raw' if floor is None else floor} | "
            f"{micro['point_adjusted']['f1']:.3f} | {micro['point_wise']['f1']:.3f} | "
            f"{micro['event_wise']['f1']:.3f} | {micro['vus_pr']:.3f} | {micro['alarm_rate']:.3f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
