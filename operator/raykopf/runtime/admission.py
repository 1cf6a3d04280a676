"""The validating admission webhook, served with kopf's admission support (`kopf.on.validate`) on
every replica, leader or standby, so that `kubectl apply` keeps its answers across a leader hand-over.

It runs `raykopf.validation` (what `raykopf validate` and the controllers run): a manifest with an
error is refused with every problem and its field path; warnings go back as admission warnings, which
kubectl prints. The paths and webhook names are KubeRay's (`/validate-ray-io-v1-raycluster`,
`vraycluster.kb.io`, ...), so a webhook configuration written for KubeRay's works unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kopf

from raykopf import constants as c
from raykopf.k8s import webhook_certs
from raykopf.k8s.client import KubeClient
from raykopf.runtime.serving import split_address
from raykopf.validation import Gates, validate, validate_update

log = logging.getLogger("raykopf.webhook")

PLURALS = {"RayCluster": "rayclusters", "RayJob": "rayjobs", "RayService": "rayservices"}
DEFAULT_CERT_DIR = Path(c.WEBHOOK_CERT_DIR)
DEFAULT_PORT = c.WEBHOOK_PORT
CA_CHECK_SECONDS = 300  # how often the CA in the webhook configuration is checked (self-signed mode)


def path_of(kind: str) -> str:
    """KubeRay's webhook path for `kind` (kubebuilder's `/validate-<group>-<version>-<kind>`)."""
    return f"validate-ray-io-v1-{kind.lower()}"


@dataclass(frozen=True)
class WebhookOptions:
    """Where and with which certificate the webhook is served.

    `cert_dir` holds tls.crt and tls.key (a cert-manager Secret mounted there, or your own). With
    `secret`, the operator makes them itself instead (kept in that Secret, in `namespace`) and writes
    its CA into the ValidatingWebhookConfiguration `configuration`.
    """

    address: str = f":{DEFAULT_PORT}"
    cert_dir: Path = DEFAULT_CERT_DIR
    secret: str = ""
    configuration: str = ""
    service: str = ""
    namespace: str = "default"


def review(
    operation: str, new: dict[str, Any], old: dict[str, Any] | None, gates: Gates
) -> tuple[list[str], list[str]]:
    """The errors that refuse the request and the warnings that go back with it.

    An update is refused only for an error the object did not have before: an object made invalid
    before the webhook existed can still be fixed a field at a time, get and lose finalizers, and be
    scaled by the autoscaler; its older errors come back as warnings.
    """
    if operation == "UPDATE" and old is not None:
        problems = validate_update(old, new, gates)
        before = {str(problem) for problem in validate(old, gates) if problem.is_error}
    else:
        problems, before = validate(new, gates), set()
    errors = [str(p) for p in problems if p.is_error and str(p) not in before]
    warnings = [str(p) for p in problems if not p.is_error]
    warnings += [f"still invalid (not changed by this update): {p}" for p in problems if str(p) in before]
    return errors, warnings


def denial(kind: str, name: str, errors: list[str]) -> str:
    """The apiserver's own form for an invalid object (`<Kind>.<group> "<name>" is invalid: ...`)."""
    return f'{kind}.{c.GROUP} "{name}" is invalid: ' + "; ".join(errors)


def admission_registry(gates: Gates) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    for kind, plural in PLURALS.items():
        kopf.on.validate(
            c.GROUP,
            "v1",
            plural,
            id=path_of(kind),
            registry=registry,
            operations=["CREATE", "UPDATE"],
            persistent=True,
        )(_handler(kind, gates))
    return registry


def _handler(kind: str, gates: Gates) -> Callable[..., None]:
    def check(
        body: kopf.Body,
        old: Any,
        operation: str | None,
        warnings: list[str],
        name: str | None,
        namespace: str | None,
        **_: Any,
    ) -> None:
        errors, said = review(operation or "CREATE", _plain(body), _plain(old) if old else None, gates)
        warnings.extend(said)
        if errors:
            log.info(
                "refused at admission",
                extra={
                    "kind": kind,
                    "object": f"{namespace}/{name}",
                    "operation": operation,
                    "errors": len(errors),
                },
            )
            raise kopf.AdmissionError(denial(kind, name or "", errors), code=422)

    return check


def _plain(body: Any) -> dict[str, Any]:
    """kopf's read-only views as the plain dicts validation reads."""
    return {key: body[key] for key in body}


