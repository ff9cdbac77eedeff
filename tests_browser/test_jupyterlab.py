"""``make test-browser``: the learner's screen, in headless Chromium driven by Playwright.

JupyterLab is started as ``make lab`` starts it (``tools.lab``: the project's kernel and settings) on
copies of lessons 01 and 09 in ``outputs/[fast/]browser/notebooks/`` (Run All fills a notebook with
outputs; the committed ones must stay clean). Then, as a learner would:

1. lesson 01, Run All: every code cell ran, no error output, no TensorFlow/absl/oneDNN/CUDA log line;
2. lesson 09, Run All, the same checks; then a photo goes through its upload button (the file chooser)
   and the next cell answers with the face box and the class;
3. lesson 09's webcam button in this Chromium, which has no camera: one line says so, and the next cell
   says the same line; then in a second Chromium whose fake camera films that photo (a YUV4MPEG2 clip
   written here with numpy, ``--use-file-for-fake-video-capture``): the button takes a frame and the next
   cell answers with the face box, the class, its probability and the Grad-CAM picture;
4. the run report ``outputs/[fast/]index.html`` renders, with its pictures.

Screenshots of each go to ``outputs/[fast/]browser/``. Lesson 09 needs lessons 02-05's models:
when they are missing (a fresh clone), ``tools.run_series --only 02,03,04,05`` makes them after step 1;
it writes the report too. With the models there but no report, ``--only 05`` writes it.

Chromium is the system's (``HAPPYSAD_CHROMIUM``, else ``chromium`` / ``chromium-browser`` /
``google-chrome`` on the PATH); Playwright never downloads a browser. Without Playwright, or a Chromium
that starts, the module is skipped with one line saying why. On a failure, ``FAILED_<test>.png`` shows
the page. CI (``.ci/run``) runs this in fast mode on its fresh clone, after that clone's ``make test``
(which has trained the fast models: only ``--only 05`` runs here, for the report).
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import numpy as np
import pytest

from helpers import config, data, webcam
from tools import lab

LESSONS = ["01_collect_and_clean.ipynb", "09_your_own_photos.ipynb"]
CHROMIUM_NAMES = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]
SERVER_START_S = 90           # JupyterLab answering its API
NOTEBOOK_S = 10 * 60          # Run All of one lesson (fast mode: about a minute each)
CELL_S = 120                  # one cell (the upload's answer, the check cell)
# What the C++ libraries print at start-up; none of it may reach a cell's output.
LOG_LINE = re.compile(r"absl::InitializeLog|oneDNN custom operations|cuda drivers|cuInit|cudart_stub|"
                      r"cuda_platform|cpu_feature_guard|^[IWEF]\d{4} \d\d:\d\d:\d\d", re.MULTILINE)
# The notebook on show (others stay open in hidden tabs), and the prompts of its code cells: "[*]:" while
# a cell runs or waits to, "[12]:" once it ran.
NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"
PROMPTS = f"[...document.querySelectorAll('{NOTEBOOK} .jp-CodeCell .jp-InputPrompt')].map(p => p.textContent)"


def chromium() -> str | None:
    """The system's Chromium: ``$HAPPYSAD_CHROMIUM``, else the first of CHROMIUM_NAMES on the PATH."""
    named = os.environ.get("HAPPYSAD_CHROMIUM", "").strip()
    if named:
        return named if Path(named).is_file() else None
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def out_dir() -> Path:
    path = config.outputs_dir() / "browser"
    shutil.rmtree(path / "notebooks", ignore_errors=True)
    (path / "notebooks").mkdir(parents=True)
    for old in path.glob("*.png"):                  # no screenshot of an earlier run is left to mislead
        old.unlink()
    for name in LESSONS:
        shutil.copy(config.ROOT / "notebooks" / name, path / "notebooks" / name)
    return path


