"""ROC AUC of detectors on each anomaly kind of the synthetic generator, seed by seed: the
contract suite's data (``check_data(window, seed, kinds=(kind,))``), one fit per cell::

    python benchmarks/generator_kinds.py --detectors structure_aware,pca,range --seeds 0,1,2
    python benchmarks/generator_kinds.py --detectors structure_aware --config default \\
        --set structure_aware.epochs=12

``--config small`` (the default) trains each spec's ``small_config``, ``default`` its shipped
defaults; ``--set DETECTOR.KEY=VALUE`` (JSON values) overrides one setting of one detector.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from streamproc.datasets.synthetic import ANOMALY_KINDS
from streamproc.detection import DetectorRegistry
from streamproc.detection.checks import check_data, roc_auc


def kind_aucs(spec_name: str, config: dict[str, Any], kinds: list[str], seeds: list[int]) -> dict[str, list[float]]:
    """``{kind: [AUC per seed]}`` of one detector built with ``config``."""
    spec = DetectorRegistry().spec(spec_name)
    table: dict[str, list[float]] = {}
    for kind in kinds:
        for seed in seeds:
            data = check_data(int(config["window"]), seed, kinds=(kind,))
            detector = spec.build(**config)
            detector.fit(data.train)
            table.setdefault(kind, []).append(roc_auc(detector.score(data.windows).scores, data.window_labels))
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--detectors", default="structure_aware,pca,range")
    parser.add_argument("--kinds", default=",".join(ANOMALY_KINDS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--config", choices=["small", "default"], default="small")
    parser.add_argument("--set", action="append", default=[], metavar="DETECTOR.KEY=VALUE")
    args = parser.parse_args()
    detectors, kinds = args.detectors.split(","), args.kinds.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    overrides: dict[str, dict[str, Any]] = {}
    for item in args.set:
        target, _, value = item.partition("=")
        name, _, key = target.partition(".")
        if not key or not value:
            parser.error(f"--set {item!r}: expected DETECTOR.KEY=VALUE")
        overrides.setdefault(name, {})[key] = json.loads(value)
    registry = DetectorRegistry()
    tables = {}
    for name in detectors:
        spec = registry.spec(name)
        base = spec.small_config if args.config == "small" and spec.small_config is not None else spec.default_config
        started = time.perf_counter()
        tables[name] = kind_aucs(name, {**base, **overrides.get(name, {})}, kinds, seeds)
        print(f"{name}: {time.perf_counter() - started:.0f} s", flush=True)
    seeds_label = " / ".join(str(s) for s in seeds)
    print(f"\nROC AUC, {args.config} configurations, seeds {seeds_label}; overrides: {args.set or 'none'}\n")
    print("| kind | " + " | ".join(detectors) + " |")
    print("|---|" + "---|" * len(detectors))
    for kind in kinds:
        best = [max(tables[d][kind][i] for d in detectors) for i in range(len(seeds))]
        cells = []
        for d in detectors:
            values = tables[d][kind]
            cells.append(
                " / ".join(
                    f"**{v:.3f}**" if v == best[i] and len(detectors) > 1 else f"{v:.3f}" for i, v in enumerate(values)
                )
            )
        print(f"| {kind} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
