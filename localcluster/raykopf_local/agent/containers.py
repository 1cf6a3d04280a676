"""Pure container semantics: environment resolution, `$(VAR)` expansion, command lines, probes.

Inputs are the pod and the ConfigMaps/Secrets it references (already fetched), so everything here is
testable without a cluster.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Any

from raykopf.quantity import parse as parse_quantity
from raykopf_local import settings

_VAR_REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)|\$\$")


class ConfigError(Exception):
    """A container cannot be configured (kubelet's CreateContainerConfigError)."""


@dataclass
class Sources:
    """ConfigMaps and Secrets of the pod's namespace, by name (data already decoded)."""

    config_maps: dict[str, dict[str, str]] = field(default_factory=dict)
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    # Service account tokens for projected volumes, by `token_key` of their source.
    tokens: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def token_key(source: dict[str, Any]) -> str:
        """A projected serviceAccountToken source's identity: its audience and lifetime."""
        return f"{source.get('audience', '')}/{int(source.get('expirationSeconds', 3600))}"

    @staticmethod
    def decode_secret(secret: dict[str, Any]) -> dict[str, str]:
        data = {
            k: base64.b64decode(v).decode(errors="replace") for k, v in (secret.get("data") or {}).items()
        }
        return {**data, **(secret.get("stringData") or {})}

    @staticmethod
    def config_map_data(config_map: dict[str, Any]) -> dict[str, str]:
        binary = {
            k: base64.b64decode(v).decode(errors="replace")
            for k, v in (config_map.get("binaryData") or {}).items()
        }
        return {**binary, **(config_map.get("data") or {})}


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' `$(VAR)` expansion: unknown references stay as written, `$$` escapes `$`."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))

    return _VAR_REFERENCE.sub(replace, text)


def field_ref(pod: dict[str, Any], path: str) -> str:
    meta, spec, status = pod.get("metadata", {}), pod.get("spec", {}), pod.get("status", {})
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.hostIP": status.get("hostIP", settings.BRIDGE_IP),
        "status.podIP": status.get("podIP", ""),
        "status.podIPs": status.get("podIP", ""),
    }
    if path in simple:
        return str(simple[path])
    match = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
    if match:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    if path in ("metadata.labels", "metadata.annotations"):
        values = meta.get(path.split(".")[1]) or {}
        return "\n".join(f'{k}="{v}"' for k, v in sorted(values.items()))
    raise ConfigError(f"unsupported fieldRef fieldPath {path!r}")


def downward_api_files(pod: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, str]:
    """The files of a downwardAPI volume or projection: path -> content, as kubelet writes them."""
    files = {}
    for item in items:
        if "fieldRef" in item:
            files[item["path"]] = field_ref(pod, item["fieldRef"]["fieldPath"])
        elif "resourceFieldRef" in item:
            ref = item["resourceFieldRef"]
            target = next((c for c in _all_containers(pod) if c["name"] == ref.get("containerName")), None)
            if target is None:
                raise ConfigError(f"resourceFieldRef: container {ref.get('containerName')!r} not found")
            files[item["path"]] = resource_ref(target, ref)
    return files


def quantity(value: Any) -> float:
    """A Kubernetes quantity as a number (cores for CPU, bytes for memory)."""
    return float(parse_quantity(value))


