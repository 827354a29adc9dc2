"""The spawn page as the hub renders it (hotstepper/spawnform.py): the companion's answers embedded
as JSON that cannot break out of its script element, the bundle inlined, and the spawner's defaults
with companionDown when the companion does not answer.

Runs with either pytest or unittest, like test_spawnoptions.py; needs neither KubeSpawner nor Jupyter.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import re
import sys
import unittest
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "hotstepper_spawnform", Path(__file__).parents[1] / "hotstepper" / "spawnform.py"
)
form = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = form
_spec.loader.exec_module(form)

OPTIONS = {
    "images": [
        {
            "name": "registry.example.org/notebook",
            "description": "Python </script><script>alert(1)</script> & friends",
            "category": "Python",
            "keywords": ["numpy"],
            "tags": [{"tag": "2026-12-01", "date": "2026-12-01"}],
        }
    ],
    "customImages": {"allowed": False, "pattern": "(?!)"},
    "cpu": {"min": 0.5, "max": 2, "step": 0.5, "default": 1},
    "memory": {"min": 1, "max": 4, "step": 0.5, "default": 1},
    "gpus": [],
    "storage": {"home": ["keep", "fresh"], "volumes": []},
    "maxServers": 2,
    "presets": [],
    "defaults": {"image": "registry.example.org/notebook:2026-12-01", "cpu": 1, "memory": 1},
}
RATE_CARD = {
    "currency": "CZK",
    "charge": "requests",
    "cpuCoreHour": 1,
    "memoryGibHour": 0.5,
    "gpuHour": {"default": 40},
    "migHour": {"default": 6},
}


def companion(answers: dict):
    """A fetch answering from `answers` (path -> (status, body) or an exception)."""
    asked = []

    async def fetch(path):
        asked.append(path)
        answer = answers.get(path, (404, b"{}"))
        if isinstance(answer, Exception):
            raise answer
        status, body = answer
        return status, json.dumps(body).encode() if not isinstance(body, bytes) else body

    return fetch, asked


def embedded(html: str) -> dict:
    found = re.search(
        r'<script type="application/json" id="hotstepper-spawn-data">(.*?)</script>', html, re.S
    )
    assert found, html[:500]
    return json.loads(found.group(1))


class SpawnFormTest(unittest.TestCase):
    def setUp(self):
        form.assets.cache_clear()

    def test_embeds_the_companion_answers_for_the_server(self):
        fetch, asked = companion(
            {
                "/api/v1/spawn/options": (200, OPTIONS),
                "/api/v1/spawn/servers/gpu-box/last": (
                    200,
                    {"server": "gpu-box", "request": {"cpu": 2}, "startedAt": "2026-12-01T10:00:00Z"},
                ),
                "/api/v1/usage/ratecard": (200, RATE_CARD),
                "/api/v1/cluster/gpus": (503, {"detail": "syncing"}),
            }
        )
        data = asyncio.run(form.form_data(fetch, "alice", "gpu-box"))
        assert sorted(asked) == sorted(
            [
                "/api/v1/spawn/options",
                "/api/v1/spawn/servers/gpu-box/last",
                "/api/v1/usage/ratecard",
                "/api/v1/cluster/gpus",
            ]
        )
        assert data["companionDown"] is False
        assert data["options"] == OPTIONS
        assert data["last"]["request"] == {"cpu": 2}
        assert data["rateCard"] == RATE_CARD
        assert data["gpus"] is None
        assert data["server"] == "gpu-box" and data["user"] == "alice"

    def test_the_default_server_is_dash_and_no_last_options_is_none(self):
        fetch, asked = companion({"/api/v1/spawn/options": (200, OPTIONS)})
        data = asyncio.run(form.form_data(fetch, "alice", ""))
        assert "/api/v1/spawn/servers/-/last" in asked
        assert data["last"] is None
        assert data["rateCard"] is None
        assert any("rate card" in n for n in data["notices"])

    def test_no_options_is_the_companion_down(self):
        for answer in (ConnectionRefusedError("refused"), (503, {"detail": "starting"})):
            fetch, _ = companion({"/api/v1/spawn/options": answer})
            with self.assertRaises(form.CompanionUnavailable):
                asyncio.run(form.form_data(fetch, "alice", ""))

    def test_defaults_when_the_companion_is_down(self):
        data = form.defaults_data("alice", "", "registry:5000/notebook:2026-12-01", 1.0, 2 * 1024**3)
        assert data["companionDown"] is True
        options = data["options"]
        assert options["images"][0]["name"] == "registry:5000/notebook"
        assert options["images"][0]["tags"] == [{"tag": "2026-12-01"}]
        assert options["cpu"]["default"] == 1.0 and options["memory"]["default"] == 2.0
        assert options["defaults"]["image"] == "registry:5000/notebook:2026-12-01"
        # a tagless image is :latest, as the container runtime reads it
        untagged = form.defaults_data("bob", "x", "busybox", None, None)
        assert untagged["options"]["images"][0]["tags"] == [{"tag": "latest"}]
        html = form.render(data)
        assert embedded(html)["companionDown"] is True
        assert form.DOWN_NOTICE in html or not form.assets()[0]

    def test_the_data_cannot_break_out_of_its_script(self):
        data = {"options": OPTIONS, "companionDown": False, "x": "\u2028</SCRIPT>"}
        text = form.script_json(data)
        assert "<" not in text and ">" not in text and "&" not in text
        assert "\u2028" not in text
        assert json.loads(text) == data

    def test_render_inlines_the_bundle_and_the_stylesheet(self):
        static = Path(form.STATIC)
        script, style = form.assets()
        if not script:
            self.skipTest("the spawn page is not built (npm run build in packages/spawn)")
        data = {"user": "alice", "server": "", "companionDown": False, "options": OPTIONS}
        html = form.render(data)
        assert html.count("</script>") == 2  # the data's and the bundle's own end tags only
        assert embedded(html)["options"] == OPTIONS
        assert '<div id="hotstepper-spawn"' in html
        assert html.index(DATA_MARK) < html.rindex("<script>")
        assert style.strip()[:40] in html and ".hs-Spawn" in html
        assert (static / "spawn.js").read_text("utf-8")[:200] in html

    def test_render_without_a_bundle_says_so(self):
        original = form.STATIC
        try:
            form.STATIC = Path("/nonexistent")
            form.assets.cache_clear()
            html = form.render({"companionDown": True})
            assert "not built" in html and "hotstepper-spawn-data" not in html
        finally:
            form.STATIC = original
            form.assets.cache_clear()


DATA_MARK = 'id="hotstepper-spawn-data"'

if __name__ == "__main__":
    unittest.main()
