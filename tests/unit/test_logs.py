"""Operator logs are one JSON object per line with KubeRay's keys (zap's production encoder) and carry
the object's identity."""

from __future__ import annotations

import json
import logging
import re
import sys

from raykopf.runtime.logs import ConsoleFormatter, JsonFormatter


def record(level: int, message: str, name: str = "raykopf") -> logging.LogRecord:
    return logging.LogRecord(name, level, "/src/raykopf/runtime/run.py", 42, message, None, None)


def test_a_record_is_one_json_line_with_kuberays_keys_and_its_extra_fields() -> None:
    warning = record(logging.WARNING, "reconcile failed")
    warning.namespace = "ns"
    warning.name_ = "demo"
    line = JsonFormatter().format(warning)
    assert "\n" not in line
    entry = json.loads(line)
    # KubeRay's operator (zap, production encoder config, ISO8601 time): level ts logger caller msg.
    assert list(entry)[:5] == ["level", "ts", "logger", "caller", "msg"]
    assert entry["level"] == "warn"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["ts"])
    assert entry["logger"] == "raykopf"
    assert entry["caller"] == "runtime/run.py:42"
    assert entry["msg"] == "reconcile failed"
    assert entry["namespace"] == "ns"
    assert entry["name_"] == "demo"


def test_levels_are_zaps_names() -> None:
    levels = {logging.DEBUG: "debug", logging.INFO: "info", logging.ERROR: "error", logging.CRITICAL: "fatal"}
    for level, name in levels.items():
        assert json.loads(JsonFormatter().format(record(level, "x")))["level"] == name


def test_an_exception_goes_into_stacktrace() -> None:
    failed = record(logging.ERROR, "boom")
    try:
        raise ValueError("bad")
    except ValueError:
        failed.exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter().format(failed))
    assert "ValueError: bad" in entry["stacktrace"]


def test_console_lines_are_tab_separated_with_the_fields_after() -> None:
    info = record(logging.INFO, "created Pod")
    info.object = "ns/demo"
    line = ConsoleFormatter().format(info)
    assert re.fullmatch(r"\S+Z\tINFO\traykopf\tcreated Pod object=ns/demo", line), line


def test_kopf_records_name_their_object_and_drop_the_settings_dump() -> None:
    kopf = record(logging.WARNING, "Handler failed", name="kopf.objects")
    kopf.settings = object()
    kopf.k8s_skip = True
    kopf.k8s_ref = {"kind": "RayCluster", "namespace": "ns", "name": "demo", "uid": "u"}
    entry = json.loads(JsonFormatter().format(kopf))
    assert entry["object"] == "ns/demo"
    assert "settings" not in entry
    assert "k8s_skip" not in entry
    assert "k8s_ref" not in entry
