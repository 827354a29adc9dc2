"""The TCP ports listening in this Jupyter server's own process tree.

Flare exposes a web app the user runs in their notebook server. This server tells the companion
which ports belong to it in the report it pushes (report.py), so a route can only point at a port
of its owner's server: on a shared host every user's app listens on the same 127.0.0.1, and a
port alone says nothing about whose it is. The companion never asks a user's server.
"""

from __future__ import annotations

import os
from pathlib import Path

LISTEN = "0A"  # TCP state of a listening socket in /proc/net/tcp


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The command may hold spaces and parentheses: the parent pid follows the last ')'.
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _descendants(root: int) -> list[int]:
    tree = _children()
    found, todo = [root], [root]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _listening_inodes() -> dict[str, int]:
    """Socket inode -> port, for every listening TCP socket (IPv4 and IPv6)."""
    out: dict[str, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == LISTEN:
                out[fields[9]] = int(fields[1].rsplit(":", 1)[1], 16)
    return out


def _command(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()[:200]


def listening_ports(root: int, exclude: set[int]) -> list[dict[str, object]]:
    """Ports listened on by ``root`` and its descendants, kernels and ``exclude`` left out."""
    inodes = _listening_inodes()
    ports: dict[int, tuple[int, str]] = {}
    for pid in _descendants(root):
        command = _command(pid)
        # A kernel's ZeroMQ ports are Jupyter's plumbing, not an app to show anyone.
        if pid == root or "ipykernel" in command:
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                port = inodes.get(target[8:-1])
                if port is not None and port not in exclude:
                    ports.setdefault(port, (pid, command))
    return [{"port": p, "pid": pid, "command": c} for p, (pid, c) in sorted(ports.items())]
