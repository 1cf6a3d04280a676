"""One pod's life on the node: sandbox, init containers in order, containers with probes and
restarts, status reports, graceful termination."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

import raykopf
from raykopf.k8s.client import ApiError
from raykopf_local import settings
from raykopf_local.agent import launcher, sandbox
from raykopf_local.agent.containers import (
    ConfigError,
    Probe,
    Sources,
    command_line,
    container_env,
    resolve_port,
)
from raykopf_local.agent.resize import decide as decide_resize
from raykopf_local.agent.status import ContainerStatus, pod_status
from raykopf_local.hostenv import DEFAULT_PATH
from raykopf_local.proc import kill_session

log = logging.getLogger("raykopf.node")

BACKOFF_INITIAL = 10.0
BACKOFF_MAX = 300.0
MOUNT_RETRY_INITIAL = 0.5
MOUNT_RETRY_MAX = 8.0


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class PodEnvironment:
    """What a pod worker needs from the node agent."""

    def __init__(
        self,
        *,
        node_name: str,
        pods_dir: Path,
        runtime_path: str,
        addresses: sandbox.AddressPool,
        report: Callable[[dict[str, Any], dict[str, Any]], Awaitable[None]],
        event: Callable[[dict[str, Any], str, str, str], Awaitable[None]],
        sources: Callable[..., Awaitable[Sources]],
        service_env: Callable[[str], dict[str, str]],
    ) -> None:
        self.node_name = node_name
        self.pods_dir = pods_dir
        self.runtime_path = runtime_path
        # The agent runs from the project's environment: the operator image's stand-in.
        self.project_path = f"{Path(sys.executable).parent}:{DEFAULT_PATH}"
        self.addresses = addresses
        self.report = report
        self.event = event
        self.sources = sources
        self.service_env = service_env

    def keep_for(self, image: str) -> tuple[Path, ...]:
        """The project's environment and source stay visible to the operator image's containers even
        when the repository is under /tmp (which every container gets a private copy of)."""
        if is_operator_image(image):
            return (Path(sys.prefix), Path(raykopf.__file__).resolve().parents[1])
        return ()

    def path_for(self, image: str) -> str:
        """Images are not pulled: the operator's image runs from the project's environment, every other
        image from the Ray runtime environment (as if it were the image's own Python)."""
        return self.project_path if is_operator_image(image) else self.runtime_path


class ContainerRun:
    """A running container process and its probes."""

    def __init__(
        self, worker: PodWorker, spec: dict[str, Any], status: ContainerStatus, *, init: bool
    ) -> None:
        self.worker = worker
        self.spec = spec
        self.status = status
        self.init = init
        self.process: asyncio.subprocess.Process | None = None
        self.env: dict[str, str] = {}
        self.stopping = False
        self.resized = False
        self._resize_stop: asyncio.Future[None] | None = None

    @property
    def log_path(self) -> Path:
        return self.worker.box.container_dir(self.spec["name"]) / f"{self.status.restart_count}.log"

    async def start(self) -> None:
        worker = self.worker
        sources = await worker.env.sources(worker.pod)
        base = {
            "PATH": worker.env.path_for(self.spec.get("image") or ""),
            "HOME": "/root",
            "HOSTNAME": worker.hostname,
            "KUBERNETES_SERVICE_HOST": settings.KUBERNETES_SERVICE_IP,
            "KUBERNETES_SERVICE_PORT": "443",
            "KUBERNETES_SERVICE_PORT_HTTPS": "443",
            "LANG": "C.UTF-8",
            **worker.env.service_env(worker.namespace),
        }
        self.env = container_env(worker.pod, self.spec, sources, base=base)
        argv = command_line(self.spec, self.env)
        # File work (the last run's /tmp removed): in a thread, not on the loop every Pod shares.
        text, created = await asyncio.to_thread(
            launcher.script,
            worker.box,
            self.spec,
            worker.hostname,
            self.spec.get("workingDir"),
            keep=worker.env.keep_for(self.spec.get("image") or ""),
        )
        if created:
            with (worker.box.directory / "created-paths").open("a") as out:
                out.write("\n".join(created) + "\n")
        if self.stopping or worker.stopping:
            return  # stopped while its ConfigMaps were fetched: a process started now would outlive the Pod
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                "ip",
                "netns",
                "exec",
                worker.box.netns,
                "unshare",
                "--mount",
                "--uts",
                "--propagation",
                "private",
                "/bin/bash",
                "-c",
                text,
                "container",
                *argv,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                stdin=asyncio.subprocess.DEVNULL,
                env=self.env,
                start_new_session=True,
            )
        self.status.container_id = f"raykopf://{worker.uid}/{self.spec['name']}/{self.status.restart_count}"
        self.status.state = {"running": {"startedAt": now()}}
        if Probe.parse(self.spec.get("startupProbe")) is None:
            self.worker.container_started(self.status)
        log.info(
            '{"event": "container-started", "pod": "%s/%s", "container": "%s", "pid": %d}',
            worker.namespace,
            worker.name,
            self.spec["name"],
            self.process.pid,
        )

    def restart_for_resize(self) -> None:
        """Stop the process; its supervisor starts it again at once (see `resized`)."""
        self.resized = True
        self._resize_stop = asyncio.ensure_future(self.stop(self.worker.grace))

    async def stop(self, grace: float) -> None:
        self.stopping = True
        if self.process is not None and self.process.returncode is None:
            await asyncio.to_thread(kill_session, self.process.pid, grace)

    async def probe(self, probe: Probe) -> bool:
        try:
            if probe.kind == "httpGet":
                port = resolve_port(probe.spec.get("port"), self.spec)
                scheme = probe.spec.get("scheme", "HTTP").lower()
                host = probe.spec.get("host") or self.worker.box.ip
                headers = {h["name"]: h["value"] for h in probe.spec.get("httpHeaders") or []}
                timeout = aiohttp.ClientTimeout(total=probe.timeout)
                async with (
                    aiohttp.ClientSession(timeout=timeout) as client,
                    client.get(
                        f"{scheme}://{host}:{port}{probe.spec.get('path', '/')}", headers=headers, ssl=False
                    ) as response,
                ):
                    return 200 <= response.status < 400
            if probe.kind == "tcpSocket":
                port = resolve_port(probe.spec.get("port"), self.spec)
                _, writer = await asyncio.wait_for(
                    asyncio.open_connection(self.worker.box.ip, port), probe.timeout
                )
                writer.close()
                return True
            if probe.kind == "exec" and self.process is not None:
                command = [str(a) for a in probe.spec.get("command") or []]
                checker = await asyncio.create_subprocess_exec(
                    "nsenter",
                    "-t",
                    str(self.process.pid),
                    "-n",
                    "-m",
                    "-u",
                    "--",
                    *command,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,
                    env=self.env,
                )
                try:
                    return await asyncio.wait_for(checker.wait(), probe.timeout) == 0
                except TimeoutError:
                    checker.kill()
                    return False
        except (OSError, aiohttp.ClientError, TimeoutError, ConfigError):
            return False
        return False

    async def run_probes(self) -> None:
        """Readiness and liveness, with the probe timings; a failed liveness probe kills the container."""
        startup = Probe.parse(self.spec.get("startupProbe"))
        readiness = Probe.parse(self.spec.get("readinessProbe"))
        liveness = Probe.parse(self.spec.get("livenessProbe"))
        if startup is not None:
            if not await self._until(startup, want=True):
                return
            self.worker.container_started(self.status)
        tasks = []
        if readiness is None:
            self.status.ready = True
            self.worker.changed()
        else:
            tasks.append(asyncio.create_task(self._readiness(readiness)))
        if liveness is not None:
            tasks.append(asyncio.create_task(self._liveness(liveness)))
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()

    async def _until(self, probe: Probe, *, want: bool) -> bool:
        await asyncio.sleep(probe.initial_delay)
        failures = 0
        while self.process is not None and self.process.returncode is None:
            if await self.probe(probe) == want:
                return True
            failures += 1
            if failures >= probe.failure_threshold:
                await self.worker.env.event(
                    self.worker.pod, "Warning", "Unhealthy", f"Startup probe failed for {self.spec['name']}"
                )
                await self.stop(self.worker.grace)
                return False
            await asyncio.sleep(probe.period)
        return False

    async def _readiness(self, probe: Probe) -> None:
        await asyncio.sleep(probe.initial_delay)
        successes = failures = 0
        while self.process is not None and self.process.returncode is None:
            ok = await self.probe(probe)
            successes, failures = (successes + 1, 0) if ok else (0, failures + 1)
            ready = self.status.ready
            if ok and successes >= probe.success_threshold:
                ready = True
            elif not ok and failures >= probe.failure_threshold:
                ready = False
            if ready != self.status.ready:
                self.status.ready = ready
                self.worker.changed()
            await asyncio.sleep(probe.period)

    async def _liveness(self, probe: Probe) -> None:
        await asyncio.sleep(probe.initial_delay)
        failures = 0
        while self.process is not None and self.process.returncode is None:
            failures = 0 if await self.probe(probe) else failures + 1
            if failures >= probe.failure_threshold:
                await self.worker.env.event(
                    self.worker.pod,
                    "Warning",
                    "Unhealthy",
                    f"Liveness probe failed for {self.spec['name']}; restarting it",
                )
                await self.stop(self.worker.grace)
                return
            await asyncio.sleep(probe.period)

    async def run_once(self) -> int:
        """Start, probe until exit, record the termination; return the exit code."""
        started_at = now()
        try:
            await self.start()
        except (ConfigError, launcher.MountError) as error:
            self.status.state = {"waiting": {"reason": "CreateContainerConfigError", "message": str(error)}}
            self.worker.changed()
            await self.worker.env.event(self.worker.pod, "Warning", "Failed", f"Error: {error}")
            return -1
        if self.process is None:
            return -1
        self.worker.changed()
        # Sidecars are probed like the Pod's containers; regular init containers are not.
        probes = None if self.init and not self.status.sidecar else asyncio.create_task(self.run_probes())
        code = await self.process.wait()
        if probes is not None:
            probes.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await probes
        code = 128 + (-code) if code < 0 else code
        self.status.ready = False
        self.status.started = False  # as kubelet reports a container that is not running
        reason = "Completed" if code == 0 else "Error"
        self.status.state = {
            "terminated": {
                "exitCode": code,
                "reason": reason,
                "startedAt": started_at,
                "finishedAt": now(),
                "containerID": self.status.container_id,
            }
        }
        log.info(
            '{"event": "container-exited", "pod": "%s/%s", "container": "%s", "exitCode": %d}',
            self.worker.namespace,
            self.worker.name,
            self.spec["name"],
            code,
        )
        return code


