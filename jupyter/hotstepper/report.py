"""Tell the companion what this server knows about itself: its listening ports and its kernels.

Every 30 s, and right after the server starts, this server sends ``PUT api/v1/me/server-report``
to the companion at ``HOTSTEPPER_URL`` with its own ``JUPYTERHUB_API_TOKEN``, server-side (not
through a browser, not through the hub, so it is not user activity). Flare reads the ports (a
route may only point at a port of its owner's server), the idle guard reads whether a kernel is
busy. The companion never asks a user's server anything: its own service token goes to the hub
API only. A companion that does not answer is logged at debug and tried again next time.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
from typing import Any

from tornado import httpclient, ioloop

from .ports import listening_ports
from .proxy import companion_request, companion_settings

REPORT_PATH = "api/v1/me/server-report"
DEFAULT_SECONDS = 30.0


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
    return None


def kernel_state(kernel_manager: Any) -> dict[str, Any]:
    """How many kernels run and are busy, and the newest kernel activity, from the kernel manager."""
    busy = count = 0
    latest: datetime.datetime | None = None
    for kernel_id in list(kernel_manager.list_kernel_ids()):
        try:
            kernel = kernel_manager.get_kernel(kernel_id)
        except KeyError:  # gone since we listed it
            continue
        count += 1
        if getattr(kernel, "execution_state", None) == "busy":
            busy += 1
        activity = getattr(kernel, "last_activity", None)
        if isinstance(activity, datetime.datetime):
            if activity.tzinfo is None:
                activity = activity.replace(tzinfo=datetime.timezone.utc)
            if latest is None or activity > latest:
                latest = activity
    return {"busy": busy, "count": count, "lastActivity": _iso(latest)}


def build_report(server_app: Any) -> dict[str, Any]:
    ports = [
        {k: v for k, v in p.items() if v not in ("", None)}
        for p in listening_ports(os.getpid(), {server_app.port})
    ]
    return {
        "server": os.environ.get("JUPYTERHUB_SERVER_NAME", ""),
        "ports": ports[:200],
        "kernels": kernel_state(server_app.kernel_manager),
        "at": _iso(datetime.datetime.now(datetime.timezone.utc)),
    }


class Reporter:
    """Sends the report now and then every ``seconds``; one request at a time."""

    def __init__(self, server_app: Any, companion_url: str, hub_token: str | None, seconds: float) -> None:
        self._app = server_app
        self._url = companion_url
        self._token = hub_token
        self._seconds = seconds
        self._sending = False
        self._log: logging.Logger = server_app.log
        self._client: httpclient.AsyncHTTPClient | None = None
        self.callback = ioloop.PeriodicCallback(self.send, seconds * 1000)

    def start(self) -> None:
        # The server's loop exists (ServerApp.init_ioloop runs before extensions load); both run
        # once it does. Our own client: the shared one is the proxy's, whose streams may fill it.
        loop = getattr(self._app, "io_loop", None) or ioloop.IOLoop.current()
        loop.add_callback(self.send)
        loop.add_callback(self.callback.start)

    async def send(self) -> None:
        if self._sending:
            return
        self._sending = True
        try:
            body = json.dumps(build_report(self._app))
            request = companion_request(
                self._url,
                REPORT_PATH,
                self._token,
                {"Content-Type": "application/json"},
                method="PUT",
                body=body,
                connect_timeout=5,
                request_timeout=min(20, self._seconds),
            )
            if self._client is None:
                self._client = httpclient.AsyncHTTPClient(force_instance=True)
            res = await self._client.fetch(request, raise_error=False)
            if res.code >= 400 or res.code == 599:
                self._log.debug("hotstepper: the companion answered the server report with %s", res.code)
        except Exception as error:  # noqa: BLE001 - a report that fails is sent again next time
            self._log.debug("hotstepper: server report not sent: %s", error)
        finally:
            self._sending = False


def start_reporting(server_app: Any) -> Reporter | None:
    """Start the periodic report; off without ``HOTSTEPPER_URL`` or with HOTSTEPPER_REPORT_SECONDS=0."""
    companion_url, token = companion_settings()
    try:
        seconds = float(os.environ.get("HOTSTEPPER_REPORT_SECONDS") or DEFAULT_SECONDS)
    except ValueError:
        seconds = DEFAULT_SECONDS
    if not companion_url or seconds <= 0:
        return None
    reporter = Reporter(server_app, companion_url, token, seconds)
    reporter.start()
    return reporter
