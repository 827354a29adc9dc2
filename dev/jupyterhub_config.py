"""JupyterHub for the local platform: real hub, KubeSpawner on the real node, test users, the companion as a service.

Everything comes from environment variables set by dev/start.sh; this file holds no secret.
Not for production: test users with generated passwords.
"""
import json
import os

from jupyterhub import orm
from jupyterhub.auth import Authenticator
from traitlets import Dict

c = get_config()  # noqa: F821  (injected by JupyterHub)
state = os.environ["HOTSTEPPER_STATE"]
users = json.load(open(os.path.join(state, "users.json")))


class LocalPasswordAuthenticator(Authenticator):
    """Test users with the passwords dev/start.sh generated and printed."""

    passwords = Dict(help="user name -> password").tag(config=True)

    async def authenticate(self, handler, data):
        name = (data or {}).get("username", "")
        if name in self.passwords and data.get("password") == self.passwords[name]:
            return name
        return None


c.JupyterHub.authenticator_class = LocalPasswordAuthenticator
c.LocalPasswordAuthenticator.passwords = {name: u["password"] for name, u in users.items()}
c.Authenticator.allowed_users = set(users)
c.Authenticator.admin_users = {name for name, u in users.items() if u.get("hubAdmin")}

groups = {}
for name, u in users.items():
    for g in u.get("groups", []):
        groups.setdefault(g, {"users": []})["users"].append(name)
c.JupyterHub.load_groups = groups

