"""Hotstepper for JupyterLab: the prebuilt extensions and a same-origin proxy to the companion."""

from __future__ import annotations

import json
from pathlib import Path

from . import usage
from .proxy import setup_handlers
from .report import start_reporting

__version__ = "0.1.0"

HERE = Path(__file__).parent


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Every prebuilt labextension dev/build-wheel.sh put into this package, by npm name.

    The wheel installs them with shared-data; this is for tools that ask the package.
    """
    root = HERE / "labextensions"
    manifests = sorted([*root.glob("*/package.json"), *root.glob("@*/*/package.json")])
    return [
        {"src": str(m.parent.relative_to(HERE)), "dest": json.loads(m.read_text())["name"]}
        for m in manifests
    ]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "hotstepper"}]


def _load_jupyter_server_extension(server_app) -> None:  # noqa: ANN001 - jupyter_server's ServerApp
    setup_handlers(server_app.web_app, server_app.log)
    usage.setup_handlers(server_app.web_app)
    start_reporting(server_app)
