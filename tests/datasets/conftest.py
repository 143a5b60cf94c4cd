"""A tiny telemanom "upstream": a generated data.zip and label file served by a local HTTP server."""

from __future__ import annotations

import csv
import functools
import hashlib
import http.server
import io
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

# chan_id -> (spacecraft, spans, test length); P-2 is listed twice as in the published SMAP file.
UPSTREAM_ROWS = [
    ("P-1", "SMAP", [[10, 14], [30, 33]], 60),
    ("P-2", "SMAP", [[20, 29]], 50),
    ("A-1", "SMAP", [[5, 5]], 40),
    ("M-1", "MSL", [[1, 3]], 30),
    ("P-2", "SMAP", [[18, 25]], 50),
]


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def build_archive(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, payload in members.items():
            bundle.writestr(name, payload)
    return buffer.getvalue()


def upstream_members(n_features: int = 3) -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    members = {}
    for name, _, _, test_len in UPSTREAM_ROWS:
        members[f"data/train/{name}.npy"] = npy_bytes(rng.normal(size=(40, n_features)))
        members[f"data/test/{name}.npy"] = npy_bytes(rng.normal(size=(test_len, n_features)))
    # Upstream archives carry more than the arrays; those members must be ignored.
    members["data/2018-05-19_15.00.10/params.log"] = b"not needed"
    return members


def label_csv(rows=UPSTREAM_ROWS) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["chan_id", "spacecraft", "anomaly_sequences", "class", "num_values"])
    for name, craft, spans, test_len in rows:
        writer.writerow([name, craft, str(spans), "[" + ", ".join(["point"] * len(spans)) + "]", test_len])
    return out.getvalue().encode()


@dataclass
class Upstream:
    root: Path
    url: str
    requests: list[str] = field(default_factory=list)

    def publish(self, archive: bytes, labels: bytes) -> dict[str, str]:
        (self.root / "data.zip").write_bytes(archive)
        (self.root / "labeled_anomalies.csv").write_bytes(labels)
        return {"archive": hashlib.sha256(archive).hexdigest(), "labels": hashlib.sha256(labels).hexdigest()}


@pytest.fixture
def upstream(tmp_path):
    root = tmp_path / "upstream"
    root.mkdir()
    served = Upstream(root, "")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # keep test output clean
            served.requests.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    served.url = f"http://127.0.0.1:{server.server_address[1]}"
    served.publish(build_archive(upstream_members()), label_csv())
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def no_known_checksums(monkeypatch):
    """Tests of the trust-on-first-use path must not depend on what sources.json records."""
    from streamproc.datasets import _fetch

    original = _fetch.telemanom_sources

    def sources():
        data = original()
        for entry in data["files"].values():
            entry["sha256"] = None
        return data

    monkeypatch.setattr(_fetch, "telemanom_sources", sources)
