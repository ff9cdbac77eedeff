"""helpers.notebook: the setup cell's facts, the times the last `make run` measured, the version floors,
and that requirements.txt, requirements.lock and pyproject.toml agree."""
import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from helpers import config, notebook


def test_measured_times_reads_both_modes(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "ROOT", tmp_path)
    assert "not yet measured" in notebook.measured_times("03 Train")
    (tmp_path / "outputs" / "fast").mkdir(parents=True)
    (tmp_path / "outputs" / "fast" / "timings.csv").write_text(
        "notebook,seconds,status\n02_build_the_network.ipynb,12.4,ok\n03_train.ipynb,61.0,ok\n")
    (tmp_path / "outputs" / "timings.csv").write_text(
        "notebook,seconds,status\n03_train.ipynb,1500,ok\n05_evaluate.ipynb,30,failed\n")
    assert notebook.measured_times("03 Train") == "fast 61 s, full 25.0 min"
    assert notebook.measured_times("02 Build") == "fast 12 s"
    assert "not yet measured" in notebook.measured_times("05 Evaluate")   # a failed run is no time


def test_check_versions_refuses_an_old_package():
    with pytest.raises(ImportError, match="too old"):
        notebook.check_versions({"numpy": "999.0"})
    assert "numpy" in notebook.check_versions({"numpy": "1.0"})


def test_setup_without_data_says_synthetic_and_how_to_get_the_real_data(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HAPPYSAD_DATA", str(tmp_path / "empty"))
    facts = notebook.setup("01 test")
    out = capsys.readouterr().out
    assert facts["synthetic"] is True
    assert "SYNTHETIC demo" in out and "make data" in out and str(tmp_path / "empty") in out


@pytest.mark.parametrize("keras_version", ["3.0.0", "3.8.0", "3.11.3", "3.14.0"])
def test_a_keras_whose_safe_mode_can_be_bypassed_is_refused(monkeypatch, keras_version):
    # Safe mode was bypassable with crafted .keras files before the security releases (CVE-2025-1550, ...).
    real = notebook.metadata.version
    monkeypatch.setattr(notebook.metadata, "version", lambda name: keras_version if name == "keras" else real(name))
    with pytest.raises(ImportError, match=f"keras {keras_version} is too old: the lessons need >= 3.15.1"):
        notebook.check_versions()


def _pins(path):
    """name -> version of every ``name==version`` line (markers and hashes aside), names normalised."""
    text = (config.ROOT / path).read_text()
    return {canonicalize_name(m[1]): m[2] for m in re.finditer(r"(?m)^([A-Za-z0-9_.-]+)==([^\s;\\]+)", text)}


def test_the_lock_pins_what_requirements_txt_pins_and_pyproject_allows_it():
    # requirements.txt is the lock's input: a pin changed without `make lock` would go uninstalled.
    pins, locked = _pins("requirements.txt"), _pins("requirements.lock")
    assert {name: locked.get(name) for name in pins} == pins, "run `make lock` after changing requirements.txt"
    assert "--hash=sha256:" in (config.ROOT / "requirements.lock").read_text()
    project = tomllib.loads((config.ROOT / "pyproject.toml").read_text())["project"]
    declared = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]]
    for requirement in declared:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is declared in pyproject.toml but not pinned in requirements.txt"
        assert requirement.specifier.contains(pins[name]), f"pyproject's {requirement} excludes the pin {pins[name]}"
    keras = next(r for r in declared if r.name == "keras")
    assert str(keras.specifier) == f">={notebook.MIN_VERSIONS['keras']}"      # one security floor, everywhere


LIBRARY_LINES = ("absl::InitializeLog", "oneDNN", "cuda", "cuInit")   # TensorFlow 2.21's C++ start-up lines


def test_the_setup_cell_shows_no_library_lines_in_a_plain_kernel():
    """JupyterLab's own python3 kernel (not make lab's): the setup cell's TensorFlow start-up lines go to
    outputs/tensorflow_startup.log, the learner's own warning still shows in the cell."""
    import os
    from jupyter_client.manager import start_new_kernel
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}   # ipykernel forwards fd 2 only without it
    manager, client = start_new_kernel(kernel_name="python3", env=env, cwd=str(config.ROOT / "notebooks"))
    try:
        msg_id = client.execute('from helpers import notebook\nnotebook.setup("01 check")\n'
                                'import warnings\nwarnings.warn("the learner\'s own warning")')
        shown = []
        while True:
            msg = client.get_iopub_msg(timeout=180)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] in ("stream", "error"):
                shown.append(msg["content"].get("text") or msg["content"].get("evalue"))
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
    finally:
        manager.shutdown_kernel(now=True)
    cell = "".join(shown)
    assert "the learner's own warning" in cell and "== 01 check ==" in cell
    assert not [line for line in LIBRARY_LINES if line in cell], cell
    assert "oneDNN" in (config.outputs_dir() / "tensorflow_startup.log").read_text()
