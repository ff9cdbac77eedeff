"""Lesson 07: the functions written in the lesson's cells (Grad-CAM, occlusion, correlation, and
the extra-code pick_cases), run here on a network whose evidence we KNOW.

The test network is set by hand:
P(sad) = sigmoid(mean brightness of a bright square in the top-left region R
                 - mean darkness of a dark square in the bottom-right region Q).
Any other place of the image has no weight at all. The explanations must say so.
"""
from __future__ import annotations

from pathlib import Path

import keras
import nbformat
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from helpers import data, evaluation, model_files

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "07_inside_the_network.ipynb"
SIZE = 32                      # model input
R = (slice(4, 12), slice(4, 12))          # sad evidence: bright square (model pixels)
Q = (slice(20, 28), slice(20, 28))        # happy evidence: dark square


def hand_set_model() -> keras.Sequential:
    model = keras.Sequential([
        keras.Input((SIZE, SIZE, 1)),
        layers.Rescaling(1 / 255),
        layers.RandomFlip("horizontal", seed=0),   # augmentation: must be off in explanations
        layers.Conv2D(2, 1, activation="relu", name="detect"),   # ch0 bright, ch1 dark
        layers.Flatten(),
        layers.Dense(1, activation="sigmoid", name="head"),
    ])
    # ch0 = relu(x - 0.5): brighter than grey; ch1 = relu(0.5 - x): darker than grey.
    model.get_layer("detect").set_weights([np.array([[[[1.0, -1.0]]]]), np.array([-0.5, 0.5])])
    weights = np.zeros((SIZE, SIZE, 2))
    weights[R + (0,)] = 3.0 / 32        # a full bright square adds +3 to the logit
    weights[Q + (1,)] = -3.0 / 32       # a full dark square adds -3
    model.get_layer("head").set_weights([weights.reshape(-1, 1), np.zeros(1)])
    return model


def scene() -> np.ndarray:
    """Grey image at the model's size, bright square at R, dark square at Q."""
    img = np.full((SIZE, SIZE), 128, np.uint8)
    img[R], img[Q] = 255, 0
    return img[..., None]


def in_region(index, region) -> bool:
    r, c = index
    return region[0].start <= r < region[0].stop and region[1].start <= c < region[1].stop


@pytest.fixture(scope="module")
def lesson():
    """The functions lesson 07 defines in its cells (sub_model, grad_cam, occlusion, correlation,
    and its extra-code pick_cases)."""
    names = ("def sub_model(", "def grad_cam(", "def occlusion(", "def pick_cases(")
    cells = [c.source for c in nbformat.read(NOTEBOOK, 4).cells
             if c.cell_type == "code" and any(name in c.source for name in names)]
    assert len(cells) == 4, ("lesson 07 should define sub_model, grad_cam, occlusion and pick_cases "
                             "in cells of their own")
    space = {"keras": keras, "np": np, "tf": tf, "data": data, "evaluation": evaluation, "model_files": model_files}
    for source in cells:
        exec(compile(source, str(NOTEBOOK), "exec"), space)
    return space


@pytest.fixture(scope="module")
def model():
    return hand_set_model()


def test_lesson_grad_cam_points_at_the_evidence_for_each_class(lesson, model):
    detect = model.get_layer("detect")
    images = np.stack([scene(), scene()])
    sad, happy = lesson["grad_cam"](model, detect, images, [1, 0])
    assert sad.shape == happy.shape == (SIZE, SIZE) and sad.dtype == np.float32
    assert sad.max() == pytest.approx(1.0) and sad.min() >= 0
    assert in_region(np.unravel_index(sad.argmax(), sad.shape), R)       # sad: the bright square
    assert in_region(np.unravel_index(happy.argmax(), happy.shape), Q)   # happy: the dark square
    assert sad[Q].max() == 0 and happy[R].max() == 0                      # counter-evidence: ReLU'd away
    np.testing.assert_array_equal(sad, lesson["grad_cam"](model, detect, images[:1], [1])[0])  # no augmentation


def test_lesson_grad_cam_of_an_empty_face_is_all_zero(lesson, model):
    grey = np.full((1, SIZE, SIZE, 1), 127, np.uint8)          # just below 0.5: no bright place, no evidence for sad
    cam = lesson["grad_cam"](model, model.get_layer("detect"), grey, [1])
    assert np.isfinite(cam).all() and cam.max() == 0


def test_lesson_occlusion_peaks_at_the_evidence_and_ignores_empty_places(lesson, model):
    drop = lesson["occlusion"](model, scene(), 1, patch=4, stride=2)
    assert drop.shape == (SIZE, SIZE) and np.isfinite(drop).all()
    assert in_region(np.unravel_index(drop.argmax(), drop.shape), R)     # covering R lowers P(sad)
    assert in_region(np.unravel_index(drop.argmin(), drop.shape), Q)     # covering Q raises it
    assert drop.max() > 0.05
    assert np.abs(drop[:8, 20:]).max() < 1e-6          # top-right: only grey, covering it changes nothing
    np.testing.assert_allclose(lesson["occlusion"](model, scene(), 0, patch=4, stride=2), -drop, atol=1e-6)


def test_lesson_correlation_resizes_and_is_nan_for_flat_maps(lesson):
    a = np.random.default_rng(0).random((8, 8))
    assert lesson["correlation"](a, a) == pytest.approx(1.0)
    assert lesson["correlation"](a, -a) == pytest.approx(-1.0)
    assert np.isnan(lesson["correlation"](np.zeros((4, 4)), a))           # an empty Grad-CAM
    assert -1 <= lesson["correlation"](a[::2, ::2], a) <= 1                # a coarser map is resized


def test_pick_cases_right_and_wrong_per_class(lesson):
    y = np.array([0, 0, 0, 1, 1, 1, 0, 1])
    p = np.array([0.1, 0.4, 0.9, 0.8, 0.3, 0.99, 0.02, 0.45])
    cases = lesson["pick_cases"](y, p, n=2)
    assert list(cases) == ["happy right", "sad right", "happy wrong", "sad wrong"]
    assert cases["happy right"].tolist() == [6, 0]       # most confident first
    assert cases["sad right"].tolist() == [5, 3]
    assert cases["happy wrong"].tolist() == [2]          # only one happy face was called sad
    assert cases["sad wrong"].tolist() == [4, 7]         # 0.3 is surer than 0.45
    assert lesson["pick_cases"](y, p, n=2, threshold=0.35)["sad wrong"].tolist() == [4]   # 0.45 is now sad
    assert list(lesson["pick_cases"](y, p, class_names=("a", "b"))) == ["a right", "b right",
                                                                     "a wrong", "b wrong"]
    with pytest.raises(ValueError):
        lesson["pick_cases"](y, p[:-1])
