"""tools.lab (`make lab`): the kernel JupyterLab starts keeps the C++ start-up lines out of the
notebook and still shows Python's warnings; JupyterLab asks nothing about its news feed.

The browser itself is tested by `make test-browser` (tests_browser/)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from jupyter_client.manager import start_new_kernel

from tools import lab

# What TensorFlow 2.21 prints at import and at its first device query on a machine without a GPU
# (TF_CPP_MIN_LOG_LEVEL does not reach these lines).
LIBRARY_LINES = ("absl::InitializeLog", "oneDNN", "cuda", "cuInit")


def _in_lab_env(code: str, base: dict[str, str]) -> str:
    """``code`` run by a Python with the environment ``make lab`` gives its server."""
    return subprocess.run([sys.executable, "-c", code], env=lab.environment(base), capture_output=True,
                          text=True, check=True).stdout


def test_lab_serves_the_lessons_without_news_or_update_checks(tmp_path, monkeypatch):
    command = lab.command(["--port=9999"])
    assert command[:4] == [sys.executable, "-m", "jupyter", "lab"]
    assert f"--ServerApp.root_dir={lab.ROOT / 'notebooks'}" in command
    assert {"--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"} <= set(command)
    assert command[-1] == "--port=9999"                      # the caller's options come last: they win

    monkeypatch.chdir(tmp_path)
    env = lab.environment({"HAPPYSAD_DATA": "mydata", "JUPYTER_PATH": "/elsewhere", "PATH": "/usr/bin"})
    assert env["HAPPYSAD_DATA"] == str(tmp_path / "mydata")  # absolute: the kernels run in notebooks/
    assert env["JUPYTER_PATH"].split(lab.os.pathsep) == [str(lab.SETTINGS), "/elsewhere"]
    assert "HAPPYSAD_DATA" not in lab.environment({"PATH": "/usr/bin"})

    # The front end's setting: JupyterLab asks "get notified about official Jupyter news?" while it is "none".
    overrides = json.loads(_in_lab_env(
        "import json; from jupyter_server.services.config.manager import ConfigManager; "
        "print(json.dumps(ConfigManager(config_dir_name='labconfig').get('default_setting_overrides')))",
        {"PATH": "/usr/bin", "HOME": str(tmp_path)}))
    assert overrides["@jupyterlab/apputils-extension:notification"] == {"fetchNews": "false", "checkForUpdates": False}


def test_the_lab_kernel_shows_python_warnings_but_not_tensorflows_start_up_lines(tmp_path):
    env = lab.environment()
    env.pop("PYTEST_CURRENT_TEST", None)    # ipykernel forwards fd-level output only without it, as in JupyterLab
    spec = json.loads(subprocess.run([sys.executable, "-m", "jupyter", "kernelspec", "list", "--json"], env=env,
                                     capture_output=True, text=True, check=True).stdout)["kernelspecs"]["python3"]
    assert Path(spec["resource_dir"]) == lab.SETTINGS / "kernels" / "python3"     # the lessons' kernel is ours
    argv = spec["spec"]["argv"]
    assert "--IPKernelApp.capture_fd_output=False" in argv

    # That kernel, as JupyterLab starts it: what reaches the notebook is the cell's own output.
    stderr_log = tmp_path / "kernel_stderr.txt"
    with open(stderr_log, "w") as log:
        manager, client = start_new_kernel(kernel_name="python3", env=env, cwd=str(lab.ROOT / "notebooks"),
                                           extra_arguments=argv[argv.index("{connection_file}") + 1:],
                                           stderr=log)
    streams = {"stdout": "", "stderr": ""}

    def keep(msg):
        if msg["msg_type"] == "stream":
            streams[msg["content"]["name"]] += msg["content"]["text"]
    try:
        client.execute_interactive(
            "import helpers, warnings\nimport tensorflow as tf\nprint(tf.config.list_physical_devices('CPU'))\n"
            "warnings.warn('a warning from your own code')", output_hook=keep, timeout=120)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    assert "CPU" in streams["stdout"]
    assert "UserWarning: a warning from your own code" in streams["stderr"]
    assert not [word for word in LIBRARY_LINES if word in streams["stdout"] + streams["stderr"]]
    # (Those lines are not lost: they are on the kernel's own stderr, here stderr_log; with `make lab`,
    # its terminal. Which lines TensorFlow prints depends on the machine, so they are not asserted.)
