"""The server's own limits from its cgroup (hotstepper/usage.py), against fake /proc and cgroup trees.

Runs with either `python3 -m pytest jupyter/tests` or `python3 -m unittest discover -s jupyter/tests`.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
import types
import unittest
from pathlib import Path

try:
    import jupyter_server.base.handlers  # noqa: F401
except ImportError:
    # Reading cgroups needs no Jupyter server; stand in for the handler's imports so that the test
    # also runs under a python3 that has pytest but not Jupyter (the dev venv has the reverse).
    def _module(name: str, **attrs: object) -> None:
        module = types.ModuleType(name)
        module.__dict__.update(attrs)
        sys.modules.setdefault(name, module)

    _module("jupyter_server")
    _module("jupyter_server.base")
    _module("jupyter_server.base.handlers", APIHandler=object)
    _module("jupyter_server.utils", url_path_join=lambda *parts: "/".join(parts))
    _module("tornado")
    _module("tornado.web", authenticated=lambda method: method)
    sys.modules["tornado"].web = sys.modules["tornado.web"]

# The working tree's file by its path: not a copy installed in the dev venv, and without the
# package's __init__, which sets up the proxy and everything else.
_spec = importlib.util.spec_from_file_location(
    "hotstepper_usage", Path(__file__).resolve().parents[1] / "hotstepper" / "usage.py"
)
usage = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(usage)

GIB = 1 << 30
POD = "/hotstepper-26000/kubepods/burstable/pod6f0c3a2e-1b7d-4c55-9a0e-0d3c1f2b4a99/3f1e9c0d7a"


class FakeHost:
    """A temp dir standing in for /proc and /sys/fs/cgroup, with this server as os.getpid()."""

    def __init__(self, root: Path) -> None:
        self.proc = root / "proc"
        self.cgroup = root / "cgroup"
        self.cgroup.mkdir(parents=True)
        self.me = os.getpid()
        # Pid 1 is the container's init (our ancestor), one child is a kernel of this server, and
        # another user's server is nobody we know.
        self.init = 1 if self.me != 1 else 2
        self.kernel = self.me + 1
        self.stranger = self.me + 2
        self.process(self.init, 0)
        self.process(self.me, self.init)
        self.process(self.kernel, self.me)
        self.process(self.stranger, self.init)
        self.ours = [self.init, self.me, self.kernel]

    def process(self, pid: int, ppid: int) -> None:
        d = self.proc / str(pid)
        d.mkdir(parents=True)
        # utime 100 and stime 50 ticks; the comm has a space and a ")" as real ones can
        (d / "stat").write_text(f"{pid} (py (x)) S {ppid} {pid} {pid} 0 -1 4194304 0 0 0 0 100 50 0 0 20 0 1 0\n")
        (d / "statm").write_text("1000 250 100 1 0 200 0\n")

    def self_cgroup(self, text: str) -> None:
        (self.proc / "self").mkdir(exist_ok=True)
        (self.proc / "self" / "cgroup").write_text(text.strip() + "\n")

    def files(self, directory: str, pids: list[int] | None, **files: str) -> Path:
        """A cgroup directory; pids None leaves out cgroup.procs (as a v1 tmpfs root has none)."""
        d = self.cgroup / directory.lstrip("/")
        d.mkdir(parents=True, exist_ok=True)
        if pids is not None:
            (d / "cgroup.procs").write_text("".join(f"{p}\n" for p in pids))
        for name, text in files.items():
            (d / name.replace("__", ".")).write_text(text + "\n")
        return d

    def link(self, name: str, target: str) -> None:
        (self.cgroup / name).symlink_to(target)


class CgroupLimits(unittest.TestCase):
    def setUp(self) -> None:
        temp = tempfile.TemporaryDirectory()
        self.addCleanup(temp.cleanup)
        self.host = FakeHost(Path(temp.name))
        for name, value in (("CGROUP_ROOT", self.host.cgroup), ("PROC", self.host.proc)):
            self.addCleanup(setattr, usage, name, getattr(usage, name))
            setattr(usage, name, value)

    def limits(self) -> dict:
        """What the status bar gets, through the sampler (two samples 0.1 s apart)."""
        out = usage.UsageSampler().sample()
        return {"source": out["source"], "memory": out["memory"]["limitBytes"], "cpu": out["cpu"]["limitCores"]}

    def v1_container(self, host: FakeHost, procs: list[int], symlinks: bool) -> None:
        """containerd on v1 without a cgroup namespace: each mount is a bind mount of our cgroup."""
        host.self_cgroup(f"""
