"""KubeSpawner that fails a spawn as soon as the kubelet says why the pod will not start.

    c.JupyterHub.spawner_class = "hotstepper.spawner.HotstepperKubeSpawner"

Plain KubeSpawner waits out `start_timeout` for a pod whose image cannot be pulled or whose
container exits, and the user reads only a timeout. This subclass watches the pod in KubeSpawner's
own pod reflector while `start()` is pending and, once the kubelet reports a fault (ErrImagePull,
ImagePullBackOff, InvalidImageName, a container that exited or crash-loops, ...), deletes the pod
and fails the spawn with the reason (hotstepper/spawnfaults.py): the hub's spawn-pending page and
its progress stream show "Spawn failed: <reason>". After the pod runs, it waits (at most
`http_timeout`, within what is left of `start_timeout`) for the server to answer, still watching,
so a server that dies on start fails with its exit reason and the tail of its log too.
Every `c.KubeSpawner.*` setting applies to it unchanged.

It also enforces the spawn options the Hotstepper companion owns: before anything starts (no
namespace, claim or pod), every submitted option (the spawn form's POST or the REST API's JSON
body) is checked with POST /api/v1/spawn/check as the user, and the companion's resolved settings
(image, CPU, memory, GPU or MIG slice, volumes) replace the configured ones; a refusal fails the
spawn with the companion's sentence (hotstepper/spawnoptions.py). `companion_url` empty: no check,
and user options have no effect (plain KubeSpawner without a profile_list ignores them).

With a companion, its options form is the spawn page (hotstepper/spawnform.py): the companion's
options for the user, the server's last options, the rate card and the GPUs free now, embedded
with the page's script (packages/spawn); the spawner's own defaults when the companion is down.

Importing this module needs jupyterhub-kubespawner; the rest of the package does not import it.
"""

from __future__ import annotations

import asyncio
import json
import os
import time

from jupyterhub import orm
from kubespawner import KubeSpawner
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from traitlets import Unicode, default

from .spawnfaults import Fault, log_excerpt, pod_fault
from .spawnform import defaults_data, form_data, render
from .spawnoptions import (
    Refusal,
    pod_settings,
    refusal_message,
    request_from_form,
    spawn_request,
)

POLL_SECONDS = 0.5
LOG_TIMEOUT_SECONDS = 5
CHECK_TIMEOUT_SECONDS = 15
# The spawn page waits at most this long for the companion, then shows the defaults.
FORM_TIMEOUT_SECONDS = 5
# What the check replaces; the configured values are kept once, so respawns start from them.
CHECKED_TRAITS = (
    "image",
    "cpu_guarantee",
    "cpu_limit",
    "mem_guarantee",
    "mem_limit",
    "extra_resource_limits",
    "node_selector",
    "volumes",
    "volume_mounts",
)


class SpawnFault(web.HTTPError):
    """A spawn that cannot succeed. An HTTPError, so that the hub logs it without a traceback;
    `jupyterhub_message` is what the hub shows the user."""

    def __init__(self, message: str):
        super().__init__(500, log_message=message.replace("%", "%%"))
        self.jupyterhub_message = message


