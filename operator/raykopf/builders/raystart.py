"""The `ray start` command line (≙ common.generateRayStartCommand and setMissingRayStartParams)."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from raykopf import constants as c
from raykopf import quantity
from raykopf.builders.gojson import go_json

# Flags whose true/false value must be written out (`--log-color=false` means something).
VALUED_BOOLEAN_FLAGS = ("log-color", "include-dashboard", "include-log-monitor")
_GPU_KEY = re.compile(r"(gpu$)|(^nvidia\.com/mig-\d+g\.\d+gb$)")
CUSTOM_ACCELERATORS = {"aws.amazon.com/neuroncore": "neuron_cores", "google.com/tpu": "TPU"}


def apply_group_resources(params: dict[str, str], resources: dict[str, str] | None) -> None:
    """The group's `resources` field overrides num-cpus, memory, num-gpus and custom resources
    (≙ common.updateRayStartParamsResources: names compared in lower case, whole numbers rounded up,
    a value that is not a quantity skipped)."""
    if not resources:
        return
    custom: dict[str, float] = {}
    for key, value in resources.items():
        try:
            amount = quantity.parse(value)
        except ValueError:
            continue
        name = key.lower()
        if name == "cpu":
            params["num-cpus"] = str(math.ceil(amount))
        elif name == "memory":
            params["memory"] = str(math.ceil(amount))
        elif _GPU_KEY.search(name):
            params["num-gpus"] = str(math.ceil(amount))
        else:
            custom[key] = float(amount)
    if custom:
        params["resources"] = f"'{go_json(custom)}'"


def apply_group_labels(params: dict[str, str], labels: dict[str, str] | None) -> None:
    if labels:
        params["labels"] = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def set_missing_params(params: dict[str, str], node_type: str, *, head_address: str) -> None:
    if node_type == c.WORKER_NODE:
        params.setdefault("address", head_address)
    else:
        params.setdefault("dashboard-host", "0.0.0.0")
    params.setdefault("metrics-export-port", str(c.DEFAULT_METRICS_PORT))
    params["block"] = "true"
    params.setdefault("dashboard-agent-listen-port", str(c.DEFAULT_DASHBOARD_AGENT_LISTEN_PORT))


def infer_resources(params: dict[str, str], container_resources: dict[str, Any]) -> None:
    """num-cpus, memory, num-gpus and accelerator resources from the Ray container's resources."""
    limits = container_resources.get("limits") or {}
    requests = container_resources.get("requests") or {}
    if "num-cpus" not in params:
        # The limit, or the request when the limit is absent or zero (≙ generateRayStartCommand).
        for cpu in (limits.get("cpu"), requests.get("cpu")):
            if cpu is not None and quantity.parse(cpu) != 0:
                params["num-cpus"] = str(quantity.ceil(cpu))
                break
    if "memory" not in params and limits.get("memory") is not None and quantity.ceil(limits["memory"]) != 0:
        params["memory"] = str(quantity.ceil(limits["memory"]))
    if not limits:
        return
    custom = _resources_map(params)
    if custom is None:
        return  # KubeRay logs the unreadable `resources` and adds neither GPUs nor accelerators
    accelerator_present = any(name in custom for name in CUSTOM_ACCELERATORS.values())
    for key in sorted(limits):
        value = limits[key]
        if "num-gpus" not in params and _GPU_KEY.search(key) and quantity.ceil(value) != 0:
            params["num-gpus"] = str(quantity.ceil(value))
        ray_name = CUSTOM_ACCELERATORS.get(key)
        if not accelerator_present and ray_name and quantity.parse(value) != 0:
            if ray_name not in custom:
                custom[ray_name] = float(quantity.parse(value))
                params["resources"] = f"'{go_json(custom)}'"
            accelerator_present = True


def _resources_map(params: dict[str, str]) -> dict[str, float] | None:
    """The `resources` parameter as Go's json.Unmarshal into map[string]float64 reads it, after
    trimming quotes; None when it cannot (KubeRay's getResourcesMap error)."""
    text = params.get("resources")
    if not text:
        return {}
    try:
        loaded = json.loads(text.strip("'\"` "))
    except ValueError:
        return None
    if not isinstance(loaded, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in loaded.values()
    ):
        return None
    return {str(k): float(v) for k, v in loaded.items()}


def flags(params: dict[str, str]) -> str:
    """` --k=v ` per flag in sorted order (KubeRay pads every flag with a space on both sides, so the
    line has double spaces between flags and a trailing space: kept byte for byte, since users grep
    and compare it); `true` is a bare flag and `false` drops it, except for valued booleans."""
    out = []
    for key in sorted(params):
        value = params[key]
        if value.lower() in ("true", "false") and key not in VALUED_BOOLEAN_FLAGS:
            if value.lower() == "true":
                out.append(f" --{key} ")
        else:
            out.append(f" --{key}={value} ")
    return "".join(out)


def ray_start_command(node_type: str, params: dict[str, str]) -> str:
    head = " --head" if node_type == c.HEAD_NODE else ""
    return f"ray start{head} {flags(params)}"
