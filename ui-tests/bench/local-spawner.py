"""The spawn bench's baseline: the platform's hub (dev/jupyterhub_config.py) with each user's JupyterLab
started as a local process of the hub's own account instead of a pod. Loaded by that file through
HOTSTEPPER_HUB_EXTRA_CONFIG, by ui-tests/bench/spawn.mjs only: users' servers run this way are not
isolated from each other or from the platform, so the platform itself never does it."""
import os

c = get_config()  # noqa: F821  (injected by JupyterHub)
state = os.environ["HOTSTEPPER_STATE"]

c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = os.path.join(state, "home", "{username}")
c.SimpleLocalProcessSpawner.environment = {
    "HOTSTEPPER_URL": os.environ["HOTSTEPPER_URL"],
    # lets dev/stop.sh find servers the hub could not stop
    "HOTSTEPPER_PLATFORM_STATE": state,
}
c.SimpleLocalProcessSpawner.args = ["--allow-root"]
