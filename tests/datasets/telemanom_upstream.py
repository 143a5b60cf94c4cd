"""Builders of a tiny telemanom "upstream" (archive members, label file), shared by the
fixtures in conftest.py and the tests that publish their own variants. A module of its own,
not conftest, because ``from conftest import`` resolves to whichever conftest pytest loaded
last when several areas run together."""

from __future__ import annotations

import csv
import io
import zipfile

import numpy as np

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
