"""The hub home page's section (hotstepper/hubhome.py, templates/hotstepper/section.html): the
companion's answers as badges, free GPUs and costs, in the user's units; what did not answer as
"not available right now"; the everyone table only for operators.

Runs with either pytest or unittest; needs neither JupyterHub nor tornado (jinja2 for rendering).
"""

from __future__ import annotations

import importlib.util
import re
import sys
import unittest
from datetime import datetime, timezone
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "hotstepper_hubhome", Path(__file__).parents[1] / "hotstepper" / "hubhome.py"
)
hubhome = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = hubhome  # dataclasses look their module up there
_spec.loader.exec_module(hubhome)
Failed = hubhome.Failed

try:
    import jinja2
except ImportError:  # pragma: no cover
    jinja2 = None

NOW = datetime(2026, 12, 7, 10, 30, tzinfo=timezone.utc)
GIB = 2**30


def gauge(used, limit, request=None):
    return {"used": used, "limit": limit, "request": request}


LIVE = {
    "kubernetes": "connected",
    "prometheus": {"state": "connected", "detail": ""},
    "pods": [
        {
            "name": "train-demo",
            "namespace": "hs-alice",
            "kind": "job",
            "phase": "Running",
            "cpu": gauge(1.6, 2),
            "memory": gauge(7.5 * GIB, 8 * GIB),
            "gpus": [{"gpu": "0", "model": "A100", "profile": None, "utilisation": 0.8,
                      "memoryUsedBytes": 1}],
        },
        {
            "name": "jupyter-alice",
            "namespace": "hs-alice",
            "kind": "server",
            "phase": "Running",
            "cpu": gauge(0.25, 1),
            "memory": gauge(512 * 2**20, 1 * GIB),
            "gpus": [],
        },
    ],
    "totals": {"cpu": gauge(None, None), "memory": gauge(None, None), "gpu": gauge(None, None)},
    "updatedAt": "2026-12-07T10:30:00Z",
}

HISTORY = {
    "user": "alice",
    "days": 90,
    "from": "2026-09-09",
    "to": "2026-12-07",
    "currency": "CZK",
    "charge": "requests",
    "rows": [
        {"day": "2026-11-30", "resource": "cpu", "kind": "cpu", "unit": "core-hours",
         "requested": 1, "used": 1, "unmeasured": 0, "cost": 67.7},
        {"day": "2026-12-01", "resource": "cpu", "kind": "cpu", "unit": "core-hours",
         "requested": 1, "used": 1, "unmeasured": 0, "cost": 10.0},
        {"day": "2026-12-06", "resource": "memory", "kind": "memory", "unit": "GiB-hours",
         "requested": 1, "used": 1, "unmeasured": 0, "cost": 2.4},
    ],
    "totals": {"cost": 80.1, "thisMonthCost": 12.4, "byResource": []},
    "meteredUntil": "2026-12-07T10:00:00Z",
}

GPUS = {
    "models": [
        {"product": "NVIDIA-A100-SXM4-80GB", "memoryMiB": 81920, "simulated": True, "total": 8,
         "free": 3, "unavailable": 1, "nodes": 2}
    ],
    "migProfiles": [
        {"profile": "1g.10gb", "product": "NVIDIA-A100-SXM4-80GB", "simulated": False,
         "total": 20, "free": 5, "unavailable": 0, "nodes": 1}
    ],
    "updatedAt": "2026-12-07T10:30:00Z",
    "stale": False,
}

USERS90 = {
    "days": 90, "from": "2026-09-09", "to": "2026-12-07", "currency": "CZK",
    "users": [
        {"user": "bob", "cost": 1234.5, "cpuCoreHours": 100, "memoryGibHours": 400,
         "gpuHours": 3, "migHours": 0.5},
        {"user": "alice", "cost": 80.1, "cpuCoreHours": 12, "memoryGibHours": 30,
         "gpuHours": 0, "migHours": 0},
    ],
}
USERS_MONTH = {**USERS90, "days": 7, "users": [
    {"user": "alice", "cost": 12.4, "cpuCoreHours": 1, "memoryGibHours": 2, "gpuHours": 0,
     "migHours": 0}]}

