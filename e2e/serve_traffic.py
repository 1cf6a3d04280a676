"""A client of a Serve application on the local cluster: one request, or traffic back to back with
every failure counted and the node's routes to the Service recorded."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.request
from typing import Any


def greet(url: str, name: str = "op", timeout: float = 5) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(f"{url}/hello?name={name}", timeout=timeout) as response:
            return response.status, json.load(response)
    except OSError as error:
        return getattr(error, "code", 0) or 0, str(error)


class Traffic(threading.Thread):
    """A client sending requests back to back; every answer other than 200 is counted. The timeout is
    generous: two cores also start a Ray cluster meanwhile, and a slow answer is not a failed one."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.stop, self.ok, self.failed, self.bodies = url, threading.Event(), 0, [], set()
        self.slowest, self.began = 0.0, time.monotonic()
        self.routes = Routes(url.split("//")[1].split(":")[0], self.began, self.stop)

    def run(self) -> None:
        self.routes.start()
        while not self.stop.is_set():
            started = time.monotonic()
            code, body = greet(self.url, timeout=30)
            self.slowest = max(self.slowest, time.monotonic() - started)
            if code == 200:
                self.ok += 1
                self.bodies.add(json.dumps(body, sort_keys=True))
            else:
                self.failed.append((code, body, f"sent {started - self.began:.1f} s after the start"))
            time.sleep(0.05)


class Routes(threading.Thread):
    """Where the node sends connections to the ClusterIP (its NAT rules), recorded whenever that changes:
    printed with a failure, it says which Pods the failed requests went to."""

    def __init__(self, cluster_ip: str, began: float, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.cluster_ip, self.began, self.stop = cluster_ip, began, stop
        self.timeline: list[tuple[float, list[str]]] = []

    def run(self) -> None:
        while not self.stop.is_set():
            rules = subprocess.run(
                ["iptables", "-w", "-t", "nat", "-S"], capture_output=True, text=True, check=False
            ).stdout.splitlines()
            targets = sorted(
                r.split("--to-destination ")[1]
                for r in rules
                if f"-d {self.cluster_ip}/32" in r and "DNAT" in r
            )
            if not self.timeline or self.timeline[-1][1] != targets:
                self.timeline.append((round(time.monotonic() - self.began, 2), targets))
            time.sleep(0.05)
