"""Render the streamproc chart offline and keep the example manifests in step with it.

    python deploy/k8s/render_examples.py           # rewrite examples/<name>/manifest.yaml
    python deploy/k8s/render_examples.py --check   # exit 1 when any of them is stale

Each example is a directory under examples/ holding the values.yaml a user would pass with
`helm install -f`, and manifest.yaml, what `helm template` prints for it. Rendering uses Helm's
own Go engine through the helm-python-sdk wheel (a test dependency), so nothing is downloaded
and no cluster is needed; tests/deploy imports this module for the same rendering.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import helm_python

K8S_DIR = Path(__file__).resolve().parent
CHART_DIR = K8S_DIR / "chart" / "streamproc"
EXAMPLES_DIR = K8S_DIR / "examples"
RELEASE_NAME = "streamproc"
NAMESPACE = "streamproc"
_DOCUMENT_SEPARATOR = re.compile(r"^---[ \t]*$", re.MULTILINE)


def example_names() -> list[str]:
    """Names of the example directories, sorted."""
    return sorted(path.parent.name for path in EXAMPLES_DIR.glob("*/values.yaml"))


def load_values(path: Path) -> dict:
    """Parse a values file with Helm's own YAML rules (yes/no, numbers), as `helm -f` would."""
    return helm_python.values_from_yaml(path.read_text())


def effective_values(values: dict) -> dict:
    """The chart's defaults overlaid with `values`: what a release really runs with."""
    with helm_python.Chart.load(CHART_DIR) as chart:
        return chart.merge_values(values)


def render_documents(values: dict, *, release: str = RELEASE_NAME, namespace: str = NAMESPACE) -> list[tuple[str, str]]:
    """(template path, YAML document) pairs of a release, in template order; NOTES.txt excluded.

    Raises helm_python.HelmValuesError when the values break values.schema.json and
    helm_python.HelmRenderError when a template fails (a `required` value is missing, say).
    """
    with helm_python.Chart.load(CHART_DIR) as chart:
        rendered = chart.render(values, name=release, namespace=namespace, is_install=True)
    documents = []
    for template in sorted(rendered):
        if template.endswith("NOTES.txt"):
            continue
        for document in _DOCUMENT_SEPARATOR.split(rendered[template]):
            if document.strip():
                documents.append((template, document.strip("\n")))
    return documents


def render_notes(values: dict) -> str:
    """The NOTES.txt Helm prints after installing a release with these values."""
    with helm_python.Chart.load(CHART_DIR) as chart:
        rendered = chart.render(values, name=RELEASE_NAME, namespace=NAMESPACE, is_install=True)
    return next(text for template, text in rendered.items() if template.endswith("NOTES.txt"))


def render_manifest(values: dict) -> str:
    """The release as one multi-document YAML stream in `helm template`'s layout."""
    return "".join(f"---\n# Source: {template}\n{document}\n" for template, document in render_documents(values))


def render_example(name: str) -> str:
    return render_manifest(load_values(EXAMPLES_DIR / name / "values.yaml"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report stale manifests instead of rewriting them")
    args = parser.parse_args(argv)
    stale = []
    for name in example_names():
        manifest_path = EXAMPLES_DIR / name / "manifest.yaml"
        manifest = render_example(name)
        current = manifest_path.read_text() if manifest_path.exists() else None
        if current == manifest:
            continue
        stale.append(name)
        if not args.check:
            manifest_path.write_text(manifest)
    if args.check and stale:
        print(f"stale example manifests: {', '.join(stale)}; run python deploy/k8s/render_examples.py", file=sys.stderr)
        return 1
    for name in stale:
        print(f"rewrote {EXAMPLES_DIR.relative_to(K8S_DIR.parent.parent) / name / 'manifest.yaml'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