ALL = {"live": LIVE, "history": HISTORY, "gpus": GPUS, "users90": USERS90,
       "usersMonth": USERS_MONTH}


def render(view):
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(hubhome.TEMPLATES)), autoescape=True
    )
    html = env.get_template("hotstepper/section.html").render(hs=view, base_url="/hub/")
    return re.sub(r"\s+", " ", html)


class UnitsTest(unittest.TestCase):
    def test_cores_memory_and_money_as_the_usage_panel_writes_them(self):
        self.assertEqual(hubhome.cores_unit(1), "1 core")
        self.assertEqual(hubhome.cores_unit(0.25), "0.25 cores")
        self.assertEqual(hubhome.cores_unit(2.5), "2.5 cores")
        self.assertEqual(hubhome.memory(512 * 2**20), "512 MiB")
        self.assertEqual(hubhome.memory(1.5 * GIB), "1.5 GiB")
        self.assertEqual(hubhome.memory(16 * GIB), "16 GiB")
        self.assertEqual(hubhome.money(12.4, "CZK"), "CZK 12.40")
        self.assertEqual(hubhome.money(1234.5, "CZK"), "CZK 1,234.50")

    def test_badges_turn_amber_at_70_and_red_at_90_percent_with_the_figure_in_words(self):
        green = hubhome.badge("CPU", gauge(0.25, 1), hubhome.cores_unit)
        self.assertEqual((green["level"], green["percent"]), ("success", 25))
        self.assertEqual(green["summary"], "CPU 0.25 cores of 1 core (25 %)")
        self.assertEqual(hubhome.badge("CPU", gauge(0.7, 1), hubhome.cores)["level"], "warning")
        red = hubhome.badge("RAM", gauge(1.2 * GIB, GIB), hubhome.memory)
        self.assertEqual((red["level"], red["percent"], red["bar"]), ("danger", 120, 100))
        unknown = hubhome.badge("RAM", gauge(None, GIB), hubhome.memory)
        self.assertEqual((unknown["level"], unknown["text"]), ("secondary", "not measured yet (limit 1.0 GiB)"))
        self.assertEqual(hubhome.badge("CPU", gauge(0.5, None), hubhome.cores)["text"],
                         "0.5 (no limit)")


class CostTest(unittest.TestCase):
    def test_this_month_and_the_90_days_come_from_the_companions_totals(self):
        self.assertEqual(hubhome.month_and_total(HISTORY), (12.4, 80.1))

    def test_without_totals_the_rows_of_the_utc_month_of_to_are_summed(self):
        bare = {**HISTORY, "totals": {}}
        month, total = hubhome.month_and_total(bare)
        self.assertAlmostEqual(month, 12.4)
        self.assertAlmostEqual(total, 80.1)

    def test_this_month_asks_for_the_utc_days_so_far(self):
        paths = hubhome.requests_for(True, NOW)
        self.assertEqual(paths["usersMonth"], "/api/v1/usage/users?days=7")
        self.assertEqual(paths["history"], "/api/v1/usage/history?days=90")
        self.assertNotIn("users90", hubhome.requests_for(False, NOW))


