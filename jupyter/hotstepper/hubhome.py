"""The hub's home page: my servers' CPU and memory against their limits, free GPUs, my cost.

JupyterHub renders templates/home.html (which extends its own home.html) with `hotstepper_home`
in its template variables (configure() below). The page calls it; it asks the companion as the
user, with a token made for these calls and deleted right after (hubtoken.user_token):

- GET /api/v1/usage/live            my pods: CPU and memory used against their limits
- GET /api/v1/usage/history?days=90 my cost this month and over 90 days
- GET /api/v1/cluster/gpus          free GPUs per model and MIG profile
- GET /api/v1/usage/users?days=…    operators only: everyone's cost, 90 days and this month

all at once, each within TIMEOUT seconds. What did not answer shows as not available right now;
the page itself never fails for it. The token never reaches the page.

build_view() turns the answers into what the template shows; it is pure and tested on its own.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Optional

TEMPLATES = Path(__file__).parent / "templates"
TIMEOUT = 2.0
OPERATOR_GROUPS = frozenset({"hotstepper-admins"})
# The everyone table lists this many users (most expensive first); the Usage panel has all.
EVERYONE_ROWS = 50
# Free GPUs of a model are drawn as squares up to this many; the count is always written.
MAX_SQUARES = 16

log = logging.getLogger("hotstepper.hubhome")


@dataclass(frozen=True)
class Failed:
    """A call that gave no usable answer: status is the HTTP status, None if there was none."""

    status: Optional[int] = None


# ---------------------------------------------------------------------------------------------
# Units, as the Usage panel writes them (packages/usage/src/format.ts)


def cores(n: float) -> str:
    """Cores with up to two decimals: 0.45, 1, 2.5."""
    if n >= 10:
        return f"{n:.0f}"
    text = f"{n:.2f}".rstrip("0").rstrip(".")
    return text or "0"


def cores_unit(n: float) -> str:
    return f"{cores(n)} core" if cores(n) == "1" else f"{cores(n)} cores"


def memory(n: float) -> str:
    """Bytes in GiB (one decimal under 10 GiB) or, below a GiB, whole MiB."""
    if n >= 2**30:
        gib = n / 2**30
        return f"{gib:.1f} GiB" if gib < 10 else f"{gib:.0f} GiB"
    return f"{n / 2**20:.0f} MiB"


def money(amount: float, currency: str) -> str:
    """CZK 1,234.50: the currency code, then two decimals."""
    return f"{currency} {amount:,.2f}"


def hours(n: float) -> str:
    return f"{n:.0f}" if n >= 100 else f"{n:.1f}" if n >= 1 else f"{n:.2f}"


def level(fraction: Optional[float]) -> str:
    """The badge's status colour: amber from 70 %, red from 90 %."""
    if fraction is None:
        return "secondary"
    return "danger" if fraction >= 0.9 else "warning" if fraction >= 0.7 else "success"


def badge(label: str, gauge: dict, fmt: Callable[[float], str]) -> dict:
    """One pill: used of limit, with a percentage when both are known."""
    used, limit = gauge.get("used"), gauge.get("limit")
    fraction = used / limit if used is not None and limit else None
    if used is None:
        # a server just started has no sample yet: say so, not a dash
        text = f"not measured yet (limit {fmt(limit)})" if limit else "not measured yet"
    elif limit:
        text = f"{fmt(used)} of {fmt(limit)}"
    else:
        text = f"{fmt(used)} (no limit)"
    percent = None if fraction is None else round(fraction * 100)
    summary = f"{label} {text}" + ("" if percent is None else f" ({percent} %)")
    return {
        "label": label,
        "text": text,
        "percent": percent,
        "bar": None if percent is None else min(percent, 100),
        "level": level(fraction),
        "summary": summary,
    }


# ---------------------------------------------------------------------------------------------
# The view


