"""Names of the objects the operator creates (≙ utils.CheckName and the Generate*Name helpers)."""

from __future__ import annotations

from raykopf import constants as c

# generateName prefixes leave room for the apiserver's 5-character suffix and the "-head"/"-worker" parts.
MAX_PREFIX_LENGTH = 50


def check_name(name: str) -> str:
    """KubeRay's CheckName: keep the last 50 characters; never start with a digit or punctuation."""
    if len(name) > MAX_PREFIX_LENGTH:
        name = name[len(name) - MAX_PREFIX_LENGTH :]
    if name and not name[0].isalpha():
        name = "r" + name[1:]
    return name


def pod_name(prefix: str, node_type: str, *, generated: bool) -> str:
    """KubeRay's utils.PodName: the first 50 characters of the prefix, then `-head` or `-worker`
    (and `-` before the apiserver's suffix), in lower case."""
    name = f"{prefix[:MAX_PREFIX_LENGTH]}-{node_type}".lower()
    return f"{name}-" if generated else name


def head_pod_prefix(cluster: str) -> str:
    return pod_name(cluster, c.HEAD_NODE, generated=True)


def head_pod_name(cluster: str) -> str:
    """The fixed head Pod name when ENABLE_DETERMINISTIC_HEAD_POD_NAME is on."""
    return pod_name(cluster, c.HEAD_NODE, generated=False)


def worker_pod_prefix(cluster: str, group: str) -> str:
    return pod_name(f"{cluster}-{group}", c.WORKER_NODE, generated=True)


def head_service(cluster: str) -> str:
    return f"{cluster}-head-svc"


def serve_service(owner: str) -> str:
    return f"{owner}-serve-svc"


def headless_worker_service(cluster: str) -> str:
    return f"{cluster}-headless"


def identifier(cluster: str, node_type: str) -> str:
    """Value of the ray.io/identifier label, cut to a valid label value."""
    value = f"{cluster}-{node_type}"[-63:]
    return value if value[0].isalnum() else "r" + value[1:]


def fqdn(service: str, namespace: str, domain: str) -> str:
    return f"{service}.{namespace}.svc.{domain}"


def redis_cleanup_job(cluster: str) -> str:
    """`<cluster>-redis-cleanup`, its tail kept within the 63 characters a label value allows."""
    name = f"{cluster}-redis-cleanup"
    name = name[-63:]
    return name if name[0].isalpha() else "r" + name[1:]
