"""Why a server pod will not start (hotstepper/spawnfaults.py), from pods as the kubelet reports them.

Runs with either `python3 -m pytest jupyter/tests` or `python3 -m unittest discover -s jupyter/tests`;
needs neither KubeSpawner nor Jupyter.
"""

from __future__ import annotations

import importlib.util
import sys
import unittest
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "hotstepper_spawnfaults", Path(__file__).parents[1] / "hotstepper" / "spawnfaults.py"
)
faults = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = faults  # dataclasses look their module up there
_spec.loader.exec_module(faults)

IMAGE = "127.0.0.1:5000/notebook:nope"
NOT_FOUND = (
    f'rpc error: code = NotFound desc = failed to pull and unpack image "{IMAGE}": '
    f'failed to resolve reference "{IMAGE}": {IMAGE}: not found'
)


def pod(*statuses, phase="Pending", image=IMAGE, **status):
    return {
        "metadata": {"name": "jupyter-alice", "uid": "u1"},
        "spec": {"containers": [{"name": "notebook", "image": image}]},
        "status": {"phase": phase, "containerStatuses": list(statuses), **status},
    }


def waiting(reason, message=None):
    state = {"waiting": {"reason": reason, **({"message": message} if message else {})}}
    return {"name": "notebook", "image": IMAGE, "ready": False, "state": state}


class PullFaults(unittest.TestCase):
    def test_err_image_pull_names_the_image_and_the_registry_reason(self):
        fault = faults.pod_fault(pod(waiting("ErrImagePull", NOT_FOUND)))
        self.assertEqual(fault.kind, "image")
        self.assertTrue(fault.message.startswith(f"The image {IMAGE} could not be pulled: "))
        self.assertEqual(fault.message, f"The image {IMAGE} could not be pulled: not found")

    def test_a_pull_error_keeps_what_is_not_the_image_name(self):
        refused = (
            f'rpc error: code = Unknown desc = failed to pull and unpack image "{IMAGE}": '
            f'failed to resolve reference "{IMAGE}": failed to do request: '
            'Head "http://127.0.0.1:5000/v2/notebook/manifests/nope": dial tcp 127.0.0.1:5000: '
            "connect: connection refused"
        )
        fault = faults.pod_fault(pod(waiting("ErrImagePull", refused)))
        self.assertEqual(
            fault.message,
            f"The image {IMAGE} could not be pulled: failed to do request: "
            'Head "http://127.0.0.1:5000/v2/notebook/manifests/nope": dial tcp 127.0.0.1:5000: '
            "connect: connection refused",
        )

    def test_backoff_keeps_the_reason_of_the_pull_before_it(self):
        remembered = {}
        self.assertIsNotNone(faults.pod_fault(pod(waiting("ErrImagePull", NOT_FOUND)), remembered))
        backoff = pod(waiting("ImagePullBackOff", f'Back-off pulling image "{IMAGE}"'))
        fault = faults.pod_fault(backoff, remembered)
        self.assertIn("not found", fault.message)
        self.assertNotIn("Back-off", fault.message)

    def test_backoff_alone_takes_the_reason_from_the_failed_event(self):
        backoff = pod(waiting("ImagePullBackOff", f'Back-off pulling image "{IMAGE}"'))
        event = f'Failed to pull image "{IMAGE}": {NOT_FOUND}'
        fault = faults.pod_fault(backoff, {}, ["Error: ErrImagePull", event])
        self.assertEqual(fault.message, f"The image {IMAGE} could not be pulled: not found")
        # and with nothing to go on, still the kubelet's reason
        self.assertIn("ImagePullBackOff", faults.pod_fault(pod(waiting("ImagePullBackOff"))).message)

    def test_invalid_image_name(self):
        bad = "127.0.0.1:5000/Note Book::x"
        message = f'Failed to apply default image tag "{bad}": couldn\'t parse image name'
        fault = faults.pod_fault(pod(waiting("InvalidImageName", message), image=bad))
        self.assertEqual(fault.kind, "image")
        self.assertIn(f"The image name {bad} is not valid", fault.message)
        self.assertIn("couldn't parse image name", fault.message)