def _servers_view(live: Any, servers: dict[str, str]) -> dict:
    """My pods from usage/live; server pods named as the hub names their server."""
    if isinstance(live, Failed):
        return {"available": False}
    pods = live.get("pods") or []
    note = None
    if live.get("kubernetes") == "not_configured":
        note = "Live figures come from the cluster, which this platform does not use."
    elif live.get("kubernetes") == "syncing":
        note = "The companion is still reading the cluster; figures appear in a moment."
    elif (live.get("prometheus") or {}).get("state") != "connected" and pods:
        note = (live.get("prometheus") or {}).get("detail") or "No live figures right now."
    by_pod = {pod: name for name, pod in servers.items()}
    items = []
    for pod in pods:
        name = pod.get("name", "")
        kind = pod.get("kind", "other")
        if kind == "server" and name in by_pod:
            server = by_pod[name]
            title = "Default server" if server == "" else f"Server {server}"
        elif kind == "server":
            title = f"Server {name}"
        elif kind == "job":
            title = f"Job {name}"
        else:
            title = name
        items.append(
            {
                "title": title,
                "kind": kind,
                "phase": pod.get("phase", ""),
                "cpu": badge("CPU", pod.get("cpu") or {}, cores_unit),
                "memory": badge("RAM", pod.get("memory") or {}, memory),
                "gpus": len(pod.get("gpus") or []),
            }
        )
    # Servers first, in the hub's order; then jobs.
    items.sort(key=lambda i: (i["kind"] != "server", i["title"]))
    return {"available": True, "items": items, "note": note}


def _gpu_row(entry: dict, label: str) -> dict:
    free, total = int(entry.get("free", 0)), int(entry.get("total", 0))
    shown = min(total, MAX_SQUARES)
    return {
        "label": label,
        "simulated": bool(entry.get("simulated")),
        "free": free,
        "total": total,
        "unavailable": int(entry.get("unavailable", 0)),
        "squares": [i < free for i in range(shown)],
        "more": total - shown,
    }


def _gpus_view(gpus: Any) -> dict:
    if isinstance(gpus, Failed):
        return {"available": False}
    models = [_gpu_row(m, m.get("product", "unknown")) for m in gpus.get("models") or []]
    mig = [
        _gpu_row(p, f"{p.get('profile', '?')} on {p.get('product', 'unknown')}")
        for p in gpus.get("migProfiles") or []
    ]
    return {"available": True, "models": models, "mig": mig, "stale": bool(gpus.get("stale"))}


def month_and_total(history: dict) -> tuple[float, float]:
    """This calendar month's cost (UTC, the month of `to`) and the whole window's.

    The companion sends both; summed from the rows when a total is missing.
    """
    totals = history.get("totals") or {}
    rows = history.get("rows") or []
    month = str(history.get("to", ""))[:7]
    this_month = totals.get("thisMonthCost")
    if this_month is None:
        this_month = sum(r.get("cost", 0) for r in rows if str(r.get("day", "")).startswith(month))
    total = totals.get("cost")
    if total is None:
        total = sum(r.get("cost", 0) for r in rows)
    return float(this_month), float(total)


def _cost_view(history: Any) -> dict:
    if isinstance(history, Failed):
        return {"available": False}
    this_month, total = month_and_total(history)
    currency = history.get("currency", "CZK")
    return {
        "available": True,
        "month": money(this_month, currency),
        "total": money(total, currency),
        "days": history.get("days", 90),
    }


def _everyone_view(users90: Any, users_month: Any) -> Optional[dict]:
    """Operators' table; None when the companion says this user is not one (403)."""
    if isinstance(users90, Failed):
        if users90.status == 403:
            return None
        return {"available": False}
    currency = users90.get("currency", "CZK")
    month = (
        {}
        if isinstance(users_month, Failed)
        else {u["user"]: u.get("cost", 0) for u in users_month.get("users") or []}
    )
    rows = []
    for u in users90.get("users") or []:
        name = u.get("user", "")
        rows.append(
            {
                "user": name,
                "month": "–"
                if isinstance(users_month, Failed)
                else money(month.get(name, 0), currency),
                "total": money(u.get("cost", 0), currency),
                "cpu": hours(u.get("cpuCoreHours", 0)),
                "memory": hours(u.get("memoryGibHours", 0)),
                "gpu": hours(u.get("gpuHours", 0) + u.get("migHours", 0)),
            }
        )
    return {
        "available": True,
        "rows": rows[:EVERYONE_ROWS],
        "more": max(0, len(rows) - EVERYONE_ROWS),
        "days": users90.get("days", 90),
    }


