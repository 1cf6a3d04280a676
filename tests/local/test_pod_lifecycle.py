"""A pod's sandbox and address on the node agent: torn down once, after it exists; addresses not reused early."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from raykopf_local.agent import pods, sandbox
from raykopf_local.agent.containers import Sources
from raykopf_local.agent.node import ProcessNode


def test_addresses_are_handed_out_in_turn_and_a_released_one_only_when_none_is_fresh() -> None:
    pool = sandbox.AddressPool(start="198.18.0.2", end="198.18.0.4")
    first = pool.take()
    pool.release(first)
    assert [pool.take(), pool.take()] == ["198.18.0.3", "198.18.0.4"]
    assert pool.take() == first
    with pytest.raises(RuntimeError, match="no Pod IP left"):
        pool.take()


def _pod() -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "namespace": "ns", "uid": "0123456789abcdef"},
        "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "60"]}]},
    }


async def _nothing(*_: Any) -> None:
    return None


async def _no_sources(_: dict[str, Any], **__: Any) -> Sources:
    return Sources()


def _environment(pods_dir: Path, pool: sandbox.AddressPool) -> pods.PodEnvironment:
    return pods.PodEnvironment(
        node_name="n",
        pods_dir=pods_dir,
        runtime_path="/bin",
        addresses=pool,
        report=_nothing,
        event=_nothing,
        sources=_no_sources,
        service_env=lambda _: {},
    )


def test_a_pod_deleted_while_its_sandbox_is_being_created_is_torn_down_after_the_creation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps: list[str] = []

    def create(box: sandbox.Sandbox, **_: Any) -> None:
        steps.append(f"create {box.ip}")
        time.sleep(0.3)  # `ip netns add`, veth, addresses: a thread nobody can cancel
        steps.append("created")

    def destroy(box: sandbox.Sandbox) -> None:
        steps.append(f"destroy {box.ip}")

    monkeypatch.setattr(sandbox, "create", create)
    monkeypatch.setattr(sandbox, "destroy", destroy)
    monkeypatch.setattr(sandbox, "materialize_volumes", lambda *_: None)
    pool = sandbox.AddressPool(start="198.18.0.2", end="198.18.0.3")
    env = _environment(tmp_path, pool)

    async def scenario() -> None:
        worker = pods.PodWorker(env, _pod())
        task = asyncio.create_task(worker.run())
        await asyncio.sleep(0.1)
        await worker.terminate(grace=0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    assert steps == ["create 198.18.0.2", "created", "destroy 198.18.0.2"]
    assert pool._released == ["198.18.0.2"]


def test_a_pod_deleted_before_its_sandbox_exists_gets_no_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    created: list[str] = []
    monkeypatch.setattr(sandbox, "create", lambda box, **_: created.append(box.ip))
    monkeypatch.setattr(sandbox, "destroy", lambda box: None)
    pool = sandbox.AddressPool(start="198.18.0.2", end="198.18.0.3")
    env = _environment(tmp_path, pool)

    async def scenario() -> None:
        worker = pods.PodWorker(env, _pod())
        await worker.terminate(grace=0)
        await worker.run()

    asyncio.run(scenario())
    assert created == []
    assert pool.take() == "198.18.0.2"


class _Deletes:
    """A KubeClient stand-in that records DELETE calls."""

    def __init__(self) -> None:
        self.deleted: list[str] = []

    async def delete(self, path: str, body: Any = None) -> None:
        self.deleted.append(path)


class _SlowWorker:
    def __init__(self) -> None:
        self.stopping, self.stopped = False, False

    async def terminate(self, grace: float) -> None:
        self.stopping = True
        await asyncio.sleep(0.2)  # the containers' grace period
        self.stopped = True


def test_a_deleted_pod_object_is_removed_only_after_its_processes_stopped(tmp_path: Path) -> None:
    client = _Deletes()
    node = ProcessNode(client, "n", tmp_path, tmp_path, {})  # type: ignore[arg-type]
    pod = _pod()
    pod["metadata"].update(deletionTimestamp="2026-11-29T09:00:00Z", deletionGracePeriodSeconds=1)
    worker = _SlowWorker()
    node.workers[pod["metadata"]["uid"]] = worker  # type: ignore[assignment]
    seen: list[tuple[bool, list[str]]] = []

    async def scenario() -> None:
        await node.on_pod("MODIFIED", pod)
        await asyncio.sleep(0.05)
        await node.on_pod("MODIFIED", pod)  # another update while the containers still stop
        await asyncio.sleep(0.05)
        seen.append((worker.stopped, list(client.deleted)))
        await asyncio.sleep(0.4)

    asyncio.run(scenario())
    assert seen == [(False, [])]
    assert worker.stopped
    assert client.deleted == ["/api/v1/namespaces/ns/pods/p"]


def test_no_container_starts_once_its_pod_is_stopping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped while its ConfigMaps were being fetched: a process started then would outlive the Pod."""
    spawned: list[Any] = []

    async def spawn(*argv: Any, **_: Any) -> None:
        spawned.append(argv)

    monkeypatch.setattr(asyncio, "create_subprocess_exec", spawn)
    worker = pods.PodWorker(_environment(tmp_path, sandbox.AddressPool()), _pod())
    worker.box = sandbox.Sandbox(uid=worker.uid, ip="198.18.0.2", directory=tmp_path / worker.uid)
    run = pods.ContainerRun(worker, _pod()["spec"]["containers"][0], worker.main[0], init=False)
    worker.stopping = True
    assert asyncio.run(run.run_once()) == -1
    assert spawned == []
    assert run.process is None
