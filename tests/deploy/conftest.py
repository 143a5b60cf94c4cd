"""Offline rendering and validation of the Helm chart, shared by the deploy tests.

Built-in kinds are checked with kubernetes-validate in strict mode (unknown fields are errors)
against the oldest supported and the newest Kubernetes release it ships schemas for. KEDA and
Strimzi kinds are checked against the CRD schemas transcribed under crds/, read the way a
strict API server reads them: a field the schema does not name is an error.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CRD_DIR = Path(__file__).resolve().parent / "crds"
# The oldest Kubernetes minor still supported upstream when the chart was written, and the first
# where every option the examples use is on by default (image volumes for models).
OLDEST_KUBERNETES = "1.35"
KUBERNETES_VERSIONS = tuple(dict.fromkeys((OLDEST_KUBERNETES, kubernetes_validate.latest_version())))


def _load_renderer():
    path = REPO / "deploy" / "k8s" / "render_examples.py"
    spec = importlib.util.spec_from_file_location("streamproc_render_examples", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_renderer = _load_renderer()


def _render(values: dict) -> list[dict]:
    return [yaml.safe_load(document) for _, document in _renderer.render_documents(values)]


@functools.cache
def _rendered_example(name: str) -> tuple[dict, ...]:
    return tuple(_render(_renderer.load_values(_renderer.EXAMPLES_DIR / name / "values.yaml")))


def _structural_to_json_schema(node: dict) -> dict:
    """A CRD's OpenAPI v3 structural schema as JSON Schema, strict about unknown fields."""
    schema: dict = {}
    for key, value in node.items():
        if key == "properties":
            schema[key] = {name: _structural_to_json_schema(sub) for name, sub in value.items()}
        elif key == "items":
            schema[key] = _structural_to_json_schema(value)
        elif key == "additionalProperties":
            schema[key] = _structural_to_json_schema(value) if isinstance(value, dict) else value
        elif key in ("anyOf", "allOf", "oneOf"):
            schema[key] = [_structural_to_json_schema(sub) for sub in value]
        elif key == "not":
            schema[key] = _structural_to_json_schema(value)
        elif key in (
            "type",
            "enum",
            "required",
            "minimum",
            "maximum",
            "minLength",
            "maxLength",
            "pattern",
            "minItems",
            "maxItems",
            "uniqueItems",
            "exclusiveMinimum",
            "exclusiveMaximum",
            "multipleOf",
            "minProperties",
            "maxProperties",
        ):
            schema[key] = value
    if node.get("x-kubernetes-int-or-string"):
        schema.pop("type", None)
        schema["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and "type" in schema:
        schema["type"] = [schema["type"], "null"]
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        schema["additionalProperties"] = False
    return schema


@functools.cache
def _crd_validators() -> dict[tuple[str, str], jsonschema.Draft7Validator]:
    """(apiVersion, kind) -> validator, for every version of every CRD under crds/."""
    validators = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = _structural_to_json_schema(version["schema"]["openAPIV3Schema"])
            validators[(f"{group}/{version['name']}", kind)] = jsonschema.Draft7Validator(schema)
    return validators


def _validation_errors(obj: dict) -> list[str]:
    """Why a Kubernetes object would be refused; empty when it is valid."""
    key = (obj.get("apiVersion"), obj.get("kind"))
    validator = _crd_validators().get(key)
    if validator is not None:
        errors = [f"{key[1]} {'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj)]
        # The CRDs leave metadata to the API server: check it as the ObjectMeta it is.
        carrier = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj.get("metadata", {})}
        return errors + _validation_errors(carrier)
    errors = []
    for version in KUBERNETES_VERSIONS:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            errors.append(f"{key[1]} {'.'.join(map(str, error.path))} (Kubernetes {version}): {error.message}")
        except kubernetes_validate.SchemaNotFoundError:
            errors.append(
                f"no schema for {key[1]} {key[0]} in Kubernetes {version} or under {CRD_DIR.relative_to(REPO)}"
            )
    return errors


def pytest_generate_tests(metafunc):
    """A test taking `example` runs once per directory under deploy/k8s/examples."""
    if "example" in metafunc.fixturenames:
        metafunc.parametrize("example", _renderer.example_names())


@pytest.fixture(scope="session")
def renderer():
    """deploy/k8s/render_examples.py: the chart's offline renderer and its examples."""
    return _renderer


@pytest.fixture(scope="session")
def render():
    """values -> the release's objects, parsed; Helm errors propagate."""
    return _render


@pytest.fixture(scope="session")
def rendered_example():
    """example name -> the objects of its release (rendered once per session)."""
    return _rendered_example


@pytest.fixture(scope="session")
def validation_errors():
    """object -> why Kubernetes (or KEDA's, Strimzi's CRD) would refuse it; empty when valid."""
    return _validation_errors


@pytest.fixture
def minimal_values() -> dict:
    """A fresh copy of the minimal example's values, for tests to alter."""
    return _renderer.load_values(_renderer.EXAMPLES_DIR / "minimal" / "values.yaml")
