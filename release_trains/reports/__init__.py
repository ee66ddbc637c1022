"""Reports: a train's latest run in full with its earlier runs summarised, or a service's
health and release history.

One data module per report (train_data, service_data) reads what the report shows, bounded
by --runs and --since; one module per format (markdown, html, json_doc) lays it out from the
same sections (sections.py), piece by piece; timeline.py draws the SVG timelines. Tests pin
time by passing `now`.
"""

from __future__ import annotations

from .audit_trail import audit_records, audit_tail, check_known_train, detail_text, train_audit
from .html import html, html_chunks
from .json_doc import json_chunks, json_text
from .markdown import markdown, markdown_chunks
from .output import FORMATS, chunks, default_output, render, write_report
from .performance import performance
from .service_data import (
    FAILURE_KINDS,
    Metric,
    Release,
    ServiceReport,
    metric_specs,
    service_report,
)
from .train_data import (
    INCIDENT_KINDS,
    AuditEntry,
    Coverage,
    Incident,
    RunSummary,
    TrainReport,
    train_report,
)
from .window import DEFAULT_RUNS, MAX_RUNS, Window, check_runs, parse_since

__all__ = [
    "DEFAULT_RUNS",
    "FAILURE_KINDS",
    "FORMATS",
    "INCIDENT_KINDS",
    "MAX_RUNS",
    "AuditEntry",
    "Coverage",
    "Incident",
    "Metric",
    "Release",
    "RunSummary",
    "ServiceReport",
    "TrainReport",
    "Window",
    "audit_records",
    "audit_tail",
    "check_known_train",
    "check_runs",
    "chunks",
    "default_output",
    "detail_text",
    "html",
    "html_chunks",
    "json_chunks",
    "json_text",
    "markdown",
    "markdown_chunks",
    "metric_specs",
    "parse_since",
    "performance",
    "render",
    "service_report",
    "train_audit",
    "train_report",
    "write_report",
]
