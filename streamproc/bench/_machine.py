"""What a benchmark ran on: timings mean little without the CPU, the cores and the thread counts."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def describe_machine() -> dict[str, Any]:
    """CPU, usable cores, Python/NumPy versions and, when a detector loaded torch, its version,
    threads and accelerator (torch is not imported for this)."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    machine: dict[str, Any] = {
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": usable,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }
    torch = sys.modules.get("torch")
    if torch is not None:
        machine["torch"] = torch.__version__
        machine["torch_threads"] = torch.get_num_threads()
        machine["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return machine


def machine_line(machine: dict[str, Any]) -> str:
    """One line for a report: ``AMD EPYC, 2 usable CPU(s), torch 2.13.0 (2 threads), ...``."""
    parts = [machine["cpu"], f"{machine['usable_cpus']} usable CPU(s)"]
    if "torch" in machine:
        parts.append(f"torch {machine['torch']} ({machine['torch_threads']} thread(s))")
        if machine.get("cuda"):
            parts.append(f"GPU {machine['cuda']}")
    if machine.get("omp_num_threads"):
        parts.append(f"OMP_NUM_THREADS={machine['omp_num_threads']}")
    parts.append(f"Python {machine['python']}, {machine['platform']}")
    return ", ".join(parts)