12:pids:{POD}
11:memory:{POD}
4:cpu,cpuacct:{POD}
1:name=systemd:{POD}
0::/
""")
        host.files("memory", procs, memory__usage_in_bytes=str(300 << 20), memory__limit_in_bytes=str(2 * GIB))
        host.files("cpu,cpuacct", procs, cpuacct__usage="5000000000", cpu__cfs_quota_us="150000", cpu__cfs_period_us="100000")
        if symlinks:
            host.link("cpu", "cpu,cpuacct")
            host.link("cpuacct", "cpu,cpuacct")

    def test_v1_container_without_namespace_reads_the_mount_root(self) -> None:
        self.v1_container(self.host, self.host.ours, symlinks=True)
        self.assertEqual(self.limits(), {"source": "cgroup-v1", "memory": 2 * GIB, "cpu": 1.5})

    def test_v1_container_combined_mount_without_symlinks(self) -> None:
        # Only /sys/fs/cgroup/cpu,cpuacct, no cpu and cpuacct links beside it
        self.v1_container(self.host, self.host.ours, symlinks=False)
        self.assertEqual(self.limits(), {"source": "cgroup-v1", "memory": 2 * GIB, "cpu": 1.5})

    def test_v1_mount_root_shared_with_others_is_not_ours(self) -> None:
        # The same layout, but the mount's root also holds another user's server: a host-wide (or
        # at least not our own) limit must never be reported as the server's.
        self.v1_container(self.host, self.host.ours + [self.host.stranger], symlinks=True)
        self.assertEqual(self.limits(), {"source": "process-tree", "memory": None, "cpu": None})

    def test_v1_cpu_mount_root_not_ours(self) -> None:
        # Memory is our own bind mount but cpu,cpuacct's root holds someone else: its quota and
        # usage are not the server's, so no cgroup figures at all (the process tree instead).
        self.v1_container(self.host, self.host.ours, symlinks=True)
        (self.host.cgroup / "cpu,cpuacct" / "cgroup.procs").write_text(f"{self.host.stranger}\n{self.host.me}\n")
        self.assertEqual(self.limits(), {"source": "process-tree", "memory": None, "cpu": None})

    def test_v1_cpuacct_at_the_root_is_not_ours(self) -> None:
        # Memory in a cgroup of its own, cpu and cpuacct in the root with everyone (a sandbox
        # limiting memory alone): the root's CPU usage is the machine's, not the server's.
        self.host.self_cgroup("""
4:memory:/process_api/6397f780
2:cpuacct:/
1:cpu:/
0::/
""")
        everyone = self.host.ours + [self.host.stranger]
        self.host.files("memory/process_api/6397f780", self.host.ours, memory__usage_in_bytes=str(300 << 20), memory__limit_in_bytes=str(2 * GIB))
        self.host.files("cpuacct", everyone, cpuacct__usage="14725000000000")
        self.host.files("cpu", everyone, cpu__cfs_quota_us="-1", cpu__cfs_period_us="100000")
        self.assertEqual(self.limits(), {"source": "process-tree", "memory": None, "cpu": None})

    def host_path(self, cpu_mounts: dict[str, tuple[str, ...]]) -> None:
        """The host's view (or a bind mount of the whole hierarchy): our path is there under each
        mount, whose root holds everyone. cpu_mounts: mount name -> which of the cpu files it has."""
        everyone = self.host.ours + [self.host.stranger]
        self.host.files("memory", everyone, memory__usage_in_bytes=str(64 * GIB), memory__limit_in_bytes=str(1 << 62))
        self.host.files("memory/hotstepper/alice", self.host.ours, memory__usage_in_bytes=str(300 << 20), memory__limit_in_bytes=str(4 * GIB))
        root = {"cpuacct.usage": "9000000000000", "cpu.cfs_quota_us": "-1", "cpu.cfs_period_us": "100000"}
        ours = {"cpuacct.usage": "5000000000", "cpu.cfs_quota_us": "200000", "cpu.cfs_period_us": "100000"}
        for mount, names in cpu_mounts.items():
            self.host.files(mount, everyone, **{n.replace(".", "__"): root[n] for n in names})
            self.host.files(f"{mount}/hotstepper/alice", self.host.ours, **{n.replace(".", "__"): ours[n] for n in names})

    def test_v1_host_path_present(self) -> None:
        self.host.self_cgroup("""
