"""docs/deploy.md against the chart: its commands, run in order as a reader would, name real
values, files, build arguments, labels and objects, and every Secret the resulting releases
read is one the guide tells the reader to create."""

from __future__ import annotations

import copy
import re
import shlex
from pathlib import Path

import helm_python
import pytest

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "deploy.md"
CHART = "deploy/k8s/chart/streamproc"


def guide_commands() -> list[list[str]]:
    """Every command of the guide's bash blocks, continuation lines joined, as argv lists."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL):
        for command in block.replace("\\\n", " ").splitlines():
            if command.strip():
                commands.append(shlex.split(command))
    return commands


def option_values(argv: list[str], *names: str) -> list[tuple[str, str]]:
    """(option, value) pairs of the given options, in order."""
    return [(arg, argv[i + 1]) for i, arg in enumerate(argv) if arg in names]


def deep_merge(base: dict, overlay: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def has_path(values: dict, dotted: str) -> bool:
    node = values
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


@pytest.fixture(scope="module")
def chart_defaults(renderer) -> dict:
    """values.yaml as written: keys whose default is null included."""
    return renderer.load_values(renderer.CHART_DIR / "values.yaml")


@pytest.fixture(scope="module")
def guide_releases(renderer, render) -> list[tuple[list[str], list[dict]]]:
    """(helm command, objects of the release it leaves) for each helm install/upgrade, in order;
    --reuse-values carries the previous values forward as Helm does."""
    releases, values = [], {}
    for argv in guide_commands():
        if argv[:2] not in (["helm", "install"], ["helm", "upgrade"]):
            continue
        assert argv[3] == CHART, f"{shlex.join(argv)}: the chart is {CHART}"
        step = values if "--reuse-values" in argv else {}
        for _, path in option_values(argv, "-f", "--values"):
            step = deep_merge(step, renderer.load_values(REPO / path))
        for option, expression in option_values(argv, "--set", "--set-string"):
            parse = helm_python.parse_set_string if option == "--set" else helm_python.parse_set_string_values
            step = deep_merge(step, parse(expression))
        values = step
        releases.append((argv, render(values)))
    return releases


def test_the_guide_installs_and_upgrades_through_the_chart(guide_releases):
    commands = [argv[:2] for argv, _ in guide_releases]
    assert commands[0] == ["helm", "install"] and len(commands) >= 8
    for argv, objects in guide_releases:
        assert any(obj["kind"] == "Deployment" for obj in objects), shlex.join(argv)


def test_set_options_name_real_values(chart_defaults):
    for argv in guide_commands():
        for option, expression in option_values(argv, "--set", "--set-string"):
            key = expression.partition("=")[0]
            assert has_path(chart_defaults, key), f"{option} {expression}: no value {key}"
        for _, path in option_values(argv, "-f", "--values"):
            assert (REPO / path).is_file(), path


def test_values_named_in_the_prose_exist(chart_defaults):
    text = GUIDE.read_text()
    named = {
        token
        for token in re.findall(r"`([A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9]*)+)`", text)
        if token.split(".")[0] in chart_defaults
    }
    assert len(named) > 20
    missing = sorted(token for token in named if not has_path(chart_defaults, token))
    assert missing == []


def test_every_secret_the_releases_read_is_created_in_the_guide(guide_releases):
    created: dict[str, set[str]] = {}
    for argv in guide_commands():
        if argv[0] == "kubectl" and "create" in argv and "secret" in argv:
            name = argv[argv.index("generic") + 1]
            for arg in argv:
                if arg.startswith(("--from-literal=", "--from-file=")):
                    created.setdefault(name, set()).add(arg.split("=")[1])
    assert created
    for argv, objects in guide_releases:
        for name, key in secret_references(objects):
            assert key in created.get(name, set()), f"after `{shlex.join(argv)}`: Secret {name} key {key}"


def secret_references(objects) -> set[tuple[str, str]]:
    references = set()
    for obj in objects:
        if obj["kind"] not in ("Deployment", "Job"):
            continue
        pod = obj["spec"]["template"]["spec"]
        for container in pod["containers"]:
            for var in container.get("env", []):
                ref = var.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    references.add((ref["name"], ref["key"]))
        for volume in pod["volumes"]:
            for source in volume.get("projected", {}).get("sources", []):
                for item in source["secret"]["items"]:
                    references.add((source["secret"]["name"], item["key"]))
    return references


def test_kubectl_commands_name_objects_and_labels_the_chart_creates(guide_releases):
    objects = [obj for _, release in guide_releases for obj in release]
    names = {(obj["kind"], obj["metadata"]["name"]) for obj in objects}
    labels = {f"{key}={value}" for obj in objects for key, value in obj["metadata"].get("labels", {}).items()}
    for argv in guide_commands():
        if argv[0] != "kubectl":
            continue
        for _, selector in option_values(argv, "-l"):
            for requirement in selector.split(","):
                assert requirement in labels, f"{shlex.join(argv)}: no object is labelled {requirement}"
        for arg in argv:
            if arg.startswith("deployment/"):
                assert ("Deployment", arg.removeprefix("deployment/")) in names, arg
        if "delete" in argv and "pvc" in argv:
            assert ("PersistentVolumeClaim", argv[argv.index("pvc") + 1]) in names, shlex.join(argv)


def test_docker_build_arguments_exist_in_the_dockerfile():
    dockerfile = (REPO / "Dockerfile").read_text()
    declared = set(re.findall(r"^ARG ([A-Z_]+)", dockerfile, flags=re.MULTILINE))
    builds = [argv for argv in guide_commands() if argv[:2] == ["docker", "build"]]
    assert len(builds) == 2
    for argv in builds:
        for _, argument in option_values(argv, "--build-arg"):
            name, _, value = argument.partition("=")
            assert name in declared, argument
            if name == "VARIANT":
                assert value in ("cpu", "cuda")
