"""helpers.webcam, lesson 09's webcam button, on the kernel's side: the frame the browser sends (a JPEG data
URL) is decoded by the one decoder; no frame, no camera, a bad frame or no anywidget is one line, never a
traceback. The browser's side (the JavaScript, a fake camera, no camera) is tests_browser/test_jupyterlab.py's."""
from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from helpers import webcam

needs_anywidget = pytest.mark.skipif(webcam.anywidget is None, reason="anywidget is not installed (requirements.lock has it)")


def _data_url(rgb: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=92)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


@needs_anywidget
def test_a_frame_from_the_browser_is_decoded_to_rgb(capsys):
    camera = webcam.Webcam()
    picture = np.zeros((48, 64, 3), np.uint8)
    picture[:, 32:] = 200                                   # a bright right half survives the JPEG
    camera.frame = _data_url(picture)
    rgb = webcam.frame(camera)
    assert rgb.shape == (48, 64, 3) and rgb.dtype == np.uint8
    assert rgb[:, :28].mean() < 10 and rgb[:, 36:].mean() > 190
    assert capsys.readouterr().out == ""


@needs_anywidget
@pytest.mark.parametrize("frame,error,line", [
    ("", "", webcam.NO_FRAME_YET),
    ("", "no camera (NotFoundError: Requested device not found)",
     "no camera (NotFoundError: Requested device not found): use the upload button above"),
    ("data:image/jpeg;base64,not base64!", "", "the webcam frame could not be read"),
    ("data:image/jpeg;base64," + base64.b64encode(b"not a picture").decode(), "", "the webcam frame could not be read"),
    ("data:text/plain;base64,aGk=", "", "the webcam frame could not be read (not an image data URL)"),
])
def test_no_frame_no_camera_or_a_bad_frame_is_one_line(capsys, frame, error, line):
    camera = webcam.Webcam(frame=frame, error=error)
    assert webcam.frame(camera) is None
    out = capsys.readouterr().out
    assert out.startswith(line) and out.count("\n") == 1


def test_without_anywidget_one_line_and_no_button(capsys, monkeypatch):
    monkeypatch.setattr(webcam, "anywidget", None)
    assert webcam.button() is None
    assert webcam.frame(None) is None
    assert capsys.readouterr().out == f"{webcam.NO_BUTTON}\n{webcam.NO_BUTTON}\n"


@needs_anywidget
def test_the_button_is_shown_with_its_countdown(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", shown.append)
    camera = webcam.button(countdown=1)
    assert shown == [camera] and camera.countdown == 1 and camera.frame == "" and camera.error == ""
    # the browser's side: asks for video only, stops the camera, says what failed
    for needle in ("getUserMedia({ video: true, audio: false })", "track.stop()", 'send("", why)', "export default"):
        assert needle in webcam.ESM
