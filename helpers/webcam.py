"""Lesson 09's optional webcam button: one frame from the browser's camera to this notebook's kernel.

:func:`button` shows a button made with ``anywidget`` (the few lines of JavaScript in :data:`ESM`; it works
where Jupyter widgets do: JupyterLab, VS Code, Colab). Pressed, the browser asks for the camera, shows it for
``countdown`` seconds, takes one frame, turns the camera off and sends the frame (a JPEG, as a data URL) to
the kernel over the notebook's own connection: nothing else receives it. :func:`frame` gives that frame as an
RGB array, decoded by ``data.read_image`` (the one decoder), or None with one line saying why: anywidget
missing, no frame yet, or no camera (the browser's reason, e.g. ``NotFoundError`` or ``NotAllowedError``).
"""
from __future__ import annotations

import base64
import binascii

import numpy as np

from . import data

COUNTDOWN = 3           # seconds of live picture before the frame is taken: time to look at the camera
NO_FRAME_YET = "no webcam frame yet: press the button above, or use the upload button"
NO_BUTTON = "no webcam button (anywidget is not installed: pip install anywidget): use the upload button above"

# The browser's side. On success: `frame` (data URL) set, `error` cleared; on failure the reverse, and the
# widget shows the reason in one line. The camera is on only between the press and the frame.
ESM = """
const wait = (ms) => new Promise((done) => setTimeout(done, ms));

function render({ model, el }) {
  const button = Object.assign(document.createElement("button"), { textContent: "Take a picture" });
  button.className = "jupyter-widgets jupyter-button widget-button happysad-webcam-button";
  const video = Object.assign(document.createElement("video"), { muted: true, playsInline: true });
  const shot = document.createElement("img");
  for (const picture of [video, shot]) {
    picture.style.cssText = "display: none; height: 120px; margin-left: 8px; vertical-align: middle";
  }
  const line = Object.assign(document.createElement("span"), { className: "happysad-webcam-line" });
  line.style.marginLeft = "8px";
  const say = (text) => { line.textContent = text; };
  const send = (frame, error) => { model.set("frame", frame); model.set("error", error); model.save_changes(); };

  button.addEventListener("click", async () => {
    button.disabled = true;
    let stream = null;
    try {
      if (!navigator.mediaDevices?.getUserMedia) {
        throw new Error("this page cannot use a camera (it needs https or localhost)");
      }
      say("asking the browser for the camera ...");
      stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
      video.srcObject = stream;
      shot.style.display = "none";
      video.style.display = "inline-block";
      await video.play();
      for (let s = model.get("countdown"); s > 0; s--) {
        say(`look at the camera: ${s} ...`);
        await wait(1000);
      }
      for (let i = 0; !video.videoWidth && i < 100; i++) await wait(50);
      if (!video.videoWidth) throw new Error("the camera sent no picture");
      const canvas = Object.assign(document.createElement("canvas"),
                                   { width: video.videoWidth, height: video.videoHeight });
      canvas.getContext("2d").drawImage(video, 0, 0);
      const url = canvas.toDataURL("image/jpeg", 0.92);
      send(url, "");
      shot.src = url;
      shot.style.display = "inline-block";
      say(`frame taken (${canvas.width}x${canvas.height}): now run the next cell`);
    } catch (err) {
      const why = `no camera (${err.name || "Error"}: ${err.message})`.replace(/\\s+/g, " ");
      send("", why);
      say(`${why}: use the upload button above`);
    } finally {
      stream?.getTracks().forEach((track) => track.stop());
      video.srcObject = null;
      video.style.display = "none";
      button.disabled = false;
    }
  });
  el.append(button, video, shot, line);
}

export default { render };
"""

try:
    import anywidget
    import traitlets
except ImportError:                 # the button says so in one line; the upload button remains
    anywidget = None
else:
    class Webcam(anywidget.AnyWidget):
        """The button; ``frame``: the last frame as a JPEG data URL ("" if none), ``error``: why not."""
        _esm = ESM
        frame = traitlets.Unicode("").tag(sync=True)
        error = traitlets.Unicode("").tag(sync=True)
        countdown = traitlets.Int(COUNTDOWN).tag(sync=True)


def button(countdown: int = COUNTDOWN):
    """Show the webcam button and return it; without anywidget, one line saying so, and None."""
    if anywidget is None:
        print(NO_BUTTON)
        return None
    from IPython.display import display
    camera = Webcam(countdown=countdown)
    display(camera)
    return camera


def frame(camera) -> np.ndarray | None:
    """The frame the button took last, RGB uint8 (``data.read_image``); None, with one line saying why."""
    if camera is None:
        print(NO_BUTTON)
        return None
    if not camera.frame:
        print(f"{camera.error}: use the upload button above" if camera.error else NO_FRAME_YET)
        return None
    kind, _, payload = camera.frame.partition(",")
    try:
        if not kind.startswith("data:image/") or not kind.endswith(";base64"):
            raise data.Rejected("not an image data URL")
        return data.read_image(base64.b64decode(payload, validate=True))
    except (binascii.Error, data.Rejected) as err:
        print(f"the webcam frame could not be read ({getattr(err, 'reason', err)}): press the button again")
        return None