def resource_ref(container: dict[str, Any], ref: dict[str, Any]) -> str:
    kind, _, name = ref["resource"].partition(".")
    value = ((container.get("resources") or {}).get(kind) or {}).get(name)
    if value is None:
        value = {"cpu": 2, "memory": 24 * 2**30, "ephemeral-storage": 50 * 2**30}.get(
            name, 0
        )  # node capacity
    divisor = quantity(ref.get("divisor", 1) or 1)
    amount = quantity(value) / divisor
    return str(int(-(-amount // 1)))  # kubelet rounds up


def container_env(
    pod: dict[str, Any], container: dict[str, Any], sources: Sources, *, base: dict[str, str]
) -> dict[str, str]:
    """The container's environment, in kubelet's order: service links, envFrom, then env."""
    env = dict(base)
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        if "configMapRef" in source:
            ref = source["configMapRef"]
            data = sources.config_maps.get(ref["name"])
            if data is None and not ref.get("optional"):
                raise ConfigError(f'configmap "{ref["name"]}" not found')
        else:
            ref = source["secretRef"]
            data = sources.secrets.get(ref["name"])
            if data is None and not ref.get("optional"):
                raise ConfigError(f'secret "{ref["name"]}" not found')
        env.update({prefix + k: v for k, v in (data or {}).items()})
    for var in container.get("env") or []:
        name = var["name"]
        if "value" in var or "valueFrom" not in var:
            env[name] = expand(str(var.get("value", "")), env)
            continue
        source = var["valueFrom"]
        if "fieldRef" in source:
            env[name] = field_ref(pod, source["fieldRef"]["fieldPath"])
        elif "resourceFieldRef" in source:
            ref = source["resourceFieldRef"]
            target = next(
                (c for c in _all_containers(pod) if c["name"] == ref.get("containerName")), container
            )
            env[name] = resource_ref(target, ref)
        elif "configMapKeyRef" in source or "secretKeyRef" in source:
            is_map = "configMapKeyRef" in source
            ref = source["configMapKeyRef" if is_map else "secretKeyRef"]
            data = (sources.config_maps if is_map else sources.secrets).get(ref["name"])
            what = "configmap" if is_map else "secret"
            if data is None or ref["key"] not in data:
                if ref.get("optional"):
                    continue
                missing = (
                    f'{what} "{ref["name"]}" not found'
                    if data is None
                    else f"couldn't find key {ref['key']} in {what} {ref['name']}"
                )
                raise ConfigError(missing)
            env[name] = data[ref["key"]]
        else:
            raise ConfigError(f"env {name}: unsupported valueFrom {sorted(source)}")
    return env


def _all_containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod.get("spec", {})
    return list(spec.get("initContainers") or []) + list(spec.get("containers") or [])


def command_line(container: dict[str, Any], env: dict[str, str]) -> list[str]:
    """command + args with `$(VAR)` expanded. Images are not pulled, so a command must be given."""
    argv = [expand(str(a), env) for a in (container.get("command") or []) + (container.get("args") or [])]
    if not container.get("command"):
        raise ConfigError(
            "the container has no command: images cannot be pulled here, so the node agent cannot know the "
            "image's entrypoint; set `command`"
        )
    return argv


def service_env(services: list[dict[str, Any]]) -> dict[str, str]:
    """Docker-link style variables kubelet sets for the Services of the namespace (and `kubernetes`)."""
    env: dict[str, str] = {}
    for service in services:
        spec = service.get("spec", {})
        ip = spec.get("clusterIP")
        if not ip or ip == "None":
            continue
        prefix = service["metadata"]["name"].upper().replace("-", "_")
        ports = spec.get("ports") or []
        if not ports:
            continue
        env[f"{prefix}_SERVICE_HOST"] = ip
        env[f"{prefix}_SERVICE_PORT"] = str(ports[0]["port"])
        for port in ports:
            if port.get("name"):
                env[f"{prefix}_SERVICE_PORT_{port['name'].upper().replace('-', '_')}"] = str(port["port"])
    return env


@dataclass(frozen=True)
class Probe:
    """A probe with kubelet's defaults filled in."""

    kind: str  # exec | httpGet | tcpSocket
    spec: dict[str, Any]
    initial_delay: float
    period: float
    timeout: float
    success_threshold: int
    failure_threshold: int

    @classmethod
    def parse(cls, probe: dict[str, Any] | None) -> Probe | None:
        if not probe:
            return None
        kind = next((k for k in ("exec", "httpGet", "tcpSocket", "grpc") if k in probe), None)
        if kind is None:
            return None
        return cls(
            kind=kind,
            spec=probe[kind],
            initial_delay=float(probe.get("initialDelaySeconds", 0)),
            period=float(probe.get("periodSeconds", 10)),
            timeout=float(probe.get("timeoutSeconds", 1)),
            success_threshold=int(probe.get("successThreshold", 1)),
            failure_threshold=int(probe.get("failureThreshold", 3)),
        )


def resolve_port(port: Any, container: dict[str, Any]) -> int:
    """A probe or Service port given as a number or as the name of a container port."""
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for declared in container.get("ports") or []:
        if declared.get("name") == port:
            return int(declared["containerPort"])
    raise ConfigError(f"port {port!r} is not a named port of container {container.get('name')!r}")
