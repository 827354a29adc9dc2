"""The spawner's side of the spawn options check (hotstepper/spawnoptions.py): the form as a
SpawnRequest, the companion's answers as pod settings or a sentence for the user.

Runs with either pytest or unittest, like test_spawnfaults.py; needs neither KubeSpawner nor Jupyter.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import unittest
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "hotstepper_spawnoptions", Path(__file__).parents[1] / "hotstepper" / "spawnoptions.py"
)
options = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = options  # dataclasses look their module up there
_spec.loader.exec_module(options)
pod_settings = options.pod_settings
refusal_message = options.refusal_message
request_from_form = options.request_from_form
spawn_request = options.spawn_request


class SpawnOptionsTest(unittest.TestCase):
    def test_form_fields_become_a_spawn_request(self):
        form = {
            "image": ["registry.example.org/notebook:1 "],
            "cpu": ["0.5"],
            "memory": ["1.5"],
            "gpu": ["mig:1g.10gb"],
            "home": ["keep"],
            "volumes": ["shared", ""],
            "confirmHome": [""],
        }
        assert request_from_form(form) == {
            "image": "registry.example.org/notebook:1",
            "cpu": 0.5,
            "memory": 1.5,
            "gpu": {"mig": "1g.10gb"},
            "home": "keep",
            "volumes": ["shared"],
        }
        assert request_from_form({"gpu": ["model:NVIDIA-A100-SXM4-80GB"]}) == {
            "gpu": {"model": "NVIDIA-A100-SXM4-80GB"}
        }
        # Left for the companion's validation to name, not guessed here.
        assert request_from_form({"cpu": ["lots"]}) == {"cpu": "lots"}
        assert request_from_form({"gpu": [""]}) == {}


    def test_the_spawner_names_the_server_and_says_it_is_spawning(self):
        assert spawn_request({}, "") == {"server": "", "spawning": True}
        # What the user sent cannot choose another server or skip remembering.
        sent = {"cpu": 1, "server": "other", "spawning": False}
        assert spawn_request(sent, "gpu") == {"cpu": 1, "server": "gpu", "spawning": True}


    def test_refusals_read_as_sentences(self):
        problem = {"code": "spawn_refused", "detail": "The server cannot start. CPU must be..."}
        assert refusal_message(422, json.dumps(problem)) == problem["detail"]
        bad = {"code": "validation_failed", "detail": "The request is not valid: /cpu must be number."}
        assert refusal_message(400, json.dumps(bad)) == (
            "The spawn options are not valid: The request is not valid: /cpu must be number."
        )
        assert refusal_message(502, b"<html>") == (
            "The spawn options could not be checked by the Hotstepper companion: it answered 502"
        )


    def test_pod_settings_from_a_check(self):
        check = {
            "ok": True,
            "request": {},
            "pod": {
                "image": "r/n:1",
                "cpu": 0.5,
                "memoryBytes": 1610612736,
                "extraResourceLimits": {"nvidia.com/mig-1g.10gb": "1"},
                "nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"},
                "volumes": [
                    {"name": "shared", "claimName": "shared", "mountPath": "/s", "readOnly": True}
                ],
                "freshHome": False,
            },
        }
        s = pod_settings(check)
        assert (s.image, s.cpu, s.mem) == ("r/n:1", 0.5, 1610612736)
        assert s.extra_resource_limits == {"nvidia.com/mig-1g.10gb": "1"}
        assert s.volumes == [
            {
                "name": "hs-spawn-shared",
                "persistentVolumeClaim": {"claimName": "shared", "readOnly": True},
            }
        ]
        assert s.volume_mounts == [{"name": "hs-spawn-shared", "mountPath": "/s", "readOnly": True}]
        assert s.fresh_home is False


if __name__ == "__main__":
    unittest.main()
