"""The pipeline's stages built from the settings, the one way both shells build them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from streamproc.config import Settings
from streamproc.fusion import FeedbackTuner, Fuser
from streamproc.serde import Codec
from streamproc.training import ModelStore
from streamproc.windows import MissingPolicy, WindowAssembler

from ._catalog import ModelCatalog
from ._stages import FusionStage, IngestStage
from ._stale import StaleWatch


def stale_watch(settings: Settings) -> StaleWatch | None:
    """The watch over silent channels ``settings`` ask for (None: ``worker.stale_after_s`` is 0)."""
    after_s = settings.worker.stale_after_s
    return StaleWatch(max(1, round(after_s * 1000))) if after_s > 0 else None


def missing_policy(settings: Settings) -> MissingPolicy:
    """How missing values are filled, in windows and in training data alike."""
    window = settings.window
    return MissingPolicy(window.missing_policy, window.missing_limit, dict(window.missing_policies))


@dataclass(frozen=True)
class Pipeline:
    """The stages that decide: readings to windows (``ingest``), windows to verdicts (the
    ``catalog``'s models through :func:`score_windows`) and verdicts to alerts (``fusion``)."""

    catalog: ModelCatalog
    ingest: IngestStage
    fusion: FusionStage

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        store: ModelStore,
        detectors: Sequence[str],
        codec: Codec | None = None,
        *,
        shadows: bool = True,
    ) -> Pipeline:
        """The stages a worker runs with ``settings``, scoring with ``detectors``' models in ``store``
        (and their shadow versions with ``shadows``)."""
        catalog = ModelCatalog(
            store, detectors, settings.window.size, device=settings.detectors.device, shadows=shadows
        )
        assembler = WindowAssembler(
            settings.window.size,
            settings.window.stride,
            settings.worker.timestamp_grace_ms,
            settings.window.max_gap_periods,
        )
        fusion = settings.fusion
        return cls(
            catalog,
            IngestStage(
                codec or Codec(validate=False), catalog, assembler, stale_watch(settings), missing_policy(settings)
            ),
            FusionStage(Fuser.from_settings(fusion), FeedbackTuner(fusion.feedback_step, fusion.feedback_max_scale)),
        )
