"""The HTML report: self-contained, every section and figure present, defensive about Table 1, clear errors."""

from __future__ import annotations

import base64
import io
import re

import pytest
from PIL import Image

from streamproc.report import ReportError, find_sources, write_html_report

IMG = re.compile(r'<img[^>]*src="([^"]*)"')


def section(page: str, anchor: str) -> str:
    start = page.index(f'<section id="{anchor}">')
    return page[start : page.index("</section>", start)]


@pytest.fixture(scope="module")
def page(outputs, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("html") / "report.html"
    write_html_report([outputs["replay"], outputs["sensitivity"], outputs["table1"]], path)
    return path.read_text()


def test_every_image_is_an_embedded_png_and_nothing_is_fetched(page):
    sources = IMG.findall(page)
    # 2 channel plots of the replay + 3 sensitivity figures
    assert len(sources) == 5
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        image = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
        assert image.width > 500 and image.height > 300
    assert not re.search(r'(src|href)="(?!data:|#)', page)
    assert "<script" not in page and "<link" not in page and "url(" not in page


def test_sections_come_with_their_reading_guides(page):
    for heading in ("How to read the metrics", "Table 1", "Replay", "Sensitivity"):
        assert heading in page
    assert "Never read PA alone" in page
    assert "upper bound" in page and "(oracle)" in page
    assert "point-adjustment inflation" in page and "Quoted" in page
    assert page.index('id="table1-1"') < page.index('id="replay-1"') < page.index('id="sensitivity-1"')


def test_table1_renders_whatever_metrics_are_present(page):
    table1 = section(page, "table1-1")
    for header in ("PA F1", "PW F1", "event F1", "VUS-PR", "train s", "windows/s", "brand_new_metric"):
        assert f">{header}</th>" in table1
    assert "0.812" in table1 and "15,234" in table1 and "125.5" in table1 and "0.777" in table1
    assert "random_2pct (sanity)" in table1 and "n/a" in table1
    assert "0.956" in table1  # quoted row
    assert "table1.md" in table1


def test_replay_tables_and_gallery(page, outputs):
    replay = section(page, "replay-1")
    assert "Point level: micro totals over 2 channel(s)" in replay and "random_2pct (sanity)" in replay
    assert replay.count('<figure tabindex="0">') == 2 and "<details>" in replay
    # Alerts first: the detector alone through the worker's pipeline, and its alerts by channel.
    assert replay.index("Alerts: what operators would have received") < replay.index("Point level")
    assert ">pca alone</th>" in replay and ">alert F1</th>" in replay
    assert (
        "The pipeline&#x27;s alerts, channel by channel (2)" in replay
        or "The pipeline's alerts, channel by channel (2)" in replay
    )
    assert "<b>S-1</b> &middot; PA F1" in replay


def test_sensitivity_figures_and_construction(page):
    sensitivity = section(page, "sensitivity-1")
    assert sensitivity.count('class="study"') == 3
    assert "target 2%" in sensitivity and "2.0000%" in sensitivity and "1/10" in sensitivity


def test_unusable_directories_are_one_line_errors(outputs, tmp_path, run_cli):
    code, _, err = run_cli("report", str(tmp_path / "absent"), "--html", str(tmp_path / "r.html"))
    assert code == 1 and err == f"error: {tmp_path / 'absent'}: no such directory\n"
    code, _, err = run_cli("report", str(outputs["data"]), "--html", str(tmp_path / "r.html"))
    assert code == 1 and err.startswith("error: ") and "not a replay, table1 or sensitivity output" in err
    assert err.count("\n") == 1
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "table1.json").write_text("{not json")
    code, _, err = run_cli("report", str(broken), "--html", str(tmp_path / "r.html"))
    assert code == 1 and "table1.json: not valid JSON" in err
    assert not (tmp_path / "r.html").exists()


def test_cli_writes_the_page(outputs, tmp_path, run_cli):
    target = tmp_path / "sub" / "report.html"
    code, out, err = run_cli("report", str(outputs["sensitivity"]), "--html", str(target), "--title", "SMAP <study>")
    assert code == 0, err
    assert f"report: {target}" in out
    html = target.read_text()
    assert "<title>SMAP &lt;study&gt;</title>" in html and len(IMG.findall(html)) == 3


def test_kinds_are_recognised_by_their_files(outputs):
    kinds = [s.kind for s in find_sources([outputs["sensitivity"], outputs["replay"], outputs["table1"]])]
    assert kinds == ["table1", "replay", "sensitivity"]
    with pytest.raises(ReportError):
        find_sources([])


def test_table1_of_another_shape_is_shown_as_it_is(tmp_path):
    only_markdown = tmp_path / "md"
    only_markdown.mkdir()
    (only_markdown / "table1.md").write_text("| detector | PA F1 |\n| pca | 0.7 < 0.8 |\n")
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "table1.json").write_text('{"detectors": ["pca"], "quoted": [1, 2], "machine": "epyc"}')
    html = (write_html_report([only_markdown, odd], tmp_path / "r.html")).read_text()
    assert "<details open><summary>table1.md</summary><pre>| detector | PA F1 |" in html and "0.7 &lt; 0.8" in html
    assert 'table1.json has no "detectors" table (found: <code>[&quot;pca&quot;]</code>)' in html
    assert "&quot;machine&quot;: &quot;epyc&quot;" in html and "[\n  1,\n  2\n]" in html


def test_a_bench_table1_run_renders_as_a_comparison_table(outputs, tmp_path):
    html = write_html_report([outputs["table1_run"]], tmp_path / "r.html").read_text()
    table1 = section(html, "table1-1")
    assert "published PA F1 (quoted)" in table1 and "train s" in table1 and "windows/s" in table1
    rows = re.findall(r"<tr(?: class=\"sanity\")?><th>([^<]+)</th>", table1)
    assert rows[:3] == ["pca", "range (sanity)", "random_2pct (sanity)"]
    assert "TranAD" in table1 and "&asymp; 0.84 (approx.)" in table1
    assert "machine: cpu" in table1 and "2 channel(s)" in table1
    assert "per_channel" not in table1 and "Other fields" not in table1