def build_view(
    answers: dict[str, Any],
    servers: dict[str, str],
    operator: bool,
    now: datetime,
) -> dict:
    """What the Hotstepper section shows, from the companion's answers (JSON, or Failed).

    servers maps the user's server names ("" for the default) to their pod names.
    """
    return {
        "servers": _servers_view(answers.get("live", Failed()), servers),
        "gpus": _gpus_view(answers.get("gpus", Failed())),
        "cost": _cost_view(answers.get("history", Failed())),
        "everyone": _everyone_view(
            answers.get("users90", Failed()), answers.get("usersMonth", Failed())
        )
        if operator
        else None,
        "updated": now.astimezone(timezone.utc).strftime("%H:%M UTC"),
    }


def requests_for(operator: bool, now: datetime) -> dict[str, str]:
    """The companion's paths this page asks, by name; this month is the UTC days so far."""
    paths = {
        "live": "/api/v1/usage/live",
        "history": "/api/v1/usage/history?days=90",
        "gpus": "/api/v1/cluster/gpus",
    }
    if operator:
        paths["users90"] = "/api/v1/usage/users?days=90"
        paths["usersMonth"] = f"/api/v1/usage/users?days={now.astimezone(timezone.utc).day}"
    return paths


# ---------------------------------------------------------------------------------------------
# The hub's side


async def _get(client: Any, url: str, token: str) -> Any:
    from tornado.httpclient import HTTPClientError, HTTPRequest

    try:
        response = await client.fetch(
            HTTPRequest(
                url,
                headers={"Authorization": f"token {token}", "Accept": "application/json"},
                connect_timeout=TIMEOUT,
                request_timeout=TIMEOUT,
            )
        )
        return json.loads(response.body)
    except HTTPClientError as err:
        # 599 is tornado's own: no answer (refused, timed out)
        return Failed(None if err.code == 599 else err.code)
    except Exception as err:  # noqa: BLE001  (the page renders whatever happens here)
        log.warning("hub home: %s did not answer: %s", url.split("?")[0], type(err).__name__)
        return Failed()


def is_operator(user: Any, groups: frozenset[str] = OPERATOR_GROUPS) -> bool:
    """As the companion decides: a hub admin, or a member of one of its admin groups."""
    if getattr(user, "admin", False):
        return True
    return any(getattr(g, "name", g) in groups for g in getattr(user, "groups", []) or [])


def _servers_of(user: Any) -> dict[str, str]:
    """The user's servers by name, with the pod each runs in (KubeSpawner's pod_name)."""
    found = {}
    for name, spawner in (getattr(user, "spawners", None) or {}).items():
        pod = getattr(spawner, "pod_name", None)
        if isinstance(pod, str):
            found[name] = pod
    return found


async def home_view(user: Any, companion_url: str, groups: frozenset[str] = OPERATOR_GROUPS):
    """The section's view for `user`, asking the companion as them."""
    from tornado.httpclient import AsyncHTTPClient

    from .hubtoken import user_token

    now = datetime.now(timezone.utc)
    operator = is_operator(user, groups)
    paths = requests_for(operator, now)
    base = companion_url.rstrip("/")
    try:
        async with user_token(user, "hotstepper: the hub home page", expires_in=30) as token:
            client = AsyncHTTPClient()
            results = await asyncio.gather(
                *(_get(client, base + path, token) for path in paths.values())
            )
        answers = dict(zip(paths, results))
    except Exception as err:  # noqa: BLE001  (never fail the hub's own page)
        log.warning("hub home: could not ask the companion: %s", type(err).__name__)
        answers = {}
    return build_view(answers, _servers_of(user), operator, now)


def configure(c: Any, companion_url: str, groups: frozenset[str] = OPERATOR_GROUPS) -> None:
    """Wire the home page into a hub config: the template path and the section's variable."""

    def hotstepper_home(user: Any) -> Optional[Callable[[], Any]]:
        # Called for every page the hub renders (also without a user): only home.html calls
        # the function returned, so nothing is asked for other pages.
        if user is None:
            return None
        return lambda: home_view(user, companion_url, groups)

    hub = c.JupyterHub
    paths = list(hub.template_paths) if "template_paths" in hub else []
    variables = dict(hub.template_vars) if "template_vars" in hub else {}
    hub.template_paths = [str(TEMPLATES), *paths]
    hub.template_vars = {**variables, "hotstepper_home": hotstepper_home}
