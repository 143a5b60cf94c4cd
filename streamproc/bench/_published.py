"""Published SMAP figures of the methods in the paper's Table 1, quoted beside measured ones.

These numbers are copied from the literature, never computed here. Each paper chose its
threshold its own way (often the best one over the test labels, or a POT level tuned per data
set) and used point adjustment; our measured columns use label-free thresholds, so the two are
not the same experiment. Where an exact figure could not be checked against its source, only
the rounded value the project was given is quoted and marked approximate: no digit is quoted that
was not verified.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class PublishedFigure:
    """A point-adjusted F1 on SMAP as published (``pa_f1`` None: no figure is quoted)."""

    detector: str
    method: str
    pa_f1: float | None
    approximate: bool
    source: str
    note: str = ""
    pa_precision: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def cell(self) -> str:
        """The figure as a table shows it, ``approx.`` when only a rounded value is quoted."""
        if self.pa_f1 is None:
            return "not quoted"
        return f"≈ {self.pa_f1:g} (approx.)" if self.approximate else f"{self.pa_f1:g}"


# In the order of the paper's Table 1: baselines first, the method under reproduction last.
PUBLISHED_SMAP: tuple[PublishedFigure, ...] = (
    PublishedFigure(
        detector="usad",
        method="USAD",
        pa_f1=0.84,
        approximate=True,
        source="Audibert et al., KDD 2020; rounded figure, digits not verified",
        note="the papers give more digits; they were not verified here, so only the rounded value is quoted",
    ),
    PublishedFigure(
        detector="omnianomaly",
        method="OmniAnomaly",
        pa_f1=0.87,
        approximate=True,
        source="Su et al., KDD 2019, as quoted in TranAD's Table 2 (Tuli et al., VLDB 2022); "
        "rounded figure, digits not verified",
    ),
    PublishedFigure(
        detector="mscred",
        method="MSCRED",
        pa_f1=None,
        approximate=True,
        source="Zhang et al., AAAI 2019, as quoted in TranAD's Table 2 (Tuli et al., VLDB 2022)",
        note="no figure was given to the project and the quoted one could not be verified here",
    ),
    PublishedFigure(
        detector="tranad",
        method="TranAD",
        pa_f1=0.8915,
        approximate=False,
        pa_precision=0.8043,
        source="Tuli et al., VLDB 2022, Table 2 (SMAP)",
        note="the authors' SMAP run covers one channel only, not all of SMAP",
    ),
    PublishedFigure(
        detector="structure_aware",
        method="structure-aware (paper under reproduction)",
        pa_f1=0.930,
        approximate=False,
        source="the paper under reproduction, Table 1 (F1 93.0 %)",
        note="the claim this table sets out to check",
    ),
)


def published_figure(detector: str) -> PublishedFigure | None:
    return next((figure for figure in PUBLISHED_SMAP if figure.detector == detector), None)
