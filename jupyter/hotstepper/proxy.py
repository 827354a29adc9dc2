"""Forward ``<base_url>/hotstepper/api/v1/<path>`` to the Hotstepper companion as this server's user.

The browser reaches the companion same-origin through here, so it needs no CORS and never
holds a hub token: this handler adds the server's own ``JUPYTERHUB_API_TOKEN``, which the
companion resolves to the user. Bodies are streamed, so Server-Sent Events pass through.
Only the companion's API comes through, and only as data (JSON, CSV downloads, event streams):
nothing the companion sends can run as a page on this server's origin.
"""

from __future__ import annotations

import json
import logging
import os
from urllib.parse import parse_qsl, unquote, urlencode

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import httpclient, httputil, web

# Hop-by-hop headers (RFC 9110 7.6.1) never cross a proxy.
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}
# The browser's credentials for this server are not the companion's business; tornado sets
# Host and Content-Length itself, and we relay bodies as they come, so no re-encoding.
DROP_REQUEST = HOP_BY_HOP | {
    "cookie",
    "authorization",
    "x-xsrftoken",
    "host",
    "content-length",
    "accept-encoding",
}
# Only these come back: a companion header such as Set-Cookie must never land on this origin.
PASS_RESPONSE = ("Cache-Control", "Content-Disposition", "ETag", "Last-Modified", "Location", "Retry-After")
# Query parameters that authenticate the browser to this server: keep them from the companion.
DROP_QUERY = {"token", "_xsrf"}
# The companion's media types that may reach the browser, and the Content-Type each is sent as.
CONTENT_TYPES = {
    "application/json": "application/json; charset=UTF-8",
    "application/problem+json": "application/problem+json; charset=UTF-8",
    "text/csv": "text/csv; charset=UTF-8",
    "text/event-stream": "text/event-stream; charset=UTF-8",
}
# What Jupyter's authorizer is asked about: read (GET) or write (the other methods) on this.
AUTH_RESOURCE = "hotstepper"


def companion_settings() -> tuple[str | None, str | None]:
    """The companion's URL (``HOTSTEPPER_URL``) and this server's own hub token, if set."""
    return os.environ.get("HOTSTEPPER_URL") or None, os.environ.get("JUPYTERHUB_API_TOKEN") or None


def companion_request(
    companion_url: str, path: str, hub_token: str | None, headers: dict[str, str] | None = None, **kwargs
) -> httpclient.HTTPRequest:
    """A request to ``path`` (e.g. ``api/v1/me``) of the companion, as this server's user.

    The one place that says how this server reaches the companion: the proxy and the report
    (report.py) both build their requests here.
    """
    headers = dict(headers or {})
    if hub_token:
        headers["Authorization"] = f"token {hub_token}"
    return httpclient.HTTPRequest(
        url_path_join(companion_url, path), headers=headers, follow_redirects=False, **kwargs
    )


def forwarded(path: str) -> bool:
    """Only the companion's API, as the router will see it: no dot segments, raw or encoded."""
    segments = path.split("/") + unquote(path).split("/")
    return path.startswith("api/v1/") and not {".", ".."} & set(segments)


