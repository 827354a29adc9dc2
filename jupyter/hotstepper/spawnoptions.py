"""The spawn options a user submits, checked by the Hotstepper companion before anything starts.

The companion owns the options schema (GET /api/v1/spawn/options) and checks each spawn request
(POST /api/v1/spawn/check): this module turns what the hub received (a form POST or the REST API's
JSON body) into that request, asks the companion, and turns its answer into KubeSpawner settings
or a refusal a person can read. No kubespawner import here, so it is testable without a cluster.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

# Form fields that are lists in a SpawnRequest; every other field is one value.
LIST_FIELDS = ("volumes",)
NUMBER_FIELDS = ("cpu", "memory")
# Volumes the check adds are named so, apart from the operator's own (the home).
VOLUME_PREFIX = "hs-spawn-"


class Refusal(Exception):
    """A spawn that must not start; the message is for the user, as it is."""


def request_from_form(form: dict[str, list[str]]) -> dict:
    """A SpawnRequest from the spawn form's fields (each a list of strings, as the hub gives).

    gpu is "model:<model>" or "mig:<profile>" (empty: none). A number that does not parse stays
    text, so the companion's validation names the field rather than this code guessing.
    """
    out: dict = {}
    for key, values in form.items():
        values = [v.strip() for v in values if v.strip()]
        if key in LIST_FIELDS:
            out[key] = values
        elif not values:
            continue
        elif key in NUMBER_FIELDS:
            try:
                out[key] = float(values[0])
            except ValueError:
                out[key] = values[0]
        elif key == "gpu":
            kind, _, value = values[0].partition(":")
            out["gpu"] = {"mig" if kind == "mig" else "model": value}
        else:
            out[key] = values[0]
    return out


def spawn_request(user_options: dict, server_name: str) -> dict:
    """What the spawner sends: the user's options for this server, checked for a spawn."""
    request = {k: v for k, v in (user_options or {}).items() if k not in ("server", "spawning")}
    request["server"] = server_name or ""
    request["spawning"] = True
    return request


def refusal_message(status: int, body: bytes | str | None) -> str:
    """The companion's answer to a check that did not pass, as one sentence for the user."""
    try:
        problem = json.loads(body or b"{}")
    except ValueError:
        problem = {}
    detail = problem.get("detail") if isinstance(problem, dict) else None
    if status == 422 and detail:
        return detail
    if status == 400 and detail:
        return f"The spawn options are not valid: {detail}"
    reason = detail or f"it answered {status}"
    return f"The spawn options could not be checked by the Hotstepper companion: {reason}"


@dataclass
class PodSettings:
    """The companion's resolved settings, as KubeSpawner traits."""

    image: str
    cpu: float
    mem: int
    extra_resource_limits: dict
    node_selector: dict
    volumes: list
    volume_mounts: list
    fresh_home: bool


def pod_settings(check: dict) -> PodSettings:
    """KubeSpawner traits from a SpawnCheck: cpu and mem are the limits the user chose."""
    pod = check["pod"]
    volumes, mounts = [], []
    for v in pod.get("volumes", []):
        name = VOLUME_PREFIX + v["name"]
        claim = {"claimName": v["claimName"], "readOnly": bool(v["readOnly"])}
        volumes.append({"name": name, "persistentVolumeClaim": claim})
        mounts.append({"name": name, "mountPath": v["mountPath"], "readOnly": bool(v["readOnly"])})
    return PodSettings(
        image=pod["image"],
        cpu=float(pod["cpu"]),
        mem=int(pod["memoryBytes"]),
        extra_resource_limits=dict(pod.get("extraResourceLimits", {})),
        node_selector=dict(pod.get("nodeSelector", {})),
        volumes=volumes,
        volume_mounts=mounts,
        fresh_home=bool(pod.get("freshHome")),
    )
