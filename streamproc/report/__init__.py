"""A self-contained HTML report of replay, Table 1 and sensitivity outputs."""

from ._errors import ReportError
from ._html import render_html, write_html_report
from ._sources import KINDS, TABLE1_FILE, TABLE1_MARKDOWN, Source, find_sources

__all__ = [
    "KINDS",
    "TABLE1_FILE",
    "TABLE1_MARKDOWN",
    "ReportError",
    "Source",
    "find_sources",
    "render_html",
    "write_html_report",
]
