"""Live CPU and memory of this Jupyter server, as its container sees them.

On Kubernetes the server runs in a container whose cgroup holds its limits: we read the cgroup
(v2: memory.current, memory.max, cpu.stat, cpu.max; v1: the memory and cpuacct controllers).
Host totals (psutil's view) would show the node's 96 CPUs and 500 GB, which is the complaint of
jupyter-resource-usage#43, so we never use them. When the cgroup is not the server's own (a local
process spawner: one cgroup shared with other users' servers), we add up this server's process
tree instead and report no limit. The status bar polls <base_url>/hotstepper-local/usage.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web

CGROUP_ROOT = Path("/sys/fs/cgroup")
NO_LIMIT = 1 << 60  # v1 writes a huge number for "unlimited"
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _own_cgroups() -> dict[str, str]:
    """Controller -> path from /proc/self/cgroup ("" is the v2 unified hierarchy)."""
    out: dict[str, str] = {}
    for line in (_read(Path("/proc/self/cgroup")) or "").splitlines():
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            out[name] = path
    return out


def _ppid(pid: int) -> int | None:
    stat = _read(Path(f"/proc/{pid}/stat"))
    try:
        return int(stat.rsplit(")", 1)[1].split()[1]) if stat else None
    except (IndexError, ValueError):
        return None


def _tree(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            parent = _ppid(int(entry.name))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry.name))
    found, todo = {root}, [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _ancestors(pid: int) -> set[int]:
    out: set[int] = set()
    while pid and pid not in out:
        out.add(pid)
        pid = _ppid(pid) or 0
    return out


def _is_own(directory: Path) -> bool:
    """The cgroup holds only this server, its children and its ancestors (a container)."""
    procs = _read(directory / "cgroup.procs")
    if procs is None:
        return False
    pids = {int(p) for p in procs.split()}
    me = os.getpid()
    return bool(pids) and pids <= (_tree(me) | _ancestors(me))


def _cgroup_sample() -> dict | None:
    groups = _own_cgroups()
    if "" in groups and groups[""] not in ("", "/"):
        d = CGROUP_ROOT / groups[""].lstrip("/")
        current = _read(d / "memory.current")
        stat = _read(d / "cpu.stat")
        if current is not None and stat is not None and _is_own(d):
            usec = next((int(l.split()[1]) for l in stat.splitlines() if l.startswith("usage_usec")), 0)
            mem_max = _read(d / "memory.max")
            quota, _, period = (_read(d / "cpu.max") or "max 100000").partition(" ")
            return {
                "source": "cgroup-v2",
                "cpuSeconds": usec / 1e6,
                "memoryBytes": int(current),
                "memoryLimit": None if mem_max in (None, "max") else int(mem_max),
                "cpuLimit": None if quota == "max" else int(quota) / int(period or 100000),
            }
    if "memory" in groups and groups["memory"] not in ("", "/"):
        mem = CGROUP_ROOT / "memory" / groups["memory"].lstrip("/")
        cpu_path = groups.get("cpuacct", groups.get("cpu", "/"))
        cpu = next(
            (CGROUP_ROOT / n / cpu_path.lstrip("/") for n in ("cpuacct", "cpu,cpuacct", "cpu")
             if (CGROUP_ROOT / n / cpu_path.lstrip("/") / "cpuacct.usage").exists()),
            None,
        )
        usage = _read(mem / "memory.usage_in_bytes")
        if usage is not None and cpu is not None and _is_own(mem):
            limit = int(_read(mem / "memory.limit_in_bytes") or NO_LIMIT)
            quota = int(_read(cpu / "cpu.cfs_quota_us") or -1)
            period = int(_read(cpu / "cpu.cfs_period_us") or 100000)
            return {
                "source": "cgroup-v1",
                "cpuSeconds": int(_read(cpu / "cpuacct.usage") or 0) / 1e9,
                "memoryBytes": int(usage),
                "memoryLimit": None if limit >= NO_LIMIT else limit,
                "cpuLimit": None if quota <= 0 else quota / period,
            }
    return None


def _tree_sample() -> dict:
    cpu = 0.0
    rss = 0
    for pid in _tree(os.getpid()):
        stat = _read(Path(f"/proc/{pid}/stat"))
        statm = _read(Path(f"/proc/{pid}/statm"))
        if not stat or not statm:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        cpu += (int(fields[11]) + int(fields[12])) / TICKS
        rss += int(statm.split()[1]) * PAGE
    return {
        "source": "process-tree",
        "cpuSeconds": cpu,
        "memoryBytes": rss,
        "memoryLimit": None,
        "cpuLimit": None,
    }


class UsageSampler:
    """CPU as a rate needs two samples: the previous request's, or two taken now."""

    def __init__(self) -> None:
        self._last: tuple[float, float] | None = None

    def sample(self) -> dict:
        first = _cgroup_sample() or _tree_sample()
        now = time.monotonic()
        if self._last is None or now - self._last[0] > 60:
            time.sleep(0.1)
            previous = (now, first["cpuSeconds"])
            first = _cgroup_sample() or _tree_sample()
            now = time.monotonic()
        else:
            previous = self._last
        self._last = (now, first["cpuSeconds"])
        elapsed = max(now - previous[0], 1e-3)
        return {
            "source": first["source"],
            "cpu": {"usedCores": max(0.0, (first["cpuSeconds"] - previous[1]) / elapsed), "limitCores": first["cpuLimit"]},
            "memory": {"usedBytes": first["memoryBytes"], "limitBytes": first["memoryLimit"]},
            "sampledAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }


class UsageHandler(APIHandler):
    sampler = UsageSampler()

    @web.authenticated
    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(self.sampler.sample()))


def setup_handlers(web_app) -> None:  # noqa: ANN001 - tornado's Application
    base = web_app.settings["base_url"]
    web_app.add_handlers(".*$", [(url_path_join(base, "hotstepper-local", "usage"), UsageHandler)])
