"""One JSON object per log line with KubeRay's keys (zap's production encoder, as its operator logs:
`level`, `ts`, `logger`, `caller`, `msg`), then the fields passed through `extra=` (namespace, name,
error...), so that log queries written for KubeRay's operator keep working."""

from __future__ import annotations

import datetime
import json
import logging
import logging.handlers
import os
from typing import Any

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
# kopf attaches its whole settings object and a skip flag to every record: never worth a log line.
_DROPPED = {"settings", "k8s_skip"}
# zap's lowercase level names.
_LEVELS = {"WARNING": "warn", "CRITICAL": "fatal"}


def _iso8601(created: float) -> str:
    """zap's ISO8601TimeEncoder: milliseconds and the zone offset, e.g. 2026-12-03T17:02:24.123Z."""
    stamp = datetime.datetime.fromtimestamp(created, datetime.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "level": _LEVELS.get(record.levelname, record.levelname.lower()),
            "ts": _iso8601(record.created),
            "logger": record.name,
            "caller": f"{os.path.basename(os.path.dirname(record.pathname))}/{record.filename}:{record.lineno}",
            "msg": record.getMessage(),
        }
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD and k not in _DROPPED}
        reference = extras.pop("k8s_ref", None)
        if isinstance(reference, dict) and "object" not in extras:  # kopf's: the object, as ours say it
            extras["object"] = f"{reference.get('namespace')}/{reference.get('name')}"
        entry.update(extras)
        if record.exc_info:
            entry["stacktrace"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class ConsoleFormatter(JsonFormatter):
    """`--log-stdout-encoder console`: time, level, logger, message, then the fields as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        entry = json.loads(super().format(record))
        head = f"{entry.pop('ts')}\t{entry.pop('level').upper()}\t{entry.pop('logger')}\t{entry.pop('msg')}"
        entry.pop("caller", None)
        return head + "".join(f" {key}={value}" for key, value in entry.items())


# As KubeRay's log file (lumberjack: 500 MB per file, 10 old files kept).
LOG_FILE_BYTES = 500 * 1024 * 1024
LOG_FILE_BACKUPS = 10


def _formatter(encoder: str) -> logging.Formatter:
    return ConsoleFormatter() if encoder == "console" else JsonFormatter()


def configure(
    level: int = logging.INFO, encoder: str = "json", file: str = "", file_encoder: str = "json"
) -> None:
    """Log lines to stderr in `encoder`'s format and, with `file`, also to that file (rotated) in
    `file_encoder`'s, at INFO and above as KubeRay's file log."""
    handler = logging.StreamHandler()
    handler.setFormatter(_formatter(encoder))
    handlers: list[logging.Handler] = [handler]
    if file:
        to_file = logging.handlers.RotatingFileHandler(
            file, maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILE_BACKUPS, encoding="utf-8"
        )
        to_file.setFormatter(_formatter(file_encoder))
        to_file.setLevel(logging.INFO)
        handlers.append(to_file)
    logging.basicConfig(level=level, handlers=handlers, force=True)
    logging.getLogger("aiohttp").setLevel(logging.WARNING)
    # kopf logs every handled event at INFO ("Handler ... succeeded"): one line per Pod change at scale.
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)