class ViewTest(unittest.TestCase):
    def test_server_pods_are_named_as_the_hub_names_them_and_come_first(self):
        view = hubhome.build_view(ALL, {"": "jupyter-alice"}, False, NOW)
        titles = [i["title"] for i in view["servers"]["items"]]
        self.assertEqual(titles, ["Default server", "Job train-demo"])
        self.assertEqual(view["servers"]["items"][1]["gpus"], 1)
        self.assertEqual(view["updated"], "10:30 UTC")

    def test_free_gpus_per_model_and_mig_profile_with_squares_capped(self):
        gpus = hubhome.build_view(ALL, {}, False, NOW)["gpus"]
        self.assertEqual(gpus["models"][0]["squares"], [True] * 3 + [False] * 5)
        self.assertTrue(gpus["models"][0]["simulated"])
        mig = gpus["mig"][0]
        self.assertEqual((mig["label"], mig["free"], len(mig["squares"]), mig["more"]),
                         ("1g.10gb on NVIDIA-A100-SXM4-80GB", 5, 16, 4))

    def test_everyone_only_for_operators_and_hidden_when_the_companion_refuses(self):
        self.assertIsNone(hubhome.build_view(ALL, {}, False, NOW)["everyone"])
        everyone = hubhome.build_view(ALL, {}, True, NOW)["everyone"]
        self.assertEqual([r["user"] for r in everyone["rows"]], ["bob", "alice"])
        self.assertEqual(everyone["rows"][0]["month"], "CZK 0.00")
        self.assertEqual(everyone["rows"][0]["total"], "CZK 1,234.50")
        self.assertEqual(everyone["rows"][0]["gpu"], "3.5")
        refused = {**ALL, "users90": Failed(403), "usersMonth": Failed(403)}
        self.assertIsNone(hubhome.build_view(refused, {}, True, NOW)["everyone"])
        down = {**ALL, "users90": Failed(None), "usersMonth": Failed(None)}
        self.assertEqual(hubhome.build_view(down, {}, True, NOW)["everyone"],
                         {"available": False})

    def test_operators_by_admin_flag_or_group(self):
        class Group:
            def __init__(self, name):
                self.name = name

        class User:
            def __init__(self, admin, groups):
                self.admin, self.groups = admin, [Group(g) for g in groups]

        self.assertTrue(hubhome.is_operator(User(True, [])))
        self.assertTrue(hubhome.is_operator(User(False, ["hotstepper-admins"])))
        self.assertFalse(hubhome.is_operator(User(False, ["students"])))


@unittest.skipIf(jinja2 is None, "jinja2 is not installed")
class RenderTest(unittest.TestCase):
    def test_everything_answered(self):
        html = render(hubhome.build_view(ALL, {"": "jupyter-alice"}, True, NOW))
        self.assertIn("This month: <strong>CZK 12.40</strong>", html)
        self.assertIn("Last 90 days: <strong>CZK 80.10</strong>", html)
        self.assertIn("CPU</strong> 0.25 cores of 1 core (25 %)", html)
        self.assertIn("RAM</strong> 512 MiB of 1.0 GiB (50 %)", html)
        self.assertIn("RAM</strong> 7.5 GiB of 8.0 GiB (94 %)", html)
        self.assertIn("bg-danger", html)
        self.assertIn("3 of 8 free", html)
        self.assertIn("(simulated)", html)
        self.assertEqual(html.count("(simulated)"), 1)  # the MIG slices are not
        self.assertIn("5 of 20 free", html)
        self.assertIn("Everyone (operators)", html)
        self.assertIn("/hub/user-redirect/lab", html)
        self.assertNotIn("not available right now", html)

    def test_nothing_answered_is_not_available_right_now_never_an_error(self):
        html = render(hubhome.build_view({}, {}, True, NOW))
        self.assertEqual(html.count("not available right now"), 4)
        self.assertNotIn("Traceback", html)

    def test_a_student_sees_no_everyone_table_and_empty_states(self):
        empty = {**ALL, "live": {**LIVE, "pods": []}, "gpus": {**GPUS, "models": [],
                                                               "migProfiles": []}}
        html = render(hubhome.build_view(empty, {}, False, NOW))
        self.assertNotIn("Everyone", html)
        self.assertIn("No server or job running", html)
        self.assertIn("This cluster has no GPUs", html)

    def test_names_from_the_cluster_are_escaped(self):
        odd = {**ALL, "live": {**LIVE, "pods": [{**LIVE["pods"][1], "kind": "other",
                                                 "name": "<script>x</script>"}]}}
        html = render(hubhome.build_view(odd, {}, False, NOW))
        self.assertNotIn("<script>x", html)


if __name__ == "__main__":
    unittest.main()