class PodWorker:
    """Runs one pod until it finishes or is deleted."""

    def __init__(self, env: PodEnvironment, pod: dict[str, Any]) -> None:
        self.env = env
        self.pod = pod
        meta, spec = pod["metadata"], pod["spec"]
        self.uid: str = meta["uid"]
        self.name: str = meta["name"]
        self.namespace: str = meta["namespace"]
        self.hostname: str = spec.get("hostname") or self.name
        self.restart_policy: str = spec.get("restartPolicy", "Always")
        self.grace: float = float(spec.get("terminationGracePeriodSeconds", 30))
        self.box = sandbox.Sandbox(uid=self.uid, ip="", directory=env.pods_dir / self.uid)
        self.init = [
            ContainerStatus(c["name"], c.get("image", ""), sidecar=is_sidecar(c))
            for c in spec.get("initContainers") or []
        ]
        self.main = [
            ContainerStatus(c["name"], c.get("image", ""), resources=c.get("resources") or {})
            for c in spec.get("containers") or []
        ]
        for status in self.init:
            status.state = {"waiting": {"reason": "PodInitializing"}}
        self.runs: dict[str, ContainerRun] = {}
        self._started = {status.name: asyncio.Event() for status in self.init if status.sidecar}
        self._sidecar_tasks: list[asyncio.Task[bool]] = []
        self._sidecars_stopping = False
        self._sidecar_stop: asyncio.Task[None] | None = None
        self.started_at = now()
        self._stopped = asyncio.Event()
        self._sandbox_lock = asyncio.Lock()
        self.finished = asyncio.Event()
        self._dirty = asyncio.Event()
        self._reported: dict[str, Any] | None = None
        self.message: str | None = None

    @property
    def stopping(self) -> bool:
        return self._stopped.is_set()

    @stopping.setter
    def stopping(self, value: bool) -> None:
        if value:
            self._stopped.set()
        else:
            self._stopped.clear()

    def changed(self) -> None:
        self._dirty.set()

    def status(self) -> dict[str, Any]:
        previous = (self._reported or self.pod.get("status") or {}).get("conditions") or []
        return pod_status(
            init=self.init,
            main=self.main,
            restart_policy=self.restart_policy,
            pod_ip=self.box.ip,
            host_ip=settings.BRIDGE_IP,
            start_time=self.started_at,
            previous=previous,
            now=now(),
            message=self.message,
            observed_generation=self.pod["metadata"].get("generation"),
        )

    async def reporter(self) -> None:
        """Write the status whenever it changed, at most every 0.2 s."""
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            status = self.status()
            if status != self._reported:
                try:
                    await self.env.report(self.pod, status)
                    self._reported = status
                except Exception as error:  # the pod may be gone; the next change retries
                    log.warning(
                        '{"event": "status-report-failed", "pod": "%s/%s", "error": "%s"}',
                        self.namespace,
                        self.name,
                        str(error)[:200],
                    )
            await asyncio.sleep(0.2)

    async def run(self) -> None:
        reporter = asyncio.create_task(self.reporter())
        try:
            await self._run()
        finally:
            self.changed()
            await asyncio.sleep(0.3)
            reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporter
            if self._reported != self.status() and not self.stopping:
                with contextlib.suppress(Exception):
                    await self.env.report(self.pod, self.status())
            self.finished.set()

    async def _run(self) -> None:
        subdomain = self.pod["spec"].get("subdomain")
        fqdn = (
            f"{self.hostname}.{subdomain}.{self.namespace}.svc.{settings.CLUSTER_DOMAIN}"
            if subdomain
            else None
        )
        try:
            # A thread creating the sandbox cannot be cancelled: `terminate` waits for it, otherwise it
            # would leave a veth with a released IP on the bridge, answering for the next Pod given it.
            async with self._sandbox_lock:
                if self.stopping:
                    return
                ip = self.env.addresses.take()
                self.box = sandbox.Sandbox(uid=self.uid, ip=ip, directory=self.env.pods_dir / self.uid)
                await asyncio.to_thread(
                    sandbox.create, self.box, hostname=self.hostname, fqdn=fqdn, namespace=self.namespace
                )
        except RuntimeError as error:
            self.message = f"Failed to create pod sandbox: {error}"
            await self.env.event(self.pod, "Warning", "FailedCreatePodSandBox", self.message)
            self.changed()
            while not self.stopping:
                await asyncio.sleep(1)
            return
        if not await self._mount_volumes():
            return
        self.changed()
        try:
            for spec, status in zip(self.pod["spec"].get("initContainers") or [], self.init, strict=True):
                if status.sidecar:
                    # Started in order; the next init container waits until this one has started.
                    self._sidecar_tasks.append(asyncio.create_task(self._supervise(spec, status, init=True)))
                    if not await self._until_started(status):
                        return
                elif not await self._supervise(spec, status, init=True):
                    return
            await asyncio.gather(
                *(
                    self._supervise(spec, status, init=False)
                    for spec, status in zip(self.pod["spec"]["containers"], self.main, strict=True)
                )
            )
        finally:
            # The Pod's containers are done (or it stops): its sidecars go last, in reverse order.
            await self._stop_sidecars(self.grace)

    def update(self, pod: dict[str, Any]) -> None:
        """The Pod object changed: keep the newest (its generation is reported as observed) and apply
        changed container resources in place (the `resize` subresource)."""
        generation = self.pod["metadata"].get("generation")
        self.pod = pod
        if pod["metadata"].get("generation") != generation:
            self.changed()
        current = {status.name: status.resources for status in self.main}
        containers = pod["spec"].get("containers") or []
        if all((c.get("resources") or {}) == current.get(c["name"]) for c in containers):
            return
        decision = decide_resize(containers, current)
        for status in self.main:
            status.resources = decision.resources.get(status.name, status.resources)
        for name in decision.restart:
            run = self.runs.get(name)
            if run is not None and run.process is not None:
                run.restart_for_resize()
        log.info(
            '{"event": "pod-resized", "pod": "%s/%s", "restarted": "%s"}',
            self.namespace,
            self.name,
            ",".join(decision.restart),
        )
        self.changed()

    def container_started(self, status: ContainerStatus) -> None:
        """A container is `started` once running and past its startup probe, if it has one."""
        status.started = True
        self.changed()
        if status.name in self._started:
            self._started[status.name].set()

    async def _until_started(self, status: ContainerStatus) -> bool:
        started = asyncio.create_task(self._started[status.name].wait())
        stopped = asyncio.create_task(self._stopped.wait())
        await asyncio.wait((started, stopped), return_when=asyncio.FIRST_COMPLETED)
        for task in (started, stopped):
            task.cancel()
        return status.started and not self.stopping

    async def _stop_sidecars(self, grace: float) -> None:
        """Stop the sidecars once; a second caller waits for the first one's stop."""
        if not self._sidecar_tasks:
            return
        if self._sidecar_stop is None:
            self._sidecars_stopping = True
            self._sidecar_stop = asyncio.create_task(self._stop_sidecars_in_reverse(grace))
        await asyncio.shield(self._sidecar_stop)

    async def _stop_sidecars_in_reverse(self, grace: float) -> None:
        deadline = asyncio.get_running_loop().time() + grace
        for status in reversed([s for s in self.init if s.sidecar]):
            run = self.runs.get(status.name)
            if run is not None:
                # Kubelet gives each sidecar what is left of the grace period, at least 2 s.
                await run.stop(max(deadline - asyncio.get_running_loop().time(), 2.0))
        await asyncio.gather(*self._sidecar_tasks, return_exceptions=True)

    async def _mount_volumes(self) -> bool:
        """Set up the volumes, retrying with back-off as kubelet does (a ConfigMap such as
        kube-root-ca.crt may appear only after the Pod); False if the Pod stopped first."""
        delay = MOUNT_RETRY_INITIAL
        while not self.stopping:
            try:
                # Inside the sandbox lock: `terminate` must not tear the sandbox down under a mount.
                async with self._sandbox_lock:
                    if self.stopping:
                        return False
                    sources = await self.env.sources(self.pod, tokens=True)
                    await asyncio.to_thread(sandbox.materialize_volumes, self.box, self.pod, sources)
                if self.message is not None:
                    self.message = None
                    self.changed()
                return True
            except (sandbox.VolumeError, RuntimeError, ApiError) as error:
                message = f"MountVolume.SetUp failed: {error}"
                if message != self.message:
                    self.message = message
                    await self.env.event(self.pod, "Warning", "FailedMount", message)
                    self.changed()
            slept = 0.0
            while slept < delay and not self.stopping:
                await asyncio.sleep(0.1)
                slept += 0.1
            delay = min(delay * 2, MOUNT_RETRY_MAX)
        return False

    def _halted(self, status: ContainerStatus) -> bool:
        """No (re)start of this container: the Pod stops, or its sidecars are being stopped."""
        return self.stopping or (status.sidecar and self._sidecars_stopping)

    async def _supervise(self, spec: dict[str, Any], status: ContainerStatus, *, init: bool) -> bool:
        """Run a container under the restart policy; True when an init container completed."""
        delay = BACKOFF_INITIAL
        while not self.stopping:
            run = ContainerRun(self, spec_of(self.pod, spec["name"]) or spec, status, init=init)
            self.runs[spec["name"]] = run
            code = await run.run_once()
            if self._halted(status):
                status.will_restart = False
                break
            if run.resized:
                # Restarted for an in-place resize whose resizePolicy asks for it: at once, whatever
                # the restart policy, and counted as a restart (kubelet's rule).
                status.last_state = {k: v for k, v in status.state.items() if k == "terminated"}
                status.restart_count += 1
                self.changed()
                continue
            # A sidecar is restarted whatever the Pod's restart policy and its exit code.
            restart = status.sidecar or (
                (self.restart_policy == "Always" and not init)
                or (self.restart_policy in ("Always", "OnFailure") and code != 0)
            )
            status.will_restart = restart
            if init and not status.sidecar and code == 0:
                self.changed()
                return True
            if not restart:
                self.changed()
                return False
            status.last_state = {k: v for k, v in status.state.items() if k == "terminated"}
            status.restart_count += 1
            status.state = {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": f"back-off {delay:.0f}s restarting failed container={spec['name']} pod={self.name}",
                }
            }
            self.changed()
            await self.env.event(
                self.pod, "Warning", "BackOff", f"Back-off restarting failed container {spec['name']}"
            )
            slept = 0.0
            while slept < delay and not self._halted(status):
                await asyncio.sleep(0.5)
                slept += 0.5
            delay = min(delay * 2, BACKOFF_MAX)
        return False

    async def terminate(self, grace: float | None = None) -> None:
        """Stop every container (SIGTERM to its session, SIGKILL after the grace period), then clean up."""
        self.stopping = True
        wait = self.grace if grace is None else grace
        started = asyncio.get_running_loop().time()
        sidecars = {status.name for status in self.init if status.sidecar}
        await asyncio.gather(
            *(run.stop(wait) for name, run in list(self.runs.items()) if name not in sidecars)
        )
        await self._stop_sidecars(wait - (asyncio.get_running_loop().time() - started))
        async with self._sandbox_lock:
            await asyncio.to_thread(sandbox.destroy, self.box)
            if self.box.ip:
                self.env.addresses.release(self.box.ip)
                self.box = sandbox.Sandbox(uid=self.uid, ip="", directory=self.box.directory)

    def log_file(self, container: str, previous: bool = False) -> Path | None:
        folder = self.box.container_dir(container)
        logs = sorted(folder.glob("*.log"), key=lambda p: int(p.stem)) if folder.exists() else []
        if previous:
            return logs[-2] if len(logs) > 1 else None
        return logs[-1] if logs else None

    def pid(self, container: str) -> int | None:
        run = self.runs.get(container)
        if run and run.process and run.process.returncode is None:
            return run.process.pid
        return None


OPERATOR_IMAGE = "raykopf/operator"  # the Dockerfile's `operator` target


def image_repository(image: str) -> str:
    """`registry:5000/a/b:tag@sha256:...` -> `registry:5000/a/b`."""
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def spec_of(pod: dict[str, Any], name: str) -> dict[str, Any] | None:
    """A container's current spec (its resources change with an in-place resize)."""
    spec = pod["spec"]
    return next(
        (c for c in (spec.get("initContainers") or []) + spec["containers"] if c["name"] == name), None
    )


def is_sidecar(container: dict[str, Any]) -> bool:
    """A native sidecar: an init container with `restartPolicy: Always`."""
    return container.get("restartPolicy") == "Always"


def is_operator_image(image: str) -> bool:
    return image_repository(image).endswith(OPERATOR_IMAGE)


def runtime_path(runtime_bin: Path) -> str:
    """The runtime environment first, as if it were the image's own Python."""
    return f"{runtime_bin}:{DEFAULT_PATH}"
