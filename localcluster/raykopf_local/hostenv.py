"""The host's environment, for the processes the local cluster starts (the one place `raykopf_local`
reads it; the operator reads its own settings only in `raykopf.config`)."""

from __future__ import annotations

import os

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def host_environment(**overrides: str) -> dict[str, str]:
    return {**os.environ, **overrides}


def host_path() -> str:
    return os.environ.get("PATH", DEFAULT_PATH)
