"""The report opens in headless Chromium (Debian's ``chromium`` package), from a file, and shows its figures."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from streamproc.report import write_html_report

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=10000",
]
# Appended to a copy of the page only: counts images and how many the browser decoded.
PROBE = """<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  document.body.setAttribute("data-images", images.length);
  document.body.setAttribute("data-decoded", images.filter(i => i.complete && i.naturalWidth > 0).length);
});
</script></body>"""

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="headless rendering needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)",
)


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "profile"
    return subprocess.run(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


@pytest.fixture(scope="module")
def report(outputs, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("page") / "report.html"
    return write_html_report([outputs["table1"], outputs["replay"], outputs["sensitivity"]], path)


def test_every_image_decodes_in_the_browser(report, tmp_path):
    probed = tmp_path / "probed.html"
    probed.write_text(report.read_text().replace("</body>", PROBE))
    dom = _chromium(tmp_path, "--dump-dom", probed.as_uri()).stdout
    images = re.search(r'data-images="(\d+)"', dom)
    decoded = re.search(r'data-decoded="(\d+)"', dom)
    assert images and decoded, dom[:500]
    assert int(images.group(1)) == 5  # two channel plots (in a closed gallery) and three study figures
    assert int(decoded.group(1)) == 5


def test_screenshot_shows_the_figures(report, tmp_path):
    shot = tmp_path / "shot.png"
    _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1400,4000", report.as_uri())
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.int16)
    assert pixels.shape[:2] == (4000, 1400)
    assert pixels.std() > 20  # not a blank page
    # matplotlib's first line colour (tab:blue, 31/119/180) only exists in the embedded figures.
    blue = np.all(np.abs(pixels - np.array([31, 119, 180])) <= 12, axis=-1)
    assert blue.sum() > 2000
