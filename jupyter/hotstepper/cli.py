"""``hotstepper``: the platform from a terminal in your notebook server (standard library only).

    hotstepper flare expose 8050 --name mydash [--access hub|owner|users|link|public] [--users a,b] [--groups g]
    hotstepper flare list
    hotstepper flare access mydash owner
    hotstepper flare access mydash users --users bob,carol --groups students
    hotstepper flare rotate mydash
    hotstepper flare delete mydash

It calls the companion at ``$HOTSTEPPER_URL`` as you, with your server's ``$JUPYTERHUB_API_TOKEN``
(both are set in every server the hub starts); the token is sent there only, never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any

MODES = ("hub", "owner", "users", "link", "public")
ACCESS_HELP = (
    "who may open it: hub (anyone logged in to the hub), owner (only you), users (the hub users "
    "and groups named with --users/--groups), link (anyone with the share link), public (anyone)"
)


class CompanionError(Exception):
    """A problem the companion answered with, or no answer at all."""


def call(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    base = os.environ.get("HOTSTEPPER_URL")
    token = os.environ.get("JUPYTERHUB_API_TOKEN")
    if not base or not token:
        raise CompanionError(
            "HOTSTEPPER_URL and JUPYTERHUB_API_TOKEN must be set: run this in a terminal of your "
            "notebook server."
        )
    request = urllib.request.Request(
        base.rstrip("/") + "/api/v1/flare" + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Authorization": f"token {token}",
            "Accept": "application/json",
            **({"Content-Type": "application/json"} if body is not None else {}),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        try:
            problem = json.load(error)
            detail = problem.get("detail") or problem.get("title")
        except ValueError:
            detail = f"HTTP {error.code}"
        raise CompanionError(detail) from None
    except urllib.error.URLError as error:
        raise CompanionError(f"the companion at {base} did not answer ({error.reason})") from None


def show(route: dict[str, Any]) -> str:
    access = route["access"]
    who = access["mode"]
    if who == "users":
        who += ": " + ", ".join([*access.get("users", []), *("@" + g for g in access.get("groups", []))])
    lines = [f"{route['url']}  port {route['port']}  {route['status']}  {who}  {route['hits']} hits"]
    if route.get("shareUrl"):
        lines.append(f"  share link: {route['shareUrl']}")
    return "\n".join(lines)


def access_of(args: argparse.Namespace) -> dict[str, Any]:
    access: dict[str, Any] = {"mode": args.access}
    if args.access == "users":
        access["users"] = [u for u in (args.users or "").split(",") if u]
        access["groups"] = [g for g in (args.groups or "").split(",") if g]
    return access


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="hotstepper", description="Hotstepper from a terminal.")
    features = top.add_subparsers(dest="feature", required=True)
    flare = features.add_parser("flare", help="expose a web app of this server at its own address")
    verbs = flare.add_subparsers(dest="verb", required=True)

    expose = verbs.add_parser("expose", help="expose a port")
    expose.add_argument("port", type=int)
    expose.add_argument("--name", required=True, help="the first label of the address")
    for sub in (expose,):
        sub.add_argument("--access", choices=MODES, default="hub", help=ACCESS_HELP)
        sub.add_argument("--users", help="mode users: hub users, comma-separated")
        sub.add_argument("--groups", help="mode users: hub groups, comma-separated")
    verbs.add_parser("list", help="list my routes")
    access = verbs.add_parser("access", help="change who may open a route, in place")
    access.add_argument("name")
    access.add_argument("access", choices=MODES, help=ACCESS_HELP)
    access.add_argument("--users", help="mode users: hub users, comma-separated")
    access.add_argument("--groups", help="mode users: hub groups, comma-separated")
    rotate = verbs.add_parser("rotate", help="make a new share link (the old one stops working)")
    rotate.add_argument("name")
    delete = verbs.add_parser("delete", help="delete a route (its address answers 404)")
    delete.add_argument("name")
    return top


def run(args: argparse.Namespace) -> str:
    if args.verb == "expose":
        body = {"name": args.name, "port": args.port, "access": access_of(args)}
        return show(call("POST", "/routes", body))
    if args.verb == "list":
        routes = call("GET", "/routes")["routes"]
        return "\n".join(show(r) for r in routes) or "No routes yet."
    if args.verb == "access":
        return show(call("PATCH", f"/routes/{args.name}", {"access": access_of(args)}))
    if args.verb == "rotate":
        return show(call("POST", f"/routes/{args.name}/share-link"))
    call("DELETE", f"/routes/{args.name}")
    return f"Deleted {args.name}."


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        print(run(args))
    except CompanionError as error:
        print(f"hotstepper: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
