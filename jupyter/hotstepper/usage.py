"""Live CPU and memory of this Jupyter server, as its container sees them.

On Kubernetes the server runs in a container whose cgroup holds its limits: we read the cgroup
(v2: memory.current, memory.max, cpu.stat, cpu.max; v1: the memory and cpuacct controllers).
Host totals (psutil's view) would show the node's 96 CPUs and 500 GB, which is the complaint of
jupyter-resource-usage#43, so we never use them. When the cgroup is not the server's own (a local
process spawner: one cgroup shared with other users' servers), we add up this server's process
tree instead and report no limit. The status bar polls <base_url>/hotstepper-local/usage.

Without a cgroup namespace (containerd 1.6 on cgroup v1) /proc/self/cgroup shows the host's path,
e.g. /kubepods/burstable/pod<uid>/<container>, while the container's /sys/fs/cgroup/<controller> is
a bind mount of that very cgroup, so the path is not there: we then read the mount's root, but only
when it holds just this server (the same check as above), never a host-wide cgroup.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web

# Module-level so that tests can point them at fake trees
CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC = Path("/proc")
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
    for line in (_read(PROC / "self" / "cgroup") or "").splitlines():
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            out[name] = path
    return out


def _ppid(pid: int) -> int | None:
    stat = _read(PROC / str(pid) / "stat")
    try:
        return int(stat.rsplit(")", 1)[1].split()[1]) if stat else None
    except (IndexError, ValueError):
        return None


def _tree(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
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


def _mount(controller: str) -> Path | None:
    """Where a v1 controller is mounted: under its own name, or a combined one (cpu,cpuacct)."""
    if (CGROUP_ROOT / controller).is_dir():
        return CGROUP_ROOT / controller
    try:
        names = sorted(entry.name for entry in CGROUP_ROOT.iterdir())
    except OSError:
        return None
    # Not every runtime adds the cpu and cpuacct symlinks next to cpu,cpuacct
    return next((CGROUP_ROOT / n for n in names if controller in n.split(",")), None)


def _cgroup_dir(mount: Path | None, path: str) -> Path | None:
    """Our cgroup's directory under a mount, from its path in /proc/self/cgroup; None unless that
    cgroup holds just this server (each controller is checked: memory can be the server's own while
    cpuacct is the host's root, and the root's usage is not the server's)."""
    if mount is None:
        return None
    d = mount / path.lstrip("/")
    if not d.is_dir():
        # No cgroup namespace: the path is the host's, and the mount may be a bind mount of our own
        # cgroup. _is_own tells that from a host's root, which holds everyone.
        d = mount
    return d if _is_own(d) else None


def _cgroup_sample() -> dict | None:
    groups = _own_cgroups()
    # "/" counts too: in a cgroup namespace it is the container's own cgroup, while a host's root
    # fails _is_own (it holds every process).
    d = _cgroup_dir(CGROUP_ROOT, groups[""]) if groups.get("") else None
    if d is not None:
        current = _read(d / "memory.current")
        stat = _read(d / "cpu.stat")
        if current is not None and stat is not None:
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
    mem = _cgroup_dir(_mount("memory"), groups["memory"]) if groups.get("memory") else None
    acct = _cgroup_dir(_mount("cpuacct"), groups["cpuacct"]) if groups.get("cpuacct") else None
    if mem is not None and acct is not None:
        # The quota is the cpu controller's, usage cpuacct's: one directory when they are mounted
        # together (cpu,cpuacct), two when they are separate hierarchies.
        cpu = _cgroup_dir(_mount("cpu"), groups["cpu"]) if groups.get("cpu") else None
        usage = _read(mem / "memory.usage_in_bytes")
        cpu_usage = _read(acct / "cpuacct.usage")
        if usage is not None and cpu_usage is not None:
            limit = int(_read(mem / "memory.limit_in_bytes") or NO_LIMIT)
            quota = int(_read(cpu / "cpu.cfs_quota_us") or -1) if cpu else -1
            period = int(_read(cpu / "cpu.cfs_period_us") or 100000) if cpu else 100000
            return {
                "source": "cgroup-v1",
                "cpuSeconds": int(cpu_usage) / 1e9,
                "memoryBytes": int(usage),
                "memoryLimit": None if limit >= NO_LIMIT else limit,
                "cpuLimit": None if quota <= 0 else quota / period,
            }
    return None


def _tree_sample() -> dict:
    cpu = 0.0
    rss = 0
    for pid in _tree(os.getpid()):
        stat = _read(PROC / str(pid) / "stat")
        statm = _read(PROC / str(pid) / "statm")
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
