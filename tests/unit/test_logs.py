"""Operator logs are one JSON object per line and carry the object's identity."""

from __future__ import annotations

import json
import logging

from raykopf.runtime.logs import JsonFormatter


def test_a_record_is_one_json_line_with_its_extra_fields() -> None:
    record = logging.LogRecord("raykopf", logging.WARNING, __file__, 1, "reconcile failed", None, None)
    record.namespace = "ns"
    record.name_ = "demo"
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "warning"
    assert entry["message"] == "reconcile failed"
    assert entry["namespace"] == "ns"
    assert entry["name_"] == "demo"