class ExitFaults(unittest.TestCase):
    def test_a_container_that_exited(self):
        status = {
            "name": "notebook",
            "ready": False,
            "state": {"terminated": {"reason": "Error", "exitCode": 1}},
        }
        fault = faults.pod_fault(pod(status, phase="Running"))
        self.assertEqual(fault.kind, "exited")
        self.assertEqual(fault.container, "notebook")
        self.assertFalse(fault.previous)
        self.assertTrue(fault.message.endswith("Error, exit code 1"), fault.message)

    def test_a_crash_loop_reports_the_last_termination(self):
        status = {
            "name": "notebook",
            "ready": False,
            "restartCount": 2,
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 20s"}},
            "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}},
        }
        fault = faults.pod_fault(pod(status, phase="Running"))
        self.assertEqual(fault.kind, "exited")
        self.assertTrue(fault.previous)
        self.assertIn("OOMKilled, exit code 137", fault.message)

    def test_a_running_or_pending_pod_is_no_fault(self):
        running = {"name": "notebook", "ready": True, "state": {"running": {}}}
        self.assertIsNone(faults.pod_fault(pod(running, phase="Running")))
        self.assertIsNone(faults.pod_fault(pod(waiting("ContainerCreating"))))
        self.assertIsNone(faults.pod_fault(pod()))
        self.assertIsNone(faults.pod_fault(None))

    def test_a_failed_pod(self):
        fault = faults.pod_fault(
            pod(phase="Failed", reason="Evicted", message="The node was low on resource: memory.")
        )
        self.assertEqual(fault.kind, "failed")
        self.assertIn("Evicted: The node was low on resource: memory.", fault.message)

    def test_create_container_config_error(self):
        fault = faults.pod_fault(pod(waiting("CreateContainerConfigError", 'secret "x" not found')))
        self.assertEqual(fault.kind, "create")
        self.assertIn('secret "x" not found', fault.message)


class ForAPerson(unittest.TestCase):
    def test_log_excerpt_keeps_the_last_lines(self):
        log = "\n".join(f"line {i}" for i in range(10)) + "\nboom\n"
        self.assertEqual(faults.log_excerpt(log), "line 6 | line 7 | line 8 | line 9 | boom")
        self.assertEqual(faults.log_excerpt(b"boom\n"), "boom")
        self.assertEqual(faults.log_excerpt(""), "")

    def test_log_excerpt_cuts_a_traceback_to_its_exception_and_hides_paths(self):
        log = "\n".join(
            [
                "[I 2026-12-07 ServerApp] starting",
                "Traceback (most recent call last):",
                '  File "/opt/notebook/lib/python3.11/site-packages/jupyter_server/serverapp.py", '
                "line 1, in main",
                "    raise ValueError('bad')",
                "ValueError: cannot read /home/jovyan/.jupyter/jupyter_server_config.json",
            ]
        )
        excerpt = faults.log_excerpt(log)
        self.assertNotIn("Traceback", excerpt)
        self.assertNotIn("File", excerpt)
        self.assertNotIn("/opt/", excerpt)
        self.assertNotIn("/home/jovyan", excerpt)
        self.assertIn("ValueError: cannot read …", excerpt)
        self.assertIn("starting", excerpt)

    def test_scrub_keeps_image_references_and_urls(self):
        text = f"{IMAGE}: open /var/lib/containerd/io.containerd/x: no such file (https://reg/v2/x)"
        scrubbed = faults.scrub(text)
        self.assertIn(IMAGE, scrubbed)
        self.assertNotIn("/var/lib", scrubbed)
        self.assertIn("https://reg/v2/x", scrubbed)
        self.assertLessEqual(len(faults.scrub("x" * 1000)), faults.MAX_DETAIL)


if __name__ == "__main__":
    unittest.main()
