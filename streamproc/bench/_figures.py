"""One PNG per study: a panel per metric, a line per detector with a ±1 std band over seeds."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# Rows: the lenient protocol on top, the strict one below; the right column is threshold-free / event-based.
PANELS = (("pa_precision", "pa_recall", "pa_f1", "vus_pr"), ("pw_precision", "pw_recall", "pw_f1", "event_f1"))
_LINESTYLES = ("-", "--", ":", "-.")
_STYLE_NAMES = {"-": "solid", "--": "dashed", ":": "dotted", "-.": "dash-dot"}
_SANITY_COLOUR = "0.45"
_TITLES = {"ratio": "Anomaly ratio", "noise": "Noise on each feature", "window": "Window length"}


def plot_study(path: Path, study: str, result: Mapping[str, Any]) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a display
    import matplotlib.pyplot as plt

    data = result["studies"][study]
    labels: Mapping[str, str] = result["metrics"]
    sanity = set(result.get("sanity", ()))
    levels = np.asarray(data["levels"], dtype=float)
    detectors = [name for name in next(iter(data["variants"].values()))["detectors"]]
    random = result["settings"]["random_baseline"]
    colours = {name: f"C{i}" for i, name in enumerate(n for n in detectors if n != random)}
    colours[random] = _SANITY_COLOUR
    variants = list(data["variants"].items())

    fig, axes = plt.subplots(len(PANELS), len(PANELS[0]), figsize=(16, 7.5), sharex=True)
    try:
        for row, names in zip(axes, PANELS, strict=False):
            for ax, metric in zip(row, names, strict=False):
                for number, (style, (variant, content)) in enumerate(zip(_LINESTYLES, variants, strict=False)):
                    for name, curve in content["detectors"].items():
                        is_sanity = name in sanity
                        if name == random and number > 0:
                            continue  # it ignores the data: the same line in every variant
                        mean = np.array([_nan(p["metrics"][metric]["mean"]) for p in curve])
                        std = np.array([_nan(p["metrics"][metric]["std"]) for p in curve])
                        colour = colours[name]
                        label = f"{name} (sanity)" if is_sanity else name
                        if len(variants) > 1 and name != random:
                            label += f" ({variant})"
                        ax.plot(
                            levels,
                            mean,
                            style,
                            color=colour,
                            lw=1.0 if is_sanity else 1.8,
                            marker="" if is_sanity else "o",
                            ms=3.5,
                            label=label,
                        )
                        if not is_sanity:
                            ax.fill_between(levels, mean - std, mean + std, color=colour, alpha=0.15, lw=0)
                ax.set_title(labels.get(metric, metric), fontsize=10)
                ax.set_ylim(-0.02, 1.02)
                ax.grid(True, alpha=0.3)
                _x_axis(ax, study, levels)
        for ax in axes[-1]:
            ax.set_xlabel(data["parameter"])
        handles, names = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, names, loc="lower center", ncol=min(len(names), 4), fontsize=9, frameon=False)
        seeds = len(result["settings"]["seeds"])
        channels = len(data["channels"])
        available = result["settings"].get("channels_in_data", channels)
        scope = f"{channels} of {available} channels" if channels < available else f"all {channels} channels"
        styles = ", ".join(
            f"{variant} ({_STYLE_NAMES[style]})" for style, (variant, _) in zip(_LINESTYLES, variants, strict=False)
        )
        fig.suptitle(
            f"{_TITLES.get(study, study)}: mean ± std over {seeds} seed(s), micro over {scope}; "
            f"grey = random sanity baseline\n{styles}",
            fontsize=11,
        )
        # Fixed margins: tight_layout measures every tick label and costs more than the drawing.
        fig.subplots_adjust(left=0.04, right=0.99, top=0.88, bottom=0.14, wspace=0.2, hspace=0.32)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=90)
    finally:
        plt.close(fig)
    return path


def _nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def _x_axis(ax: Axes, study: str, levels: np.ndarray) -> None:
    from matplotlib.ticker import FixedLocator, NullLocator

    positive = levels[levels > 0]
    if study == "ratio":
        ax.set_xscale("log")
    elif study == "noise" and len(positive) and positive.min() < levels.max() / 10:
        # 0, 1% and 20% on one axis: linear up to the smallest level, logarithmic above it.
        ax.set_xscale("symlog", linthresh=float(positive.min()), linscale=0.5)
    ax.xaxis.set_minor_locator(NullLocator())
    # The ignore: matplotlib's stub asks for a Sequence; FixedLocator takes any array of positions.
    ax.xaxis.set_major_locator(FixedLocator(levels))  # type: ignore[arg-type]
    if study in ("ratio", "noise"):
        ax.set_xticklabels([f"{100 * v:g}%" for v in levels], fontsize=8)
    else:
        ax.set_xticklabels([f"{v:g}" for v in levels], fontsize=8)
