"""Download the public telemanom archive and label file, verify them, unpack one spacecraft.

Where the files come from is in ``sources.json`` beside this module. A base URL (a mirror, or
a local server in tests) replaces both addresses with ``<base>/<file name>``.

Checksums. A file is verified against the SHA-256 given by the caller, else the one recorded in
``sources.json``; a mismatch is an error and nothing is left behind. The upstream files carry
no published checksums, and none are recorded yet, so by default an unknown checksum does not
stop the download: a warning names the digest that was computed, and ``fetch.json`` in the
destination records it, unverified, so the data can be pinned afterwards
(``--archive-sha256``/``--labels-sha256``). ``require_checksums=True`` makes an unknown
checksum an error before anything is downloaded, for pipelines that must not trust on first use.

Safety. Everything is staged in a temporary sibling of the destination and moved into place
with one rename at the end, so a failure leaves no partial files. Only the expected members
(``.../train/<chan>.npy``, ``.../test/<chan>.npy`` of the requested spacecraft's labelled
channels) are copied out of the archive, to paths built from validated channel names; an
archive with any absolute or ``..`` member name is refused outright.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any, cast

import numpy as np

from ._errors import DatasetError
from ._telemanom import LABELS_FILE, read_label_rows

FETCH_RECORD = "fetch.json"
_MAX_MEMBER_BYTES = 256 * 1024 * 1024
_CHUNK = 1 << 20


class ChecksumError(DatasetError):
    """A downloaded file's SHA-256 differs from the expected one."""


@dataclass(frozen=True)
class RemoteFile:
    role: str
    name: str
    url: str
    sha256: str | None


@dataclass(frozen=True)
class FetchedFile:
    name: str
    url: str
    sha256: str
    verified: bool


@dataclass(frozen=True)
class FetchResult:
    directory: Path
    spacecraft: str
    channels: list[str]
    files: list[FetchedFile] = field(default_factory=list)


def telemanom_sources() -> dict[str, Any]:
    """The parsed ``sources.json`` entry for the telemanom data."""
    text = resources.files(__package__).joinpath("sources.json").read_text()
    return cast(dict[str, Any], json.loads(text)["telemanom"])


