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


def head_pod_prefix(cluster: str) -> str:
    return check_name(f"{cluster}-{c.HEAD_NODE}-")


def head_pod_name(cluster: str) -> str:
    """The fixed head Pod name when ENABLE_DETERMINISTIC_HEAD_POD_NAME is on."""
    return check_name(f"{cluster}-{c.HEAD_NODE}")


def worker_pod_prefix(cluster: str, group: str) -> str:
    return check_name(f"{cluster}-{group}-{c.WORKER_NODE}-")


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
