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


def test_kopf_records_name_their_object_and_drop_the_settings_dump() -> None:
    record = logging.LogRecord("kopf.objects", logging.WARNING, __file__, 1, "Handler failed", None, None)
    record.settings = object()
    record.k8s_skip = True
    record.k8s_ref = {"kind": "RayCluster", "namespace": "ns", "name": "demo", "uid": "u"}
    entry = json.loads(JsonFormatter().format(record))
    assert entry["object"] == "ns/demo"
    assert "settings" not in entry
    assert "k8s_skip" not in entry
    assert "k8s_ref" not in entry
