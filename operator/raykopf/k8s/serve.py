"""Ray Serve, asked in the background: one polling task per (RayService, cluster) reads the Serve
applications and the head proxy's health; a changed answer wakes the RayService. PUTs of the Serve
config also run in the background, so a slow head never holds a reconcile."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from raykopf.k8s.dashboard import MAX_POLL_INTERVAL, POLL_INTERVAL, Dashboard, DashboardError, RejectedError
from raykopf.reconcile.rayservice import ServeProbe

log = logging.getLogger("raykopf")
HEALTH_FAILURES = 3
Key = tuple[str, str]


@dataclass(frozen=True)
class Target:
    """Where one cluster's Serve answers: the dashboard and the head Pod's proxy."""

    address: str
    namespace: str
    head_pod: str
    head_ip: str
    serve_port: int


@dataclass
class _Polled:
    target: Target
    task: asyncio.Task[None]
    probe: ServeProbe | None = None
    health_failures: int = 0


class ServeTracker:
    def __init__(
        self,
        dashboard: Dashboard,
        on_change: Callable[[Key], None],
        on_rejected: Callable[[Key, str, str], None] = lambda key, cluster, message: None,
    ) -> None:
        self.dashboard = dashboard
        self.on_change = on_change
        self.on_rejected = on_rejected
        # (RayService, cluster) -> a config (JSON) Ray refused: not sent again until the spec changes.
        self.rejected: dict[tuple[Key, str], str] = {}
        self._polled: dict[tuple[Key, str], _Polled] = {}
        self._puts: dict[tuple[Key, str], asyncio.Task[None]] = {}
        # (RayService, cluster) -> the config (JSON) Ray accepted from this process.
        self.submitted: dict[tuple[Key, str], str] = {}
        # (RayService, cluster) -> the config (JSON) being sent now.
        self._sending: dict[tuple[Key, str], str] = {}

    def probes(self, key: Key) -> dict[str, ServeProbe]:
        return {
            cluster: p.probe for (k, cluster), p in self._polled.items() if k == key and p.probe is not None
        }

    def rejected_configs(self, key: Key) -> dict[str, str]:
        return {cluster: config for (k, cluster), config in self.rejected.items() if k == key}

    def submitted_configs(self, key: Key) -> dict[str, str]:
        """What each cluster was given, counting a PUT in flight: it is neither sent nor announced twice."""
        given = {**self.submitted, **self._sending}
        return {cluster: config for (k, cluster), config in given.items() if k == key}

    def keep(self, key: Key, targets: dict[str, Target]) -> None:
        """Poll exactly these clusters of this RayService."""
        for (k, cluster), polled in list(self._polled.items()):
            if k == key and (cluster not in targets or targets[cluster] != polled.target):
                polled.task.cancel()
                del self._polled[(k, cluster)]
        for cluster, target in targets.items():
            if (key, cluster) not in self._polled:
                task = asyncio.create_task(self._poll(key, cluster, target), name=f"serve {key} {cluster}")
                self._polled[(key, cluster)] = _Polled(target, task)

    def forget(self, key: Key) -> None:
        self.keep(key, {})
        for memory in (self.submitted, self.rejected):
            for pair in [x for x in memory if x[0] == key]:
                del memory[pair]

    def put(self, key: Key, cluster: str, address: str, config: dict[str, Any]) -> None:
        running = self._puts.get((key, cluster))
        if running is not None and not running.done():
            return
        self._sending[(key, cluster)] = json.dumps(config, sort_keys=True)
        self._puts[(key, cluster)] = asyncio.create_task(self._put(key, cluster, address, config))

    async def _put(self, key: Key, cluster: str, address: str, config: dict[str, Any]) -> None:
        try:
            await self._send(key, cluster, address, config)
        finally:
            self._sending.pop((key, cluster), None)
        self.on_change(key)

    async def _send(self, key: Key, cluster: str, address: str, config: dict[str, Any]) -> None:
        try:
            await self.dashboard.put_serve_config(address, config)
        except RejectedError as error:
            self.rejected[(key, cluster)] = json.dumps(config, sort_keys=True)
            self.on_rejected(key, cluster, str(error))
        except DashboardError as error:
            log.warning(
                "Serve config not accepted",
                extra={"object": f"{key[0]}/{key[1]}", "cluster": cluster, "error": str(error)[:300]},
            )
            await asyncio.sleep(POLL_INTERVAL * 2)  # counted as in flight meanwhile: not resent at once
        else:
            self.submitted[(key, cluster)] = json.dumps(config, sort_keys=True)
            log.info("Serve config submitted", extra={"object": f"{key[0]}/{key[1]}", "cluster": cluster})

    async def _poll(self, key: Key, cluster: str, target: Target) -> None:
        interval = POLL_INTERVAL
        while True:
            polled = self._polled.get((key, cluster))
            if polled is None:
                return
            try:
                applications: dict[str, Any] | None = await self.dashboard.serve_applications(target.address)
                error = None
                interval = POLL_INTERVAL
            except DashboardError as failure:
                applications, error = (
                    (polled.probe.applications if polled.probe else None),
                    str(failure)[:300],
                )
                interval = min(interval * 2, MAX_POLL_INTERVAL)
            if await self.dashboard.proxy_healthy(
                target.namespace, target.head_pod, target.head_ip, target.serve_port
            ):
                polled.health_failures = 0
            else:
                polled.health_failures += 1
            # Like a readiness probe's failureThreshold: one slow answer on a busy node must not take the
            # head out of the serve Service (an empty Service drops connections).
            was_healthy = polled.probe is not None and polled.probe.proxy_healthy
            healthy = polled.health_failures == 0 or (
                was_healthy and polled.health_failures < HEALTH_FAILURES
            )
            probe = ServeProbe(applications, error, healthy)
            changed = polled.probe is None or _summary(polled.probe) != _summary(probe)
            polled.probe = probe
            if changed:
                self.on_change(key)
            await asyncio.sleep(interval)

    async def close(self) -> None:
        for polled in self._polled.values():
            polled.task.cancel()
        for task in self._puts.values():
            task.cancel()


def _summary(probe: ServeProbe) -> Any:
    apps = (
        {
            name: (
                app.get("status"),
                app.get("message"),
                {d: dep.get("status") for d, dep in (app.get("deployments") or {}).items()},
            )
            for name, app in (probe.applications or {}).items()
        }
        if probe.applications is not None
        else None
    )
    return (apps, probe.error is None, probe.proxy_healthy)
