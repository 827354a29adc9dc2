"""Why a user's server pod will not start, in words a person understands (hotstepper/spawner.py).

Plain functions over a pod as the Kubernetes API returns it (camelCase keys, as KubeSpawner's pod
reflector holds it), with no import of KubeSpawner or Kubernetes, so that they are tested alone
(jupyter/tests/test_spawnfaults.py).

What the user reads never holds a traceback or a path on a server: the kubelet's and the
registry's messages and a container's log are trimmed of both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Optional

# The kubelet could not get the image: it will not start however long the hub waits.
PULL_REASONS = {"ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "RegistryUnavailable"}
BAD_NAME_REASONS = {"InvalidImageName"}
# The kubelet could not make or start the container from the pod's spec.
CREATE_REASONS = {"CreateContainerConfigError", "CreateContainerError", "RunContainerError"}

MAX_DETAIL = 400
LOG_LINES = 5
MAX_LOG_LINE = 200

_RPC_PREFIX = re.compile(r"^rpc error: code = \w+ desc = ")
_PULL_EVENT_PREFIX = re.compile(r'^Failed to pull image "[^"]*": ')
# An absolute path (two segments or more), not the path of an image reference or a URL's host
# ("127.0.0.1:5000/notebook", "https://registry/v2/...": what precedes the slash rules them out).
_PATH = re.compile(r"(?<![\w.:/@-])/(?:[\w.@+-]+/)+[\w.@+-]*")
_TRACEBACK = "Traceback (most recent call last)"


@dataclass
class Fault:
    """A pod that will not become a running server: `kind` is "image" (pull or name), "exited"
    (its container ended or crash-loops), "create" (the kubelet could not make the container)
    or "failed" (the pod itself failed, e.g. evicted). `container` names the container at fault;
    for "exited", the caller appends the tail of its log."""

    kind: str
    message: str
    container: Optional[str] = None
    previous: bool = False  # "exited": the log is that of the container's previous run


def scrub(text: str, limit: int = MAX_DETAIL) -> str:
    """One line of at most `limit` characters, without paths on a server."""
    text = " ".join(_PATH.sub("…", str(text)).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def pull_detail(message: str, image: str = "") -> str:
    """The registry's own words from a kubelet's pull message or event, without the RPC wrapper
    nor the clauses that only repeat the image's name ("failed to resolve reference "<image>": ")."""
    message = _PULL_EVENT_PREFIX.sub("", (message or "").strip())
    message = _RPC_PREFIX.sub("", message)
    if image:
        clause = re.compile(r'^[^":]*"?' + re.escape(image) + r'"?: ')
        while clause.match(message):
            message = clause.sub("", message, count=1)
    return message


def _images(pod: dict) -> dict:
    spec = pod.get("spec") or {}
    containers = (spec.get("initContainers") or []) + (spec.get("containers") or [])
    return {c.get("name"): c.get("image") for c in containers}


def _statuses(pod: dict) -> Iterable[dict]:
    status = pod.get("status") or {}
    yield from status.get("initContainerStatuses") or []
    yield from status.get("containerStatuses") or []


def remember_pull_messages(pod: dict, remembered: dict) -> None:
    """Keep each container's last ErrImagePull message: ImagePullBackOff, which follows, says only
    "Back-off pulling image", not why."""
    for status in _statuses(pod):
        waiting = (status.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in PULL_REASONS - {"ImagePullBackOff"} and waiting.get("message"):
            remembered[status.get("name")] = waiting["message"]


def _exit_words(terminated: dict) -> str:
    reason = terminated.get("reason") or "Error"
    code = terminated.get("exitCode")
    words = f"{reason}, exit code {code}" if code is not None else reason
    signal = terminated.get("signal")
    if signal:
        words += f", signal {signal}"
    if terminated.get("message"):
        words += f": {scrub(terminated['message'])}"
    return words


def pod_fault(
    pod: Optional[dict],
    remembered: Optional[dict] = None,
    pull_events: Iterable[str] = (),
) -> Optional[Fault]:
    """The reason `pod` will not become a running server, if the kubelet has reported one.

    `remembered`: container name -> its last pull error message (remember_pull_messages);
    `pull_events`: messages of the pod's "Failed" events, oldest first, for when neither the
    status nor `remembered` says why a pull failed.
    """
    if not pod:
        return None
    remembered = remembered if remembered is not None else {}
    remember_pull_messages(pod, remembered)
    images = _images(pod)
    for status in _statuses(pod):
        name = status.get("name")
        image = images.get(name) or status.get("image") or "?"
        state = status.get("state") or {}
        waiting = state.get("waiting") or {}
        reason = waiting.get("reason")
        if reason in BAD_NAME_REASONS:
            detail = pull_detail(waiting.get("message") or "") or reason
            return Fault("image", f"The image name {image} is not valid: {scrub(detail)}", name)
        if reason in PULL_REASONS:
            message = waiting.get("message") if reason != "ImagePullBackOff" else None
            message = message or remembered.get(name)
            if not message:
                failed = [m for m in pull_events if "pull" in (m or "").lower()]
                message = failed[-1] if failed else ""
            detail = pull_detail(message, image) or reason
            return Fault("image", f"The image {image} could not be pulled: {scrub(detail)}", name)
        if reason in CREATE_REASONS:
            detail = scrub(pull_detail(waiting.get("message") or "") or reason)
            return Fault(
                "create", f"The server's container could not be started ({reason}): {detail}", name
            )
        terminated = state.get("terminated")
        last = (status.get("lastState") or {}).get("terminated")
        if terminated or last or reason == "CrashLoopBackOff":
            ended = terminated or last or {}
            return Fault(
                "exited",
                f"The server's container exited before the server started: {_exit_words(ended)}",
                name,
                previous=not terminated,
            )
    status = pod.get("status") or {}
    if status.get("phase") == "Failed":
        words = ": ".join(scrub(w) for w in (status.get("reason"), status.get("message")) if w)
        return Fault("failed", f"The server's pod failed: {words or 'no reason given'}")
    return None


def log_excerpt(text: Any, lines: int = LOG_LINES) -> str:
    """The last few lines of a container's log, for a person: a Python traceback is cut to its
    final line (the exception), paths on a server are left out, long lines are shortened."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    rows = [row.rstrip() for row in str(text or "").splitlines()]
    if any(_TRACEBACK in row for row in rows):
        start = max(i for i, row in enumerate(rows) if _TRACEBACK in row)
        before = rows[:start]
        after = [row for row in rows[start + 1 :] if row and not row[0].isspace()]
        rows = before + after
    rows = [scrub(row, MAX_LOG_LINE) for row in rows if row.strip()]
    return " | ".join(rows[-lines:])