c.JupyterHub.bind_url = f"http://127.0.0.1:{os.environ['HOTSTEPPER_HUB_PORT']}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{os.environ['HOTSTEPPER_HUB_API_PORT']}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ['HOTSTEPPER_PROXY_API_PORT']}"
c.ConfigurableHTTPProxy.pid_file = os.path.join(state, "pids", "proxy.pid")
c.JupyterHub.db_url = "sqlite:///" + os.path.join(state, "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = os.path.join(state, "jupyterhub_cookie_secret")

# Users' servers: pods on the platform's real node (KubeSpawner), each in its user's namespace.
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 60

from tornado.httpclient import AsyncHTTPClient, HTTPRequest  # noqa: E402

gateway = os.environ["HOTSTEPPER_POD_GATEWAY"]  # the host's end of the node's veth pair
# KubeSpawner failing a spawn at once with the kubelet's reason (an image that cannot be pulled,
# a container that exits) instead of a timeout, and deleting the pod; every c.KubeSpawner
# setting below applies to it (jupyter/hotstepper/spawner.py, in the wheel set-up installs).
c.JupyterHub.spawner_class = "hotstepper.spawner.HotstepperKubeSpawner"
# Pods reach the hub's API and the companion only at that address (dev/start.sh forwards
# those two ports there); the hub reaches each pod at its own address.
c.KubeSpawner.hub_connect_url = f"http://{gateway}:{os.environ['HOTSTEPPER_HUB_API_PORT']}"
c.KubeSpawner.image = os.environ["HOTSTEPPER_NOTEBOOK_IMAGE"]
c.KubeSpawner.image_pull_policy = "IfNotPresent"
c.KubeSpawner.cmd = ["jupyterhub-singleuser"]
c.KubeSpawner.uid = 1000
c.KubeSpawner.gid = 100
c.KubeSpawner.fs_gid = 100
c.KubeSpawner.cpu_guarantee = 0.1
c.KubeSpawner.cpu_limit = 1
c.KubeSpawner.mem_guarantee = "256M"
c.KubeSpawner.mem_limit = "1G"
c.KubeSpawner.automount_service_account_token = False
# A persistent home: a claim per user from the real node's local-path-provisioner.
c.KubeSpawner.storage_pvc_ensure = True
c.KubeSpawner.pvc_name_template = "claim-{username}"
c.KubeSpawner.storage_class = "local-path"
c.KubeSpawner.storage_capacity = "1Gi"
c.KubeSpawner.storage_access_modes = ["ReadWriteOnce"]
c.KubeSpawner.volumes = [{"name": "home", "persistentVolumeClaim": {"claimName": "{pvc_name}"}}]
c.KubeSpawner.volume_mounts = [{"name": "home", "mountPath": "/home/jovyan"}]
c.KubeSpawner.working_dir = "/home/jovyan"
c.KubeSpawner.container_security_context = {
    "allowPrivilegeEscalation": False,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
}
# Only the real node runs containers; kwok's simulated fleet runs nothing.
c.KubeSpawner.node_selector = {"hotstepper.dev/node": "real"}
c.KubeSpawner.tolerations = [
    {"key": "hotstepper.dev/real-node", "operator": "Exists", "effect": "NoSchedule"}
]
# The local platform has no cluster DNS: the node's (empty) resolver, without the kubelet's
# "ClusterDNS IP not configured" warning in every user's spawn log.
c.KubeSpawner.extra_pod_config = {"dnsPolicy": "Default"}
c.KubeSpawner.enable_user_namespaces = True
# the companion names the namespace (pre_spawn_hook below); this is the same for plain names
c.KubeSpawner.user_namespace_template = "hs-{username}"
c.KubeSpawner.environment = {
    "HOTSTEPPER_URL": f"http://{gateway}:{os.environ['HOTSTEPPER_PORT']}",
}


async def namespace_from_companion(spawner):
    """The user's namespace as the companion derives and sets it up (quota, limits, RBAC)."""
    token = spawner.user.new_api_token(note="hotstepper: namespace for a spawn", expires_in=120)
    try:
        response = await AsyncHTTPClient().fetch(
            HTTPRequest(
                os.environ["HOTSTEPPER_URL"] + "/api/v1/me/namespace",
                headers={"Authorization": f"token {token}"},
                request_timeout=30,
            )
        )
    finally:
        # a token for one call: gone as soon as the answer is in
        found = orm.APIToken.find(spawner.user.db, token)
        if found is not None:
            spawner.user.db.delete(found)
            spawner.user.db.commit()
    spawner.namespace = json.loads(response.body)["namespace"]


c.KubeSpawner.pre_spawn_hook = namespace_from_companion
# Every spawn's options are checked by the companion (POST /api/v1/spawn/check) before
# anything starts, and its resolved image, CPU, memory, GPU and volumes are what the pod gets.
# With it, the hub's spawn page is Hotstepper's (hotstepper/spawnform.py, packages/spawn).
c.HotstepperKubeSpawner.companion_url = os.environ["HOTSTEPPER_URL"]
# Named servers, each with its own spawn page and last options; how many may run at once is
# the companion's spawn.maxServers (its check refuses one more), so the hub sets no limit.
c.JupyterHub.allow_named_servers = True

# The hub's home page: my servers' CPU and memory against their limits, free GPUs, my cost, and
# everyone's for operators, asked from the companion as the user (jupyter/hotstepper/hubhome.py).
from hotstepper import hubhome  # noqa: E402

hubhome.configure(
    c,
    os.environ["HOTSTEPPER_URL"],
    # operators as the companion counts them: hub admins and its admin groups
    frozenset(os.environ.get("HOTSTEPPER_ADMIN_GROUPS", "hotstepper-admins").split(",")),
)

# The companion, and the role holding exactly what its features use with the hub.
c.JupyterHub.services = [
    {
        "name": "hotstepper",
        "url": os.environ["HOTSTEPPER_URL"],
        "api_token": os.environ["HOTSTEPPER_HUB_TOKEN"],
        "display": False,
        # Flare: visitors of a Flare app log in with the hub through the gateway's login host.
        "oauth_redirect_uri": "http://flare.localhost:%s/_flare/callback"
        % os.environ.get("HOTSTEPPER_FLARE_PORT", "9180"),
        "oauth_no_confirm": True,
    },
    # Local tooling only (tests, bench): mints and revokes tokens of the test users.
    {"name": "hotstepper-dev", "api_token": os.environ["HOTSTEPPER_DEV_TOKEN"]},
]
c.JupyterHub.load_roles = [
    {
        "name": "hotstepper-service",
        "services": ["hotstepper"],
        "scopes": ["list:users", "read:users", "read:servers", "read:roles:users", "delete:servers",
                   # Flare: access lists name groups; each owner's server reports its ports.
                   "read:groups", "access:servers",
                   # Grader: the roster adds and removes students of nbgrader-<course> groups.
                   "groups"],
    },
    # Flare: a hub login to an app is an OAuth login to the hotstepper service, which the hub
    # grants only to users holding access to it.
    {"name": "user", "scopes": ["self", "access:services!service=hotstepper"]},
    # Each server's own token (JUPYTERHUB_API_TOKEN), which the Hotstepper proxy forwards: the
    # companion accepts only tokens with access to it. The first two are the hub's default.
    {
        "name": "server",
        "scopes": ["users:activity!user", "access:servers!server", "access:services!service=hotstepper"],
    },
    {
        "name": "hotstepper-dev-tools",
        "services": ["hotstepper-dev"],
        "scopes": ["admin:users", "tokens", "admin:groups", "admin:servers", "list:users"],
    },
]

# A deployment's own additions, read last (the spawn bench gives its baseline platform a local-process
# spawner this way; the platform itself has none).
if os.environ.get("HOTSTEPPER_HUB_EXTRA_CONFIG"):
    load_subconfig(os.environ["HOTSTEPPER_HUB_EXTRA_CONFIG"])  # noqa: F821  (injected by JupyterHub)
