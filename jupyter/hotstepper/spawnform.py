"""The spawn page: HotstepperKubeSpawner's options form (issue #15, item 2).

The hub renders it server-side: the spawner asks the companion, as the user, for the spawn options,
this server's last options, the rate card and the GPUs free now (`form_data`), and `render` embeds
them as JSON beside the page's script and stylesheet (packages/spawn, built into hotstepper/static/dist/
and inlined here, read once), so the page needs no second request. When the companion cannot be
asked, the embedded options are the spawner's own defaults with companionDown set, and the page
says so and posts nothing (a plain spawn, which the spawner starts with its configured defaults).

No kubespawner, JupyterHub or tornado import here, so it is testable without them.
"""

from __future__ import annotations

import asyncio
import functools
import json
from pathlib import Path
from typing import Awaitable, Callable, Optional, Tuple

STATIC = Path(__file__).parent / "static" / "dist"
ROOT_ID = "hotstepper-spawn"
DATA_ID = "hotstepper-spawn-data"
GIB = 1024**3
DOWN_NOTICE = "Hotstepper's options are unavailable right now; you can start with the defaults."

# GET path -> (status, body); raises when there is no HTTP answer at all.
Fetch = Callable[[str], Awaitable[Tuple[int, bytes]]]


class CompanionUnavailable(Exception):
    """The companion gave no spawn options: the page falls back to the spawner's defaults."""


@functools.lru_cache(maxsize=None)
def assets() -> Tuple[str, str]:
    """The page's script and stylesheet from the wheel, read once ("" when not built)."""

    def read(name: str) -> str:
        try:
            return (STATIC / name).read_text("utf-8")
        except OSError:
            return ""

    return read("spawn.js"), read("spawn.css")


def script_json(value) -> str:
    """JSON safe inside a <script> element: no `<`, `>` or `&` (so no `</script>`), and no line
    separators that old JavaScript parsers choke on."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for raw, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(raw, escaped)
    return text


def _inline(text: str, tag: str) -> str:
    """Script or style text that cannot end its element early."""
    return text.replace(f"</{tag}", f"<\\/{tag}").replace(f"</{tag.upper()}", f"<\\/{tag.upper()}")


def _json(status: int, body: bytes):
    if status != 200:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


async def form_data(fetch: Fetch, user: str, server: str) -> dict:
    """What the page shows, from the companion; CompanionUnavailable without spawn options."""

    async def get(path: str):
        try:
            return await fetch(path)
        except Exception as e:  # no answer at all
            return 599, str(e).encode()

    options, last, card, gpus = await asyncio.gather(
        get("/api/v1/spawn/options"),
        get(f"/api/v1/spawn/servers/{server or '-'}/last"),
        get("/api/v1/usage/ratecard"),
        get("/api/v1/cluster/gpus"),
    )
    resolved = _json(*options)
    if not isinstance(resolved, dict) or "cpu" not in resolved:
        raise CompanionUnavailable(f"GET /api/v1/spawn/options answered {options[0]}")
    notices = []
    rate_card = _json(*card)
    if rate_card is None:
        notices.append("No cost estimate right now: the rate card is unavailable.")
    availability = _json(*gpus)
    if availability is None and resolved.get("gpus"):
        notices.append("How many GPUs are free cannot be told right now.")
    return {
        "user": user,
        "server": server or "",
        "companionDown": False,
        "options": resolved,
        "last": _json(*last),
        "rateCard": rate_card,
        "gpus": availability,
        "notices": notices,
    }


def defaults_data(
    user: str, server: str, image: str, cpu: Optional[float], mem_bytes: Optional[int]
) -> dict:
    """The spawner's own defaults as SpawnOptions, for a page without the companion."""
    slash, colon = image.rfind("/"), image.rfind(":")
    name, tag = (image[:colon], image[colon + 1 :]) if colon > slash else (image, "latest")
    cores = float(cpu or 0)
    gib = round((mem_bytes or 0) / GIB, 3)
    return {
        "user": user,
        "server": server or "",
        "companionDown": True,
        "options": {
            "images": [
                {
                    "name": name,
                    "description": "The platform's configured image",
                    "category": "Default",
                    "keywords": [],
                    "tags": [{"tag": tag}],
                }
            ],
            "customImages": {"allowed": False, "pattern": "(?!)"},
            "cpu": {"min": cores, "max": cores, "step": cores or 1, "default": cores},
            "memory": {"min": gib, "max": gib, "step": gib or 1, "default": gib},
            "gpus": [],
            "storage": {"home": ["keep"], "volumes": []},
            "maxServers": 1,
            "presets": [],
            "defaults": {"image": f"{name}:{tag}", "cpu": cores, "memory": gib, "home": "keep"},
        },
        "last": None,
        "rateCard": None,
        "gpus": None,
        "notices": [],
    }


def render(data: dict) -> str:
    """The options form's HTML: the page's stylesheet, its mount point, the data, its script."""
    script, style = assets()
    if not script:
        # Not built (a source checkout without `npm run build`): nothing is posted, defaults start.
        return (
            f'<div id="{ROOT_ID}" class="alert alert-warning" role="status">'
            "The spawn page is not built; you can start with the defaults.</div>"
        )
    fallback = DOWN_NOTICE if data.get("companionDown") else "Loading the server options…"
    return (
        f"<style>{_inline(style, 'style')}</style>"
        f'<div id="{ROOT_ID}" class="hs-Spawn">'
        f"<noscript>The server options need JavaScript; without it you can start with the "
        f"defaults.</noscript><p>{fallback}</p></div>"
        f'<script type="application/json" id="{DATA_ID}">{script_json(data)}</script>'
        f"<script>{_inline(script, 'script')}</script>"
    )
