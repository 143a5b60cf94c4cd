"""The hooks a streamproc plugin implements."""

from __future__ import annotations

from collections.abc import Iterable

import pluggy

from ._spec import DetectorSpec

PROJECT_NAME = "streamproc"
ENTRY_POINT_GROUP = "streamproc"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


class DetectorHooks:
    @hookspec
    # The ignore: a hook specification; pluggy uses its signature, never runs its body.
    def streamproc_detectors(self) -> Iterable[DetectorSpec]:  # type: ignore[empty-body]
        """Declare the detectors this plugin provides.

        Example::

            from streamproc.detection import DetectorSpec, hookimpl

            @hookimpl
            def streamproc_detectors():
                yield DetectorSpec(name="range", summary="...", factory=RangeDetector)
        """
