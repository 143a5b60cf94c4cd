"""The Dockerfile cannot be built in CI (no daemon, no registry), so its rules are read from it:
multi-stage, a CPU and a CUDA variant from one build argument, a non-root user, no compilers or
caches in the runtime stage, a health check on the worker's endpoint, and a lean build context."""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPILERS = re.compile(r"\b(build-essential|gcc|g\+\+|clang|cc|make|cmake|gfortran)\b")


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    def env(self) -> dict[str, str]:
        pairs = {}
        for args in self.all("ENV"):
            pairs.update(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=(\S+)", args))
        return pairs


def parse_instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction: continuations joined, comments dropped."""
    instructions, pending = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not pending):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        pending += line
        keyword, _, args = pending.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
        pending = ""
    assert not pending, "dangling line continuation at the end of the Dockerfile"
    return instructions


def parse_stages(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults, and the build stages in order."""
    global_args, stages = {}, []
    for keyword, args in parse_instructions(text):
        if keyword == "FROM":
            base, _, name = args.partition(" AS ")
            stages.append(Stage(base=base.strip(), name=name.strip() or None))
        elif not stages:
            assert keyword == "ARG", f"{keyword} before the first FROM"
            name, _, default = args.partition("=")
            global_args[name] = default.strip('"')
        else:
            stages[-1].instructions.append((keyword, args))
    return global_args, stages


@pytest.fixture(scope="module")
def dockerfile() -> tuple[dict[str, str], list[Stage]]:
    return parse_stages((REPO / "Dockerfile").read_text())


def test_multi_stage_runtime_copies_only_the_built_environment(dockerfile):
    _, stages = dockerfile
    assert len(stages) >= 2
    build, runtime = stages[0], stages[-1]
    copies = runtime.all("COPY")
    assert copies == [f"--from={build.name} /opt/streamproc /opt/streamproc"]


def test_build_and_runtime_share_a_slim_base_image(dockerfile):
    global_args, stages = dockerfile
    bases = {stage.base for stage in stages}
    assert bases == {"${BASE_IMAGE}"}
    base = global_args["BASE_IMAGE"].replace("${PYTHON_VERSION}", global_args["PYTHON_VERSION"])
    assert base == "python:3.11-slim-bookworm"  # no -devel/-dev image: no toolchain underneath


def test_no_compiler_or_package_manager_runs_in_the_runtime_stage(dockerfile):
    _, stages = dockerfile
    build, runtime = stages[0], stages[-1]
    assert any(COMPILERS.search(run) for run in build.all("RUN")), "compilers belong to the build stage"
    for run in runtime.all("RUN"):
        assert not COMPILERS.search(run), run
        assert "apt-get install" not in run and "pip install" not in run, run


def test_no_package_caches_are_left_in_layers(dockerfile):
    _, stages = dockerfile
    for stage in stages:
        for run in stage.all("RUN"):
            if "apt-get update" in run:
                assert "rm -rf /var/lib/apt/lists/*" in run, "apt lists must go in the same layer"
            if "pip install" in run:
                assert stage.env().get("PIP_NO_CACHE_DIR") == "1" or "--no-cache-dir" in run, run


def test_runs_as_the_numeric_non_root_user_the_chart_expects(dockerfile):
    _, stages = dockerfile
    runtime = stages[-1]
    (user,) = runtime.all("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0, "runAsNonRoot can only verify a numeric uid"
    values = yaml.safe_load((REPO / "deploy/k8s/chart/streamproc/values.yaml").read_text())
    assert int(uid) == values["podSecurityContext"]["runAsUser"]
    assert int(gid) == values["podSecurityContext"]["runAsGroup"]
    assert "--uid 10001" in " ".join(runtime.all("RUN"))


def test_health_check_probes_the_worker_liveness_endpoint(dockerfile):
    _, stages = dockerfile
    runtime = stages[-1]
    (healthcheck,) = runtime.all("HEALTHCHECK")
    values = yaml.safe_load((REPO / "deploy/k8s/chart/streamproc/values.yaml").read_text())
    port = values["config"]["worker"]["webPort"]
    assert "/healthz" in healthcheck and f"'{port}'" in healthcheck
    assert runtime.all("EXPOSE") == [str(port)]


def test_entrypoint_is_the_streamproc_command(dockerfile):
    _, stages = dockerfile
    runtime = stages[-1]
    assert [json.loads(args) for args in runtime.all("ENTRYPOINT")] == [["streamproc"]]
    assert [json.loads(args) for args in runtime.all("CMD")] == [["run", "--role", "all"]]


def test_variant_argument_picks_the_torch_build_at_the_pinned_version(dockerfile):
    _, stages = dockerfile
    build = stages[0]
    assert "VARIANT=cpu" in build.all("ARG")
    (torch_run,) = [run for run in build.all("RUN") if "torch==" in run]
    assert re.search(r"cpu\) index=\"\$\{TORCH_INDEX_URL:-https://download\.pytorch\.org/whl/cpu\}\"", torch_run)
    assert "cuda) " in torch_run and "exit 1" in torch_run  # anything else is refused
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    (pin,) = [dep for dep in pyproject["project"]["dependencies"] if dep.startswith("torch")]
    (version_arg,) = [arg for arg in build.all("ARG") if arg.startswith("TORCH_VERSION=")]
    assert pin == "torch==" + version_arg.partition("=")[2]


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or a parent directory decides;
    `**/name` matches `name` at any depth."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        if pattern.startswith("**/"):
            matches = any(fnmatch.fnmatchcase(part, pattern[3:]) for part in parts)
        else:
            matches = any(fnmatch.fnmatchcase(prefix, pattern) for prefix in prefixes)
        if matches:
            ignored = not negated
    return ignored


def test_build_context_holds_only_what_the_image_installs(dockerfile):
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    _, stages = dockerfile
    sources = [src for args in stages[0].all("COPY") for src in args.split()[:-1]]
    for source in sources:
        assert not _ignored(source.rstrip("/"), patterns), f"COPY {source} is excluded by .dockerignore"
        assert (REPO / source).exists(), source
    for kept in ("pyproject.toml", "streamproc/__init__.py", "plugins/pca/__init__.py"):
        assert not _ignored(kept, patterns), kept
    for dropped in (
        ".git/config",
        ".venv/bin/python",
        "tests/deploy/test_dockerfile.py",
        "deploy/k8s/chart/streamproc/values.yaml",
        "streamproc/__pycache__/cli.cpython-311.pyc",
        "data/SMAP/train.npy",
        "streamproc.egg-info/PKG-INFO",
    ):
        assert _ignored(dropped, patterns), dropped