11:memory:/hotstepper/alice
4:cpu,cpuacct:/hotstepper/alice
""")
        self.host_path({"cpu,cpuacct": ("cpuacct.usage", "cpu.cfs_quota_us", "cpu.cfs_period_us")})
        self.host.link("cpu", "cpu,cpuacct")
        self.host.link("cpuacct", "cpu,cpuacct")
        self.assertEqual(self.limits(), {"source": "cgroup-v1", "memory": 4 * GIB, "cpu": 2.0})

    def test_v1_host_path_cpu_and_cpuacct_apart(self) -> None:
        # Separate hierarchies: the quota is under cpu, the usage under cpuacct
        self.host.self_cgroup("""
11:memory:/hotstepper/alice
3:cpuacct:/hotstepper/alice
2:cpu:/hotstepper/alice
""")
        self.host_path({"cpuacct": ("cpuacct.usage",), "cpu": ("cpu.cfs_quota_us", "cpu.cfs_period_us")})
        self.assertEqual(self.limits(), {"source": "cgroup-v1", "memory": 4 * GIB, "cpu": 2.0})

    def test_v2_namespaced_root(self) -> None:
        self.host.self_cgroup("0::/")
        self.host.files("", self.host.ours, memory__current=str(300 << 20), memory__max=str(4 * GIB),
                        cpu__stat="usage_usec 5000000\nuser_usec 4000000\nsystem_usec 1000000", cpu__max="200000 100000")
        self.assertEqual(self.limits(), {"source": "cgroup-v2", "memory": 4 * GIB, "cpu": 2.0})

    def test_v2_without_namespace_reads_the_mount_root(self) -> None:
        self.host.self_cgroup(f"0::{POD}")
        self.host.files("", self.host.ours, memory__current=str(300 << 20), memory__max="max",
                        cpu__stat="usage_usec 5000000", cpu__max="50000 100000")
        self.assertEqual(self.limits(), {"source": "cgroup-v2", "memory": None, "cpu": 0.5})

    def test_v2_host_root_is_not_ours(self) -> None:
        # A server in the host's root cgroup: the root has every process and no limits of ours
        self.host.self_cgroup("0::/")
        self.host.files("", self.host.ours + [self.host.stranger], memory__current=str(64 * GIB),
                        memory__max=str(512 * GIB), cpu__stat="usage_usec 5000000", cpu__max="9600000 100000")
        self.assertEqual(self.limits(), {"source": "process-tree", "memory": None, "cpu": None})

    def test_shared_cgroup_of_a_local_spawner_reports_no_limit(self) -> None:
        # A local process spawner: this server shares one cgroup (with a limit) with other users'
        self.host.self_cgroup("""
11:memory:/system.slice/jupyterhub.service
4:cpu,cpuacct:/system.slice/jupyterhub.service
""")
        shared = self.host.ours + [self.host.stranger]
        self.host.files("memory", shared + [99999], memory__usage_in_bytes=str(64 * GIB), memory__limit_in_bytes=str(1 << 62))
        self.host.files("memory/system.slice/jupyterhub.service", shared, memory__usage_in_bytes=str(8 * GIB), memory__limit_in_bytes=str(16 * GIB))
        self.host.files("cpu,cpuacct/system.slice/jupyterhub.service", shared, cpuacct__usage="5000000000", cpu__cfs_quota_us="400000")
        self.host.link("cpu", "cpu,cpuacct")
        self.host.link("cpuacct", "cpu,cpuacct")
        out = usage.UsageSampler().sample()
        self.assertEqual(out["source"], "process-tree")
        self.assertEqual((out["memory"]["limitBytes"], out["cpu"]["limitCores"]), (None, None))
        # This server and its kernel, not the stranger: 250 resident pages each
        self.assertEqual(out["memory"]["usedBytes"], 2 * 250 * usage.PAGE)


if __name__ == "__main__":
    unittest.main()