def fetch_telemanom(
    dataset: str,
    destination: Path | str,
    *,
    base_url: str | None = None,
    checksums: Mapping[str, str | None] | None = None,
    require_checksums: bool = False,
    force: bool = False,
    timeout: float = 60.0,
    log: Callable[[str], None] | None = None,
) -> FetchResult:
    """Fetch ``dataset`` (``"smap"`` or ``"msl"``) into ``destination`` in the telemanom layout.

    ``checksums`` maps ``"archive"``/``"labels"`` to expected SHA-256 hex digests and overrides
    the recorded ones. ``force`` replaces an existing telemanom directory at ``destination``.
    """
    log = log or (lambda message: None)
    sources = telemanom_sources()
    spacecraft = sources["spacecraft"].get(dataset.lower())
    if spacecraft is None:
        raise DatasetError(f"unknown dataset {dataset!r}; known: {', '.join(sources['spacecraft'])}")
    files = _remote_files(sources, base_url, checksums or {})
    unknown = [f.name for f in files.values() if f.sha256 is None]
    if require_checksums and unknown:
        raise DatasetError(
            f"no known SHA-256 for {', '.join(unknown)}; pass it explicitly "
            f"(--archive-sha256/--labels-sha256) or allow unverified downloads"
        )
    destination = Path(destination)
    _check_destination(destination, force)
    destination.parent.mkdir(parents=True, exist_ok=True)

    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.fetch-", dir=destination.parent))
    try:
        downloads = staging / ".downloads"
        downloads.mkdir()
        # The small label file first: a spacecraft it does not cover fails before the big download.
        fetched = {"labels": _download_verified(files["labels"], downloads / files["labels"].name, timeout, log)}
        channels = _write_labels(downloads / files["labels"].name, staging / LABELS_FILE, spacecraft)
        fetched["archive"] = _download_verified(files["archive"], downloads / files["archive"].name, timeout, log)
        _unpack(downloads / files["archive"].name, staging, channels, log)
        shutil.rmtree(downloads)
        record = {
            "dataset": dataset.lower(),
            "spacecraft": spacecraft,
            "channels": len(channels),
            "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "files": [vars(f) for f in fetched.values()],
        }
        (staging / FETCH_RECORD).write_text(json.dumps(record, indent=2) + "\n")
        _move_into_place(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return FetchResult(destination, spacecraft, channels, list(fetched.values()))


def _remote_files(
    sources: dict[str, Any], base_url: str | None, checksums: Mapping[str, str | None]
) -> dict[str, RemoteFile]:
    unknown_roles = set(checksums) - set(sources["files"])
    if unknown_roles:
        raise DatasetError(
            f"checksums given for unknown file(s) {sorted(unknown_roles)}; known: {sorted(sources['files'])}"
        )
    files = {}
    for role, entry in sources["files"].items():
        url = entry["url"] if not base_url else f"{base_url.rstrip('/')}/{entry['name']}"
        scheme = url.split(":", 1)[0].lower()
        if scheme not in ("http", "https", "file"):
            raise DatasetError(f"unsupported URL scheme in {url!r} (use http, https or file)")
        digest = checksums.get(role) or entry.get("sha256")
        if digest is not None:
            digest = digest.strip().lower()
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise DatasetError(f"SHA-256 for {entry['name']} must be 64 hex digits, got {digest!r}")
        files[role] = RemoteFile(role, entry["name"], url, digest)
    return files


def _check_destination(destination: Path, force: bool) -> None:
    if destination.exists() and not destination.is_dir():
        raise DatasetError(f"{destination} exists and is not a directory")
    if destination.is_dir() and any(destination.iterdir()):
        looks_like_dataset = (destination / LABELS_FILE).exists() or (destination / "train").is_dir()
        if not force:
            raise DatasetError(f"{destination} is not empty; pass --force to replace the data set there")
        if not looks_like_dataset:
            # --force replaces a data set, never an unrelated folder.
            raise DatasetError(f"{destination} is not empty and holds no telemanom data set; refusing to replace it")


def _download_verified(remote: RemoteFile, target: Path, timeout: float, log: Callable[[str], None]) -> FetchedFile:
    log(f"downloading {remote.url}")
    request = urllib.request.Request(remote.url, headers={"User-Agent": "streamproc-datasets"})
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response, target.open("wb") as out:
            while chunk := response.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
    except urllib.error.HTTPError as exc:
        raise DatasetError(f"could not download {remote.url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise DatasetError(f"could not download {remote.url}: {exc.reason}") from None
    except (OSError, ValueError) as exc:
        raise DatasetError(f"could not download {remote.url}: {exc}") from None
    actual = digest.hexdigest()
    if remote.sha256 is None:
        log(
            f"warning: no known SHA-256 for {remote.name}; downloaded file has sha256 {actual} "
            f"(not verified; pin it with --{remote.role}-sha256)"
        )
        return FetchedFile(remote.name, remote.url, actual, verified=False)
    if actual != remote.sha256:
        raise ChecksumError(
            f"SHA-256 mismatch for {remote.name} from {remote.url}: "
            f"expected {remote.sha256}, got {actual}; nothing was written"
        )
    return FetchedFile(remote.name, remote.url, actual, verified=True)


def _write_labels(downloaded: Path, target: Path, spacecraft: str) -> list[str]:
    """Copy the spacecraft's rows, unchanged (duplicates included), and return its channels."""
    rows = read_label_rows(downloaded)  # validates every row, channel names included
    channels = sorted({r.name for r in rows if r.spacecraft.lower() == spacecraft.lower()})
    if not channels:
        raise DatasetError(f"{LABELS_FILE} from the source has no rows for spacecraft {spacecraft}")
    with downloaded.open(newline="") as source, target.open("w", newline="") as out:
        reader = csv.DictReader(source)
        writer = csv.DictWriter(out, fieldnames=reader.fieldnames or [])
        writer.writeheader()
        writer.writerows(r for r in reader if (r.get("spacecraft") or "").strip().lower() == spacecraft.lower())
    return channels


def _unpack(archive: Path, staging: Path, channels: list[str], log: Callable[[str], None]) -> None:
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = _index_members(bundle)
            missing = [
                f"{split}/{name}.npy"
                for name in channels
                for split in ("train", "test")
                if (split, name) not in members
            ]
            if missing:
                shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
                raise DatasetError(f"{archive.name} lacks arrays for labelled channels: {shown}")
            for split in ("train", "test"):
                (staging / split).mkdir()
                for name in channels:
                    target = staging / split / f"{name}.npy"
                    _copy_member(bundle, members[(split, name)], target)
                    _check_array(target, f"{archive.name}:{members[(split, name)].filename}")
    except zipfile.BadZipFile as exc:
        raise DatasetError(f"{archive.name} is not a valid zip archive ({exc})") from None
    log(f"unpacked {len(channels)} channels")


def _index_members(bundle: zipfile.ZipFile) -> dict[tuple[str, str], zipfile.ZipInfo]:
    """``(split, channel) -> member`` for every ``.../train|test/<chan>.npy``; unsafe names refuse the archive."""
    members: dict[tuple[str, str], zipfile.ZipInfo] = {}
    for info in bundle.infolist():
        name = info.filename
        path = PurePosixPath(name.replace("\\", "/"))
        if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
            raise DatasetError(f"archive member {name!r} points outside the archive; refusing to unpack")
        if info.is_dir() or len(path.parts) < 2 or path.suffix != ".npy":
            continue
        split = path.parts[-2]
        if split not in ("train", "test"):
            continue
        key = (split, path.stem)
        if key in members:
            raise DatasetError(f"archive holds {split}/{path.name} twice ({members[key].filename}, {name})")
        members[key] = info
    return members


def _copy_member(bundle: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path) -> None:
    if info.file_size > _MAX_MEMBER_BYTES:
        raise DatasetError(
            f"archive member {info.filename} is {info.file_size} bytes, over the "
            f"{_MAX_MEMBER_BYTES}-byte limit for one channel"
        )
    written = 0
    with bundle.open(info) as source, target.open("wb") as out:
        while chunk := source.read(_CHUNK):
            written += len(chunk)
            # The header's size can lie; count what is actually inflated.
            if written > _MAX_MEMBER_BYTES:
                raise DatasetError(f"archive member {info.filename} inflates past the per-channel limit")
            out.write(chunk)


def _check_array(path: Path, origin: str) -> None:
    try:
        array = np.load(path, allow_pickle=False, mmap_mode="r")
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{origin} is not a readable .npy array ({exc})") from None
    if array.ndim not in (1, 2) or array.shape[0] == 0:
        raise DatasetError(f"{origin}: expected a [T, C] array, got shape {array.shape}")
    del array  # release the memory map before the staging folder is renamed


def _move_into_place(staging: Path, destination: Path) -> None:
    if not destination.exists():
        os.replace(staging, destination)
        return
    if not any(destination.iterdir()):
        destination.rmdir()
        os.replace(staging, destination)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{destination.name}.old-", dir=destination.parent))
    os.replace(destination, retired / "data")
    os.replace(staging, destination)
    shutil.rmtree(retired, ignore_errors=True)
