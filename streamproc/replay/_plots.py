"""One PNG per channel: the signal with labelled incidents and alerts, the score against its
threshold, and labelled, alarmed and alerted spans side by side."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from streamproc.metrics import runs

from ._alerts import ChannelAlert
from ._stream import ReplayedChannel

_LABEL_COLOUR = "tab:red"
_ALARM_COLOUR = "tab:orange"
# Alerts by severity, LOW to CRITICAL: from pale to dark, one hue.
SEVERITY_COLOURS = {"LOW": "#c6dbef", "MEDIUM": "#6baed6", "HIGH": "#2171b5", "CRITICAL": "#08306b"}
_FONT = 11


def plot_channel(
    path: Path,
    *,
    title: str,
    signal: np.ndarray,
    feature_name: str,
    labels: np.ndarray,
    replayed: ReplayedChannel | None,
    alerts: Sequence[ChannelAlert] = (),
    timestamps_ms: np.ndarray | None = None,
) -> Path:
    """Draw and save; without ``replayed`` (a fused pipeline has no single score) the score panel
    is left out. ``timestamps_ms`` puts the x axis in real time (UTC)."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a display
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    n = len(labels)
    if timestamps_ms is not None:
        x = np.asarray(timestamps_ms, dtype="datetime64[ms]")
        xlabel = "time (UTC)"
    else:
        x = np.arange(n)
        xlabel = "test step"

    def span(start: int, last: int) -> tuple[object, object]:
        """From step ``start`` to the end of step ``last`` (so a one-step span has a width)."""
        end = x[last + 1] if last + 1 < n else x[-1] + (x[-1] - x[-2] if n > 1 else 1)
        return x[start], end

    labelled = runs(labels)
    panels = [3, 3, 1] if replayed is not None else [3, 1]
    with plt.rc_context({"font.size": _FONT}):
        fig, axes = plt.subplots(
            len(panels), 1, figsize=(14, 2.2 * len(panels) + 1), sharex=True, gridspec_kw={"height_ratios": panels}
        )
    try:
        ax_signal, ax_spans = axes[0], axes[-1]
        ax_signal.plot(x, signal, lw=0.7, color="black")
        ax_signal.set_ylabel(feature_name, fontsize=_FONT)
        for start, stop in labelled:
            ax_signal.axvspan(*span(start, stop - 1), color=_LABEL_COLOUR, alpha=0.15, lw=0)
        for alert in alerts:
            ax_signal.axvspan(
                *span(alert.span.opened, alert.span.closed),
                ymin=0.92,
                ymax=1.0,
                color=SEVERITY_COLOURS[alert.severity],
                lw=0,
            )
        ax_signal.set_title(title, fontsize=_FONT + 2)

        rows = [("labelled", [(a, b - 1, _LABEL_COLOUR) for a, b in labelled])]
        if replayed is not None:
            ax_score = axes[1]
            score = replayed.score.astype(np.float64)
            ax_score.plot(x, score, lw=0.6, color="black", label="score")
            ax_score.plot(x, replayed.threshold, lw=1.0, color=_ALARM_COLOUR, label="threshold")
            finite = score[np.isfinite(score)]
            # Scores span orders of magnitude (a flag flipping in test); a log axis keeps both
            # the normal level and the excursions readable when every score is positive.
            if len(finite) and finite.min() > 0 and np.all(replayed.threshold > 0):
                ax_score.set_yscale("log")
            for start, stop in labelled:
                ax_score.axvspan(*span(start, stop - 1), color=_LABEL_COLOUR, alpha=0.15, lw=0)
            ax_score.set_ylabel("score", fontsize=_FONT)
            ax_score.legend(loc="upper left", fontsize=_FONT - 1)
            rows.append(("alarms", [(a, b - 1, _ALARM_COLOUR) for a, b in runs(replayed.alarm)]))
        rows.append(("alerts", [(a.span.opened, a.span.closed, SEVERITY_COLOURS[a.severity]) for a in alerts]))
        for row, (_, spans) in enumerate(reversed(rows)):
            for start, end, colour in spans:
                ax_spans.axvspan(
                    *span(start, end), ymin=(row + 0.1) / len(rows), ymax=(row + 0.9) / len(rows), color=colour, lw=0
                )
        ax_spans.set_yticks(
            [(row + 0.5) / len(rows) for row in range(len(rows))], [name for name, _ in reversed(rows)], fontsize=_FONT
        )
        ax_spans.set_ylim(0, 1)
        ax_spans.set_xlabel(xlabel, fontsize=_FONT)
        ax_spans.set_xlim(x[0], x[-1])
        if alerts:
            present = [s for s in SEVERITY_COLOURS if any(a.severity == s for a in alerts)]
            ax_spans.legend(
                handles=[Patch(color=SEVERITY_COLOURS[s], label=s) for s in present],
                loc="upper right",
                fontsize=_FONT - 2,
                ncol=len(present),
                title="alert severity",
                title_fontsize=_FONT - 2,
                framealpha=0.9,
            )
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
    return path