class ProxyHandler(APIHandler):
    """Relay one request to the companion and stream its answer back."""

    # Polling the companion is not the user working: it must not keep an idle server alive.
    _track_activity = False
    auth_resource = AUTH_RESOURCE

    def initialize(self, prefix: str, companion_url: str | None, hub_token: str | None) -> None:
        self._prefix = prefix
        self._companion_url = companion_url
        self._hub_token = hub_token
        self._upstream_headers = httputil.HTTPHeaders()
        self._upstream_status = 502
        self._started = False
        self._refused: str | None = None
        self._content_type = "application/json"  # unused for a 204, which has no body
        self._gone = False

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("X-Content-Type-Options", "nosniff")

    # One decorated method per action: `authorized` remembers the action of its first call.
    @web.authenticated
    @authorized(action="read", resource=AUTH_RESOURCE)
    async def get(self, _path: str) -> None:
        await self._forward()

    @web.authenticated
    @authorized(action="write", resource=AUTH_RESOURCE)
    async def post(self, _path: str) -> None:
        await self._forward()

    put = patch = delete = post

    async def _forward(self) -> None:
        # The raw path, not tornado's decoded argument, so %2F inside a segment survives.
        path = self.request.path[len(self._prefix) :]
        if not forwarded(path):
            return self._problem(
                404,
                "not_found",
                "Not found",
                "Only the Hotstepper API (hotstepper/api/v1/...) is reachable through this server.",
            )
        if not self._companion_url:
            return self._problem(
                503,
                "companion_not_configured",
                "Companion not configured",
                "This Jupyter server was started without HOTSTEPPER_URL, so Hotstepper "
                "features are off. Ask your platform administrator to set it.",
            )
        query = [(k, v) for k, v in parse_qsl(self.request.query, True) if k not in DROP_QUERY]
        if query:
            path += "?" + urlencode(query)
        headers = {k: v for k, v in self.request.headers.get_all() if k.lower() not in DROP_REQUEST}
        streaming = "text/event-stream" in self.request.headers.get("Accept", "")
        request = companion_request(
            self._companion_url,
            path,
            self._hub_token,
            headers,
            method=self.request.method,
            body=self.request.body or None,
            allow_nonstandard_methods=True,
            connect_timeout=10,
            request_timeout=7200 if streaming else 120,
            header_callback=self._on_header,
            streaming_callback=self._on_chunk,
        )
        url = request.url
        # Our own client: the shared one queues at 10 requests, which long streams would fill.
        client = httpclient.AsyncHTTPClient(force_instance=True)
        try:
            await client.fetch(request, raise_error=False)
        except Exception as error:  # noqa: BLE001 - any failure to connect or read means the same
            if self._gone:
                return
            if not self._refused:  # else we aborted it ourselves; answered below
                self.log.warning("hotstepper: companion request %s failed: %s", url, error)
                if not self._started:
                    return self._problem(
                        502,
                        "companion_unreachable",
                        "Companion unreachable",
                        f"The Hotstepper companion at {url} did not answer ({error}). It may be "
                        "restarting: retry in a minute, and tell your platform administrator if "
                        "it persists.",
                    )
        finally:
            client.close()
        if self._send_head():
            self.finish(set_content_type=self._content_type)
        elif not self._gone:
            self.log.warning("hotstepper: companion answered %s with %s", url, self._refused)
            self._problem(
                502,
                "companion_bad_response",
                "Unexpected answer from the companion",
                f"The Hotstepper companion answered with {self._refused}, which this server "
                "does not pass on. Tell your platform administrator.",
            )

    def _on_header(self, line: str) -> None:
        if line.startswith("HTTP/"):
            self._upstream_status = httputil.parse_response_start_line(line.strip()).code
            self._upstream_headers = httputil.HTTPHeaders()
        elif line.strip():
            self._upstream_headers.parse_line(line)

    def on_connection_close(self) -> None:
        # The browser went away: the next chunk from the companion ends the relay (below),
        # so a long event stream does not stay open upstream for nobody.
        self._gone = True
        super().on_connection_close()

    def _on_chunk(self, chunk: bytes) -> None:
        # Raising aborts the upstream request; the one error tornado's client does not log loudly.
        if self._gone:
            raise httputil.HTTPInputError("the browser closed the connection")
        if not self._send_head():
            raise httputil.HTTPInputError("refused content type")
        self.write(chunk)
        self.flush()

    def _send_head(self) -> bool:
        """Set status and headers once, before the first chunk; False if the answer is refused."""
        if self._started or self._refused:
            return not self._refused
        given = self._upstream_headers.get("Content-Type")
        media = (given or "").split(";")[0].strip().lower()
        if media not in CONTENT_TYPES and not (given is None and self._upstream_status == 204):
            self._refused = f"HTTP {self._upstream_status} {media or 'without a Content-Type'}"
            return False
        self._started = True
        self.set_status(self._upstream_status)
        for name in PASS_RESPONSE:
            if name in self._upstream_headers:
                self.set_header(name, self._upstream_headers[name])
        if media:
            self._content_type = CONTENT_TYPES[media]
            self.set_header("Content-Type", self._content_type)
        disposition = self._upstream_headers.get("Content-Disposition", "").lower()
        if media == "text/csv" and not disposition.startswith("attachment"):
            self.set_header("Content-Disposition", "attachment")
        return True

    def _problem(self, status: int, code: str, title: str, detail: str) -> None:
        body = {"type": "about:blank", "title": title, "status": status, "code": code}
        body.update(detail=detail, instance=self.request.path)
        self.set_status(status)
        self.finish(json.dumps(body), set_content_type="application/problem+json")


def setup_handlers(web_app: web.Application, log: logging.Logger) -> None:
    """Route ``<base_url>/hotstepper/*`` to the companion named by ``HOTSTEPPER_URL``."""
    companion_url, token = companion_settings()
    prefix = url_path_join(web_app.settings["base_url"], "hotstepper/")
    web_app.add_handlers(
        ".*$",
        [
            (
                prefix + "(.*)",
                ProxyHandler,
                {"prefix": prefix, "companion_url": companion_url, "hub_token": token},
            )
        ],
    )
    if not companion_url:
        log.warning("hotstepper: HOTSTEPPER_URL is not set; %s* answers 503", prefix)
    else:
        log.info("hotstepper: forwarding %s* to %s", prefix, companion_url)
    if not token:
        log.warning("hotstepper: JUPYTERHUB_API_TOKEN is not set; the companion will refuse us")