async def certificate_files(
    client: KubeClient, options: WebhookOptions, cluster_domain: str
) -> tuple[Path, Path, bytes | None]:
    """tls.crt and tls.key to serve with, and the CA to write into the configuration (self-signed)."""
    if not options.secret:
        cert, key = options.cert_dir / "tls.crt", options.cert_dir / "tls.key"
        for path in (cert, key):
            if not path.is_file():
                raise RuntimeError(
                    f"webhook: {path} is missing: mount the webhook's certificate Secret (tls.crt, tls.key) at "
                    f"{options.cert_dir}, or give --webhook-cert-secret so that the operator makes one"
                )
        return cert, key, None
    names = webhook_certs.service_names(
        options.service or "raykopf-webhook", options.namespace, cluster_domain
    )
    made = await webhook_certs.ensure_secret(client, options.namespace, options.secret, names)
    cert, key = await asyncio.to_thread(made.write, _writable_or_temporary(options.cert_dir))
    return cert, key, made.ca


def _writable_or_temporary(folder: Path) -> Path:
    """`folder`, or a fresh temporary one where it cannot be written (a read-only root filesystem
    with nothing mounted there)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError:
        return Path(tempfile.mkdtemp(prefix="raykopf-webhook-"))
    return folder


async def keep_ca_bundle(client: KubeClient, configuration: str, ca: bytes, stop: asyncio.Event) -> None:
    """The CA in the configuration, now and every CA_CHECK_SECONDS (a re-created configuration, from
    a GitOps sync or `helm upgrade --force`, gets it back)."""
    missing_said = False
    while not stop.is_set():
        try:
            present = await webhook_certs.inject_ca_bundle(client, configuration, ca) is not None
            if not present and not missing_said:
                log.warning(
                    "the webhook configuration is not there: nothing calls the webhook",
                    extra={"configuration": configuration},
                )
            missing_said = not present
        except Exception as error:  # a failed check is tried again; the webhook keeps serving
            log.warning(
                "could not write the webhook CA", extra={"configuration": configuration, "error": str(error)}
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), CA_CHECK_SECONDS)


class ClosingWebhookServer(kopf.WebhookServer):
    """kopf's webhook server with every answer closing its connection. The apiserver would otherwise
    keep its connection to a Pod and send over it after the Pod left the Service; when that Pod's
    server closes it, the request in flight fails (`EOF`), and the apiserver retries a webhook call
    only on a reset connection. A new connection per request (a TLS handshake: about a millisecond)
    always reaches a Pod the Service still routes to."""

    async def _serve(self, fn: Any, request: Any) -> Any:  # type: ignore[override]
        response = await kopf.WebhookServer._serve(fn, request)
        response.force_close()
        return response


async def serve_admission(
    client: KubeClient,
    options: WebhookOptions,
    gates: Gates,
    cluster_domain: str,
    login: Callable[..., Awaitable[kopf.AiohttpSession]],
    stop: asyncio.Event,
) -> None:
    """kopf's admission server for the three kinds until `stop`."""
    cert, key, ca = await certificate_files(client, options, cluster_domain)
    host, port = split_address(options.address, DEFAULT_PORT)
    registry = admission_registry(gates)

    kopf.on.login(registry=registry, id="login")(login)

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.posting.enabled = False
        settings.scanning.disabled = True  # the ray.io kinds are discovered once, at start
        # The configuration is the chart's (failurePolicy, namespaceSelector, timeout are the user's);
        # kopf only serves. It re-reads the files when they change (cert-manager's renewals).
        settings.admission.managed = None
        settings.admission.server = ClosingWebhookServer(
            addr=host, port=port, certfile=str(cert), pkeyfile=str(key)
        )

    tasks = []
    if ca is not None and options.configuration:
        tasks.append(asyncio.create_task(keep_ca_bundle(client, options.configuration, ca, stop)))
    log.info("serving the admission webhook", extra={"address": f"{host}:{port}", "kinds": list(PLURALS)})
    try:
        await kopf.operator(registry=registry, standalone=True, clusterwide=True, stop_flag=stop)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def wait_listening(address: str, stop: asyncio.Event) -> None:
    """Until the webhook's port takes connections (or `stop`): kopf opens it only after discovering
    the ray.io kinds, a moment after it says it started."""
    host, port = split_address(address, DEFAULT_PORT)
    target = "127.0.0.1" if host in ("", "0.0.0.0") else "::1" if host == "::" else host
    while not stop.is_set():
        try:
            _, writer = await asyncio.open_connection(target, port)
        except OSError:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.2)
            continue
        writer.close()
        return