class HotstepperKubeSpawner(KubeSpawner):
    """KubeSpawner, failing fast and clearly when the pod cannot become a server, and starting
    only with spawn options the companion has checked."""

    companion_url = Unicode(
        os.environ.get("HOTSTEPPER_URL", ""),
        config=True,
        help="The Hotstepper companion, which checks every spawn's options (empty: no check).",
    )

    @default("options_from_form")
    def _spawn_request_from_form(self):
        # The spawn form's fields as a SpawnRequest, which the check below sends as it is.
        return request_from_form

    @default("options_form")
    def _spawn_page_form(self):
        # Without a companion, KubeSpawner's own (a profile_list's form, or none).
        if not self.companion_url:
            return super()._options_form_default()
        return self._render_spawn_page

    async def _render_spawn_page(self, spawner=None):
        """The spawn page (the hub calls a callable options_form with the spawner itself)."""
        token = self.user.new_api_token(note="hotstepper: spawn page", expires_in=120)
        base = self.companion_url.rstrip("/")
        client = AsyncHTTPClient()

        async def fetch(path: str):
            response = await client.fetch(
                HTTPRequest(
                    base + path,
                    headers={"Authorization": f"token {token}"},
                    request_timeout=FORM_TIMEOUT_SECONDS,
                ),
                raise_error=False,
            )
            if response.code == 599:  # no HTTP answer at all
                raise HTTPClientError(599, str(response.error))
            return response.code, response.body

        try:
            data = await form_data(fetch, self.user.name, self.name)
        except Exception as e:  # the companion is down or unreachable
            self.log.warning("Spawn page of %s with the defaults: %s", self._log_name, e)
            configured = getattr(self, "_configured", {})
            data = defaults_data(
                self.user.name,
                self.name,
                configured.get("image", self.image) or "",
                configured.get("cpu_limit", self.cpu_limit)
                or configured.get("cpu_guarantee", self.cpu_guarantee),
                configured.get("mem_limit", self.mem_limit)
                or configured.get("mem_guarantee", self.mem_guarantee),
            )
        finally:
            self._forget_token(token)
        # What the pod will request below the chosen limits (see load_user_options): the cost
        # estimate bills that where the rate card charges requests.
        configured = getattr(self, "_configured", {})
        cpu_request = configured.get("cpu_guarantee", self.cpu_guarantee)
        mem_request = configured.get("mem_guarantee", self.mem_guarantee)
        data["guarantees"] = {
            "cpu": float(cpu_request) if cpu_request else None,
            "memory": round(mem_request / 2**30, 4) if mem_request else None,
        }
        return render(data)

    def _forget_token(self, token: str) -> None:
        """A token for one call: gone as soon as the answer is in."""
        found = orm.APIToken.find(self.user.db, token)
        if found is not None:
            self.user.db.delete(found)
            self.user.db.commit()

    async def load_user_options(self):
        """The user's options, checked by the companion, become this spawn's pod settings."""
        await super().load_user_options()
        if not self.companion_url:
            return
        if not hasattr(self, "_configured"):
            self._configured = {name: getattr(self, name) for name in CHECKED_TRAITS}
        for name, value in self._configured.items():
            setattr(self, name, value)
        submitted = dict(self.user_options or {})
        try:
            check = await self._check_options(spawn_request(submitted, self.name))
        except Refusal as e:
            self.log.warning("Spawn of %s refused: %s", self._log_name, e)
            raise SpawnFault(str(e)) from None
        except Exception as e:  # the companion is down or unreachable
            reason = f"the Hotstepper companion is not reachable ({type(e).__name__}: {e})"
            if submitted:
                raise SpawnFault(
                    f"The spawn options could not be checked: {reason}. Try again in a minute."
                ) from None
            # A plain spawn asks for nothing: the configured defaults are safe to start with.
            self.log.warning("Spawn of %s with the configured defaults: %s", self._log_name, reason)
            return
        settings = pod_settings(check)
        self.image = settings.image
        # The choice is the limit, what the server may use. Its request is the operator's
        # configured guarantee, capped at the choice (none configured: the choice itself), so a
        # small node holds several mostly idle servers where the operator wants that.
        self.cpu_limit = settings.cpu
        self.cpu_guarantee = min(self.cpu_guarantee or settings.cpu, settings.cpu)
        self.mem_limit = settings.mem
        self.mem_guarantee = min(self.mem_guarantee or settings.mem, settings.mem)
        self.extra_resource_limits = {
            **self.extra_resource_limits,
            **settings.extra_resource_limits,
        }
        self.node_selector = {**self.node_selector, **settings.node_selector}
        self.volumes = [*self.volumes, *settings.volumes]
        self.volume_mounts = [*self.volume_mounts, *settings.volume_mounts]
        if settings.fresh_home:
            await self._fresh_home()

    async def _check_options(self, request: dict) -> dict:
        """POST /api/v1/spawn/check as the user, with a token for this one call: the companion
        then checks the user's own options and counts the user's own servers, nobody else's."""
        token = self.user.new_api_token(note="hotstepper: spawn options check", expires_in=120)
        try:
            response = await AsyncHTTPClient().fetch(
                HTTPRequest(
                    self.companion_url.rstrip("/") + "/api/v1/spawn/check",
                    method="POST",
                    body=json.dumps(request),
                    headers={
                        "Authorization": f"token {token}",
                        "Content-Type": "application/json",
                    },
                    request_timeout=CHECK_TIMEOUT_SECONDS,
                ),
                raise_error=False,
            )
        finally:
            self._forget_token(token)
        if response.code == 200:
            return json.loads(response.body)
        if response.code == 599:  # no HTTP answer at all
            raise HTTPClientError(599, str(response.error))
        raise Refusal(refusal_message(response.code, response.body))

    async def _fresh_home(self):
        """Deletes the home claim (the user typed its name to confirm) and waits until it is gone,
        so KubeSpawner makes a new, empty one. Where its volume is deleted with it (reclaim policy
        Delete), that is waited for too: a provisioner that keeps a claim's folder at a path made of
        its namespace and name (local-path's) would otherwise hand the new claim the old files, or
        empty the new home when the old one's clean-up comes late."""
        if not self.storage_pvc_ensure:
            raise SpawnFault("A fresh home is not possible here: the platform keeps no home volume.")
        self.log.info("Fresh home for %s: deleting claim %s", self._log_name, self.pvc_name)
        volume = None
        try:
            claim = await self.api.read_namespaced_persistent_volume_claim(
                self.pvc_name, self.namespace
            )
            volume = claim.spec.volume_name
            await self._release_home()
            await self.api.delete_namespaced_persistent_volume_claim(self.pvc_name, self.namespace)
        except Exception as e:
            if getattr(e, "status", None) != 404:
                raise
        deadline = time.monotonic() + 60
        await self._until_gone(
            lambda: self.api.read_namespaced_persistent_volume_claim(self.pvc_name, self.namespace),
            deadline,
            f"The old home's claim {self.pvc_name} was not deleted within a minute",
        )
        if volume:
            try:
                pv = await self.api.read_persistent_volume(volume)
            except Exception as e:
                if getattr(e, "status", None) == 404:
                    return
                if getattr(e, "status", None) == 403:  # a hub that may not read volumes
                    self.log.warning(
                        "Fresh home for %s: volume %s not readable", self._log_name, volume
                    )
                    return
                raise
            if pv.spec.persistent_volume_reclaim_policy == "Delete":
                # Remembered until it is gone: the next start waits for it too (_settle_home).
                self._old_home_volume = volume
                await self._until_gone(
                    lambda: self.api.read_persistent_volume(volume),
                    deadline,
                    f"The old home's volume {volume} was not cleaned up within a minute",
                )
                self._old_home_volume = None

    async def _release_home(self) -> None:
        """Kubernetes keeps a claim while any pod on a node names it, a finished one too (a job's
        pod stays for its log until its Job's TTL), so a fresh home would wait for it in vain.
        Finished pods that name the home go with it: what they wrote is in the home being deleted.
        A pod still running fails the spawn with its name, as deleting it would end someone's
        work; nothing is deleted then."""
        pods = await self.api.list_namespaced_pod(self.namespace)
        running, finished = [], []
        for pod in pods.items:
            claims = {
                v.persistent_volume_claim.claim_name
                for v in pod.spec.volumes or []
                if v.persistent_volume_claim
            }
            if self.pvc_name in claims:
                done = pod.status and pod.status.phase in ("Succeeded", "Failed")
                (finished if done else running).append(pod.metadata.name)
        if running:
            raise SpawnFault(
                f"Your home is still in use by {', '.join(sorted(running))}. Stop that first (a "
                "job: cancel it in Jobs, or wait until it ends), then start with a fresh home again."
            )
        for name in finished:
            self.log.info("Fresh home for %s: deleting finished pod %s", self._log_name, name)
            try:
                await self.api.delete_namespaced_pod(name, self.namespace, grace_period_seconds=0)
            except Exception as e:
                if getattr(e, "status", None) != 404:
                    raise

    async def _settle_home(self) -> None:
        """What a fresh home that gave up after its minute left behind: a claim still being
        deleted would keep this start pending for good, and the old home is going anyway, so
        finish that first; then the old volume's clean-up."""
        if not self.storage_pvc_ensure:
            return
        try:
            claim = await self.api.read_namespaced_persistent_volume_claim(
                self.pvc_name, self.namespace
            )
        except Exception as e:
            if getattr(e, "status", None) != 404:
                self.log.warning("Home claim of %s not readable: %s", self._log_name, e)
            claim = None
        if claim is not None and claim.metadata.deletion_timestamp is not None:
            self.log.info("Home claim of %s is still being deleted: finishing that", self._log_name)
            await self._release_home()
            await self._until_gone(
                lambda: self.api.read_namespaced_persistent_volume_claim(
                    self.pvc_name, self.namespace
                ),
                time.monotonic() + 60,
                f"The old home's claim {self.pvc_name} was not deleted within a minute",
            )
        # A new claim's folder may be the old one's path (local-path's pattern): a clean-up of the
        # old volume that came after it would empty the new home.
        volume = getattr(self, "_old_home_volume", None)
        if volume:
            self.log.info("Old home volume of %s is still being cleaned up", self._log_name)
            await self._until_gone(
                lambda: self.api.read_persistent_volume(volume),
                time.monotonic() + 60,
                f"The old home's volume {volume} was not cleaned up within a minute",
            )
            self._old_home_volume = None

    async def _until_gone(self, read, deadline: float, why: str) -> None:
        while time.monotonic() < deadline:
            try:
                await read()
            except Exception as e:
                if getattr(e, "status", None) == 404:
                    return
                raise
            await asyncio.sleep(POLL_SECONDS)
        self.log.warning("Fresh home for %s: %s", self._log_name, why)
        raise SpawnFault(f"{why}; try again in a few minutes.")

    async def _start(self):
        started = time.monotonic()
        remembered: dict = {}
        # KubeSpawner skips making the home claim once it has seen it (kept in the hub's database),
        # but a fresh home deleted it, and a cluster made anew (the local platform's, on every
        # start) never had it: ask for it on every start; one that is there answers 409, kept.
        self._pvc_exists = False
        await self._settle_home()
        start = asyncio.ensure_future(super()._start())
        watch = asyncio.ensure_future(self._watch_for_fault(remembered))
        try:
            await asyncio.wait({start, watch}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            start.cancel()
            watch.cancel()
            raise
        if not start.done():
            if watch.exception() is None:
                start.cancel()
                await self._fail(watch.result())
            # the watch broke (not the spawn): go on as plain KubeSpawner
            self.log.warning(
                "Watching the pod of %s for faults: %s", self._log_name, watch.exception()
            )
            await asyncio.wait({start})
        watch.cancel()
        url = start.result()  # KubeSpawner's own errors as they are
        budget = min(self.http_timeout, self.start_timeout - (time.monotonic() - started) - 2)
        if budget > 0 and not self.internal_ssl:
            await self._until_answering(url, budget, remembered)
        return url

    def _ref_key(self) -> str:
        return f"{self.namespace}/{self.pod_name}"

    def _current_pod(self, stale_uid=None):
        """This spawn's pod in the reflector: not one being deleted, nor an earlier one."""
        pod = self.pod_reflector.pods.get(self._ref_key())
        if not pod or "deletionTimestamp" in (pod.get("metadata") or {}):
            return None
        if stale_uid and pod["metadata"].get("uid") == stale_uid:
            return None
        return pod

    def _pull_events(self) -> list:
        try:
            return [e.get("message") or "" for e in self.events if e.get("reason") == "Failed"]
        except Exception:  # events are a nicety; a spawn does not fail for want of them
            return []

    async def _watch_for_fault(self, remembered: dict) -> Fault:
        """The first fault the kubelet reports for this spawn's pod; runs until cancelled."""
        # KubeSpawner starts its reflector once the user's options (and namespace) are known.
        while self.pod_reflector is None:
            await asyncio.sleep(POLL_SECONDS)
        await self.pod_reflector.first_load_future
        earlier = self.pod_reflector.pods.get(self._ref_key())
        stale_uid = (earlier or {}).get("metadata", {}).get("uid")
        while True:
            fault = pod_fault(self._current_pod(stale_uid), remembered, self._pull_events())
            if fault:
                return fault
            await asyncio.sleep(POLL_SECONDS)

    async def _until_answering(self, url: str, budget: float, remembered: dict) -> None:
        """Waits until the server answers (any HTTP answer, as the hub's own check), failing the
        spawn if its pod faults meanwhile or it does not answer within `budget` seconds."""
        probe = f"{url.rstrip('/')}{self.server.base_url if self.server else '/'}api"
        client = AsyncHTTPClient()
        deadline = time.monotonic() + budget
        while time.monotonic() < deadline:
            fault = pod_fault(self._current_pod(), remembered)
            if fault:
                await self._fail(fault)
            try:
                response = await client.fetch(
                    HTTPRequest(probe, request_timeout=2, follow_redirects=False),
                    raise_error=False,
                )
                if response.code != 599:
                    return
            except Exception:
                pass
            await asyncio.sleep(POLL_SECONDS)
        await self._fail(
            Fault(
                "silent",
                f"The server started but did not answer within {int(budget)} seconds",
                "notebook",
            )
        )

    async def _log_tail(self, fault: Fault) -> str:
        """The tail of the faulty container's log, if the node gives it quickly."""
        if not fault.container:
            return ""
        for previous in (fault.previous, not fault.previous):
            try:
                text = await asyncio.wait_for(
                    self.api.read_namespaced_pod_log(
                        name=self.pod_name,
                        namespace=self.namespace,
                        container=fault.container,
                        previous=previous,
                        tail_lines=20,
                    ),
                    LOG_TIMEOUT_SECONDS,
                )
            except Exception:
                continue
            excerpt = log_excerpt(text)
            if excerpt:
                return excerpt
        return ""

    async def _fail(self, fault: Fault):
        message = fault.message
        if fault.kind in ("exited", "silent"):
            tail = await self._log_tail(fault)
            if tail:
                message += f". Its log ends: {tail}"
        self.log.warning("Spawn of %s failed: %s", self._log_name, message)
        try:
            await self.stop(now=True)
        except Exception as e:  # the hub stops it again after the failure
            self.log.warning("Could not delete the pod of %s: %s", self._log_name, e)
        raise SpawnFault(message)