def why_no_browser() -> str | None:
    """None when Playwright is installed and the system's Chromium starts; else the reason, in one line."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return "Playwright is not installed (make installs it from requirements.lock)"
    path = chromium()
    if path is None:
        return ("no Chromium found (HAPPYSAD_CHROMIUM, or chromium / chromium-browser / google-chrome on the PATH; "
                "Debian/Ubuntu: apt-get install chromium)")
    try:
        with sync_playwright() as p:
            p.chromium.launch(executable_path=path, headless=True).close()
    except Exception as err:  # noqa: BLE001 - a browser that does not start is a skip, with its reason
        return f"Chromium at {path} did not start: {(str(err).strip().splitlines() or [type(err).__name__])[0]}"
    return None


# Checked once, so that a machine without a browser gets one line, not one per test.
if (NO_BROWSER := why_no_browser()) is not None:
    pytest.skip(f"browser test skipped: {NO_BROWSER}", allow_module_level=True)


@pytest.fixture(scope="module")
def playwright():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:        # one per thread: both browsers come from it
        yield p


@pytest.fixture(scope="module")
def browser(playwright):
    """Chromium as a machine without a camera has it: getUserMedia answers NotFoundError."""
    launched = playwright.chromium.launch(executable_path=chromium(), headless=True)
    yield launched
    launched.close()


@pytest.fixture(scope="module")
def my_photo(tmp_path_factory) -> Path:
    return upload_photo(tmp_path_factory.mktemp("photo"))


@pytest.fixture(scope="module")
def camera_browser(playwright, my_photo):
    """A second Chromium whose camera films ``my_photo`` (a fake device playing a clip of it), and which
    grants the camera without asking (the learner's "Allow")."""
    clip = fake_camera_clip(my_photo, my_photo.parent)
    launched = playwright.chromium.launch(executable_path=chromium(), headless=True, args=[
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={clip}"])
    yield launched
    launched.close()


@pytest.fixture(scope="module")
def server(out_dir, tmp_path_factory):
    """JupyterLab as ``make lab`` starts it, on the copies; its own user settings (none of yours)."""
    home = tmp_path_factory.mktemp("jupyter")
    # Every cell in the page (no virtual scrolling), so the prompts of all cells can be read.
    tracker = home / "settings" / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text(json.dumps({"windowingMode": "none"}))
    env = lab.environment()
    env.pop("PYTEST_CURRENT_TEST", None)    # with it, ipykernel would not forward fd-level output: a learner's does
    env.update(JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_DATA_DIR=str(home / "data"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"))
    port, token = _free_port(), secrets.token_hex(16)
    options = ["--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        options.append("--allow-root")
    log_path = out_dir / "jupyterlab.log"        # the server's log, and the kernels' own stderr
    with open(log_path, "w") as log:
        proc = subprocess.Popen(lab.command(options, notebooks=out_dir / "notebooks"), env=env,
                                stdout=log, stderr=subprocess.STDOUT, cwd=config.ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab stopped (exit {proc.returncode}):\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5):  # noqa: S310 - localhost
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer in {SERVER_START_S} s:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.5)
        yield url, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _lab_page(browser, server):
    url, token = server
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    tab.goto(f"{url}/lab?token={token}")
    tab.locator(".jp-LabShell").wait_for()
    return context, (tab, url, token)


@pytest.fixture(scope="module")
def page(browser, server):
    context, opened = _lab_page(browser, server)
    yield opened
    context.close()


@pytest.fixture(scope="module")
def camera_page(camera_browser, server):
    context, opened = _lab_page(camera_browser, server)
    yield opened
    context.close()


# ------------------------------------------------------------------ what a learner does, in the page

def open_notebook(tab, url: str, token: str, name: str) -> None:
    """Only ``name`` open (``?reset``: no tab of the lesson before), its kernel started and idle; the
    kernels of the notebooks opened before are shut down, as File > Close and Shut Down Notebook does."""
    headers = {"Authorization": f"token {token}"}
    with urllib.request.urlopen(urllib.request.Request(f"{url}/api/sessions", headers=headers)) as answer:  # noqa: S310
        sessions = json.load(answer)
    for session in sessions:
        urllib.request.urlopen(urllib.request.Request(  # noqa: S310 - the local server
            f"{url}/api/sessions/{session['id']}", method="DELETE", headers=headers)).close()
    tab.goto(f"{url}/lab/tree/{name}?reset")
    tab.wait_for_function("document.querySelector('#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current "
                          f".lm-TabBar-tabLabel')?.textContent === {json.dumps(name)}")
    tab.locator(f"{NOTEBOOK} .jp-Cell").first.wait_for()
    # the kernel is up when the status bar names it and says Idle ("No Kernel | Initializing" before)
    tab.wait_for_function("/ipykernel\\) \\| Idle/.test(document.querySelector('#jp-main-statusbar').textContent)",
                          timeout=120_000, polling=500)


def menu(tab, top: str, item: str) -> None:
    tab.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{top}$")).click()
    tab.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{item}$")).click()


try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
except ImportError:                 # the browser fixture skips, with its reason
    PlaywrightTimeout = TimeoutError


def run_all(tab) -> float:
    """Run > Run All Cells; wait until no cell is running or queued. Returns the seconds it took."""
    start = time.monotonic()
    for _ in range(3):              # right after the page opens, the menu item may not act yet
        menu(tab, "Run", "Run All Cells")
        try:
            tab.wait_for_function(f"{PROMPTS}.some(t => t.includes('*'))", timeout=10_000)
            break
        except PlaywrightTimeout:
            if tab.locator(".jp-Dialog").count():       # e.g. "Select Kernel": take what it proposes
                tab.locator(".jp-Dialog .jp-mod-accept").click()
    else:
        raise AssertionError("Run > Run All Cells started nothing, three times")
    wait_until_done(tab, NOTEBOOK_S)
    return time.monotonic() - start


def wait_until_done(tab, seconds: float) -> None:
    """No cell running or queued, and the kernel idle for 3 s in a row (a solution cell's collapsed
    input has no prompt to show its "*")."""
    tab.wait_for_function(f"!{PROMPTS}.some(t => t.includes('*'))", timeout=seconds * 1000, polling=1000)
    deadline, idle_since = time.monotonic() + seconds, None
    while time.monotonic() < deadline:
        if "| Idle" in tab.locator("#jp-main-statusbar").inner_text().replace("\n", " "):
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since >= 3:
                return
        else:
            idle_since = None
        time.sleep(0.5)
    raise AssertionError(f"the kernel was still busy after {seconds} s")


def save_and_read(tab, path: Path, all_ran: bool = True) -> nbformat.NotebookNode:
    """Save (Ctrl+S), then the saved notebook: once every code cell in it ran (``all_ran``), else as it is
    after 30 s; ``all_ran=False``: as soon as it is saved."""
    before = path.stat().st_mtime_ns
    tab.locator(NOTEBOOK).click(position={"x": 5, "y": 5})
    tab.keyboard.press("Control+s")
    deadline = time.monotonic() + 30
    while True:
        time.sleep(0.5)
        if path.stat().st_mtime_ns != before:
            nb = nbformat.read(str(path), as_version=4)
            if (not all_ran or all(c.execution_count for c in nb.cells if c.cell_type == "code")
                    or time.monotonic() > deadline):
                return nb
        assert time.monotonic() < deadline, f"{path.name} was not saved in 30 s"


def problems(nb) -> list[str]:
    """Error outputs and library log lines, cell by cell."""
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                found.append(f"cell {i}: {out.ename}: {out.evalue}")
            texts = [out.get("text", "")] + [str(v) for k, v in out.get("data", {}).items() if k.startswith("text/")]
            for line in "".join(texts).splitlines():
                if LOG_LINE.search(line):
                    found.append(f"cell {i}: log line: {line[:200]}")
    return found


def check_ran_cleanly(tab, path: Path) -> nbformat.NotebookNode:
    nb = save_and_read(tab, path)
    assert problems(nb) == []
    code = [c for c in nb.cells if c.cell_type == "code"]
    not_run = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and not c.execution_count]
    assert not not_run, f"cells that did not run: {not_run}"
    stderr = [cell_out.get("text", "") for cell in nb.cells for cell_out in cell.get("outputs", [])
              if cell_out.get("name") == "stderr"]
    print(f"{path.name}: {len(code)} code cells ran; stderr outputs (warnings): {len(stderr)}")
    for text in stderr:
        print("   ", text.strip()[:300])
    return nb


def cell(tab, text: str):
    """The code cell whose source holds ``text``."""
    return tab.locator(f"{NOTEBOOK} .jp-CodeCell", has=tab.locator(".jp-InputArea", has_text=text)).first


def run_cell(tab, code_cell, what: str) -> None:
    """Shift+Enter in ``code_cell``, as a learner runs it; returns once its prompt shows a new count."""
    before = code_cell.locator(".jp-InputPrompt").text_content()
    code_cell.locator(".jp-InputPrompt").click()
    tab.keyboard.press("Shift+Enter")
    deadline = time.monotonic() + CELL_S
    while not re.fullmatch(r"\[\d+\]:", prompt := code_cell.locator(".jp-InputPrompt").text_content()) or prompt == before:
        assert time.monotonic() < deadline, f"{what} did not answer in {CELL_S} s"
        time.sleep(0.5)


# ------------------------------------------------------------------ the photo for lesson 09's button

def upload_photo(folder: Path) -> Path:
    """A photo with one face the detector finds: from web/ (the real photos, or the demo's drawn ones),
    re-saved as a JPEG of at most 800 pixels a side, as a phone photo would come."""
    from PIL import Image

    from helpers import predict

    web = data.locate().web / "happy"
    picked = predict.photos_with_faces(data.image_files(web)[:40], n=1, max_faces=1)
    assert picked, f"no photo with one face found among the first 40 in {web}"
    image = Image.fromarray(data.read_image(picked[0]))
    image.thumbnail((800, 800))
    target = folder / "my_photo.jpg"
    image.save(target, quality=92)
    return target


def fake_camera_clip(photo: Path, folder: Path, size=(640, 480), frames: int = 5) -> Path:
    """What Chromium's fake camera plays (``--use-file-for-fake-video-capture``, in a loop): ``photo`` fitted
    into a ``size`` frame on gray, a few identical frames of YUV4MPEG2 4:2:0 (BT.601 full range), numpy only."""
    from PIL import Image

    image = Image.open(photo).convert("RGB")
    image.thumbnail(size)
    frame = Image.new("RGB", size, (128, 128, 128))
    frame.paste(image, ((size[0] - image.width) // 2, (size[1] - image.height) // 2))
    r, g, b = np.moveaxis(np.asarray(frame, np.float64), -1, 0)
    y = 0.299 * r + 0.587 * g + 0.114 * b
    u, v = 128 + 0.564 * (b - y), 128 + 0.713 * (r - y)

    def plane(p):
        return np.clip(np.round(p), 0, 255).astype(np.uint8).tobytes()

    def half(p):                    # 4:2:0: one chroma sample per 2x2 pixels
        return p.reshape(p.shape[0] // 2, 2, p.shape[1] // 2, 2).mean(axis=(1, 3))

    target = folder / "fake_camera.y4m"
    with open(target, "wb") as out:
        out.write(f"YUV4MPEG2 W{size[0]} H{size[1]} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + plane(y) + plane(half(u)) + plane(half(v)))
    return target


# ------------------------------------------------------------------ what the lessons need, headless

def models_ready() -> bool:
    # every network lessons 03-04 train (lesson 05, run for the report, scores them all) and lesson 02's file
    return (all(model.path().is_file() for model in config.models("network"))
            and (config.untrained_dir() / config.OUR_MODEL).is_file())


def run_headless(only: str) -> None:
    """``tools.run_series --only ...``: lessons the browser does not test, and the report."""
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "tools.run_series", "--only", only], cwd=config.ROOT,
                          capture_output=True, text=True, timeout=NOTEBOOK_S)
    print(f"tools.run_series --only {only}: exit {done.returncode} in {time.monotonic() - start:.0f} s")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


# ------------------------------------------------------------------ the tests

def test_lesson_01_runs_all_cells_quietly(page, out_dir):
    tab, url, token = page
    open_notebook(tab, url, token, LESSONS[0])
    seconds = run_all(tab)
    print(f"01 Run All: {seconds:.0f} s")
    tab.locator(f"{NOTEBOOK} .jp-Cell").first.scroll_into_view_if_needed()
    tab.screenshot(path=str(out_dir / "01_collect_and_clean.png"))
    # JupyterLab's own prompts (news feed, update check), which it shows as toasts a few seconds after start
    prompts = tab.locator(".Toastify__toast", has_text=re.compile("Jupyter news|newer version", re.IGNORECASE))
    assert prompts.count() == 0, prompts.all_inner_texts()
    nb = check_ran_cleanly(tab, out_dir / "notebooks" / LESSONS[0])
    setup_output = "".join(o.get("text", "") for o in nb.cells[1].outputs)
    assert "01 Collect and clean" in setup_output            # the setup cell printed its facts, and only them


def test_lesson_09_answers_an_uploaded_photo(page, out_dir, my_photo):
    tab, url, token = page
    if not models_ready():                  # a fresh clone: lesson 01 made the split just now
        run_headless("02,03,04,05")
    open_notebook(tab, url, token, LESSONS[1])
    seconds = run_all(tab)
    print(f"09 Run All: {seconds:.0f} s")
    check_ran_cleanly(tab, out_dir / "notebooks" / LESSONS[1])

    button = cell(tab, "a file-upload button").locator(".widget-upload")
    with tab.expect_file_chooser() as chooser:
        button.click()
    chooser.value.set_files(str(my_photo))
    tab.wait_for_function("document.querySelector('.widget-upload').textContent.includes('(1)')")

    answer = cell(tab, "decode what was uploaded")
    run_cell(tab, answer, "the cell after the upload")
    outputs = answer.locator(".jp-OutputArea")
    assert "Nothing uploaded yet" not in outputs.inner_text()
    assert outputs.locator("img").count() == 1, "the uploaded photo with its face box is not shown"

    # What the picture shows, in numbers: a cell below it, typed as a learner would.
    answer.locator(".jp-InputPrompt").click()
    tab.keyboard.press("b")
    tab.keyboard.press("Enter")
    tab.keyboard.insert_text(
        'import json\nprint("UPLOAD_CHECK", json.dumps([(name, [(f["label"], [int(v) for v in f["box"]], '
        'f.get("face", "")) for f in predict.predict_faces(predictor, rgb, "all")]) for name, rgb in uploaded]))')
    tab.keyboard.press("Shift+Enter")
    check = tab.locator(".jp-OutputArea-output", has_text="UPLOAD_CHECK")
    check.wait_for(timeout=CELL_S * 1000)
    ((name, found),) = json.loads(check.inner_text().split("UPLOAD_CHECK", 1)[1])
    print(f"upload answered: {name}: {found}")
    assert name == "my_photo.jpg" and found, "no face and class for the uploaded photo"
    labels = data.class_names(data.locate().fer / "train")
    for label, box, _ in found:
        assert label in labels and len(box) == 4 and box[2] > 0 and box[3] > 0
    assert any(face == "detected" for _, _, face in found), "the answer is for the whole image, not a face"

    tab.set_viewport_size({"width": 1280, "height": 1400})     # the button, the answer and the check cell
    cell(tab, "a file-upload button").locator(".widget-upload").scroll_into_view_if_needed()
    tab.evaluate("document.querySelector('.widget-upload').scrollIntoView({block: 'start'})")
    tab.screenshot(path=str(out_dir / "09_your_own_photos.png"))
    tab.set_viewport_size({"width": 1280, "height": 1000})
    nb = save_and_read(tab, out_dir / "notebooks" / LESSONS[1])
    assert problems(nb) == []


def test_lesson_09_without_a_camera_says_so_in_one_line(page, out_dir):
    """The page above, lesson 09 run: Chromium without a camera. Run All left the webcam answer's one line;
    pressing the button gives the browser's reason in one line, and so does the answer; the upload stays."""
    tab, url, token = page
    saved = nbformat.read(str(out_dir / "notebooks" / LESSONS[1]), as_version=4)
    (ran,) = [c for c in saved.cells if c.cell_type == "code" and "webcam.frame(camera)" in c.source]
    assert "".join(o.get("text", "") for o in ran.outputs) == webcam.NO_FRAME_YET + "\n"

    widget = cell(tab, "webcam.button()")
    widget.locator(".happysad-webcam-button").click()
    line = widget.locator(".happysad-webcam-line")
    tab.wait_for_function(f"document.querySelector('{NOTEBOOK} .happysad-webcam-line').textContent"
                          ".startsWith('no camera')", timeout=30_000)
    said = line.inner_text()
    print(f"webcam without a camera: {said}")
    assert said.endswith(": use the upload button above") and "\n" not in said

    answer = cell(tab, "webcam.frame(camera)")
    run_cell(tab, answer, "the webcam answer without a camera")
    assert answer.locator(".jp-OutputArea").inner_text().strip() == said     # the same one line
    assert answer.locator(".jp-OutputArea img").count() == 0
    assert cell(tab, "a file-upload button").locator(".widget-upload").is_visible()
    widget.evaluate("element => element.scrollIntoView({block: 'start'})")
    tab.screenshot(path=str(out_dir / "09_no_camera.png"))
    assert problems(save_and_read(tab, out_dir / "notebooks" / LESSONS[1])) == []


ANSWER_LINE = re.compile(r"face at \((\d+), (\d+), (\d+), (\d+)\): (\w+), probability ([01]\.\d\d) "
                         r"\(P\(\w+\) = [01]\.\d\d, threshold [01]\.\d\d\)")


def test_lesson_09_answers_a_webcam_frame(camera_page, out_dir):
    """Chromium with a (fake) camera filming the upload's photo: lesson 09 in a fresh kernel, the cells the
    webcam needs, the button; the next cell answers with the face box, the class, its probability, and the
    picture with lesson 07's Grad-CAM map."""
    tab, url, token = camera_page
    open_notebook(tab, url, token, LESSONS[1])        # its own kernel (the other page's is shut down)
    menu(tab, "Edit", "Clear Outputs of All Cells")   # no prompt left from the other kernel's counts
    start = time.monotonic()
    for needed in ('notebook.setup("09', "predict.load_predictor(fer_path)", "webcam.button()"):
        run_cell(tab, cell(tab, needed), f"the cell with {needed}")
    widget = cell(tab, "webcam.button()")
    widget.locator(".happysad-webcam-button").click()
    tab.wait_for_function("/^(frame taken|no camera)/.test("
                          f"document.querySelector('{NOTEBOOK} .happysad-webcam-line').textContent)", timeout=30_000)
    said = widget.locator(".happysad-webcam-line").inner_text()
    print(f"webcam with a fake camera: {said}")
    assert said == "frame taken (640x480): now run the next cell"

    answer = cell(tab, "webcam.frame(camera)")
    run_cell(tab, answer, "the webcam answer")
    print(f"webcam, from the cells to the answer: {time.monotonic() - start:.0f} s")
    text = answer.locator(".jp-OutputArea").inner_text()
    print(f"webcam answered: {text.strip()}")
    found = ANSWER_LINE.findall(text)
    assert found, f"no face box, class and probability in the answer: {text!r}"
    labels = data.class_names(data.locate().fer / "train")
    for *box, label, _ in found:
        x, y, w, h = map(int, box)
        assert label in labels and w > 0 and h > 0 and x + w <= 640 and y + h <= 480
    picture = answer.locator(".jp-OutputArea img")
    assert picture.count() == 1, "the frame with its face box and Grad-CAM map is not shown"
    assert picture.evaluate("img => img.complete && img.naturalWidth") > 0

    tab.set_viewport_size({"width": 1280, "height": 1400})     # the button with the frame, and the answer
    widget.evaluate("element => element.scrollIntoView({block: 'start'})")
    tab.screenshot(path=str(out_dir / "09_webcam.png"))
    tab.set_viewport_size({"width": 1280, "height": 1000})
    assert problems(save_and_read(tab, out_dir / "notebooks" / LESSONS[1], all_ran=False)) == []


def test_the_run_report_renders_with_its_pictures(browser, out_dir):
    index = config.outputs_dir() / "index.html"
    if not index.is_file():
        run_headless("05" if models_ready() else "02,03,04,05")
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    tab = context.new_page()
    tab.goto(index.resolve().as_uri())
    tab.wait_for_load_state("load")
    assert "run report" in tab.locator("h1").inner_text()
    images = tab.evaluate("[...document.images].map(i => [i.getAttribute('src'), i.complete && i.naturalWidth])")
    print(f"report: {index} with {len(images)} picture(s): {images}")
    assert images, "the report shows no pictures"
    assert all(width for _, width in images), f"pictures that did not load: {images}"
    tab.screenshot(path=str(out_dir / "report.png"), full_page=True)
    context.close()
