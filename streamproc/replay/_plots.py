"""One PNG per detector and channel: signal, score against threshold, labelled vs detected spans."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from streamproc.metrics import runs

from ._stream import ReplayedChannel

_LABEL_COLOUR = "tab:red"
_ALARM_COLOUR = "tab:orange"


def plot_channel(path: Path, *, title: str, signal: np.ndarray, feature_name: str, labels: np.ndarray,
                 replayed: ReplayedChannel) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a display
    import matplotlib.pyplot as plt

    steps = np.arange(len(labels))
    labelled = runs(labels)
    detected = runs(replayed.alarm)
    fig, (ax_signal, ax_score, ax_spans) = plt.subplots(
        3, 1, figsize=(14, 7), sharex=True, gridspec_kw={"height_ratios": [3, 3, 1]})
    try:
        ax_signal.plot(steps, signal, lw=0.6, color="tab:blue")
        ax_signal.set_ylabel(feature_name)
        for start, stop in labelled:
            ax_signal.axvspan(start, stop - 1, color=_LABEL_COLOUR, alpha=0.15, lw=0)
        ax_signal.set_title(title)

        score = replayed.score.astype(np.float64)
        ax_score.plot(steps, score, lw=0.6, color="black", label="score")
        ax_score.plot(steps, replayed.threshold, lw=1.0, color=_ALARM_COLOUR, label="threshold")
        finite = score[np.isfinite(score)]
        # Scores span orders of magnitude (a flag flipping in test); a log axis keeps both
        # the normal level and the excursions readable when every score is positive.
        if len(finite) and finite.min() > 0 and np.all(replayed.threshold > 0):
            ax_score.set_yscale("log")
        for start, stop in labelled:
            ax_score.axvspan(start, stop - 1, color=_LABEL_COLOUR, alpha=0.15, lw=0)
        ax_score.set_ylabel("score")
        ax_score.legend(loc="upper left", fontsize=8)

        ax_spans.broken_barh([(a, b - a) for a, b in labelled], (1.1, 0.8), color=_LABEL_COLOUR)
        ax_spans.broken_barh([(a, b - a) for a, b in detected], (0.1, 0.8), color=_ALARM_COLOUR)
        ax_spans.set_yticks([0.5, 1.5], ["detected", "labelled"])
        ax_spans.set_ylim(0, 2)
        ax_spans.set_xlabel("test step")
        ax_spans.set_xlim(0, max(len(labels) - 1, 1))
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=90)
    finally:
        plt.close(fig)
    return path
