"""Grad-CAM, occlusion and the other views of lesson 06.

The main test network is set by hand, so we KNOW where its evidence is:
P(sad) = sigmoid(mean brightness of a bright square in the top-left region R
                 - mean darkness of a dark square in the bottom-right region Q).
Any other place of the image has no weight at all. The explanations must say so.
"""
from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers

from helpers import explain, models

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


def scene(scale: int = 2) -> np.ndarray:
    """Grey image, bright square at R, dark square at Q; ``scale`` x the model size."""
    img = np.full((SIZE, SIZE), 128, np.uint8)
    img[R], img[Q] = 255, 0
    img = np.kron(img, np.ones((scale, scale), np.uint8))
    return img[..., None]


def in_region(index, region, scale=2) -> bool:
    r, c = index
    return (region[0].start * scale <= r < region[0].stop * scale
            and region[1].start * scale <= c < region[1].stop * scale)


@pytest.fixture(scope="module")
def model():
    return hand_set_model()


def test_last_conv_layer_and_split(model):
    assert explain.last_conv_layer(model) == "detect"
    net = models.build_happy_sad()
    last = [layer.name for layer in net.layers if isinstance(layer, (layers.Conv2D, layers.SeparableConv2D))][-1]
    assert explain.last_conv_layer(net) == last
    with pytest.raises(ValueError, match="no convolutional"):
        explain.last_conv_layer(keras.Sequential([keras.Input((4, 4, 1)), layers.Flatten(),
                                                  layers.Dense(1)]))


def test_grad_cam_shape_range_and_determinism(model):
    image = scene()
    heat = explain.grad_cam(model, image)
    assert heat.shape == image.shape[:2] == (64, 64)          # the IMAGE's size, not the model's
    assert heat.dtype == np.float32 and np.isfinite(heat).all()
    assert heat.min() >= 0 and heat.max() == pytest.approx(1.0)
    np.testing.assert_array_equal(heat, explain.grad_cam(model, image))   # augmentation is off


def test_grad_cam_points_at_the_evidence_for_each_class(model):
    image = scene()
    sad = explain.grad_cam(model, image, target=1)
    happy = explain.grad_cam(model, image, target=0)
    assert in_region(np.unravel_index(sad.argmax(), sad.shape), R)
    assert in_region(np.unravel_index(happy.argmax(), happy.shape), Q)
    assert sad[Q[0].start * 2 + 4, Q[1].start * 2 + 4] < 0.05     # the dark square is no sad evidence
    assert happy[R[0].start * 2 + 4, R[1].start * 2 + 4] < 0.05
    with pytest.raises(ValueError):
        explain.grad_cam(model, image, target=2)


def test_grad_cam_on_our_network_shape_and_range():
    net = models.build_happy_sad()
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (48, 48, 1), dtype=np.uint8)
    heat = explain.grad_cam(net, image)
    assert heat.shape == (48, 48) and np.isfinite(heat).all()
    assert 0 <= heat.min() and heat.max() <= 1
    np.testing.assert_array_equal(heat, explain.grad_cam(net, image))   # no random augmentation
    # A named layer works too; a non-spatial one is refused.
    first = [layer.name for layer in net.layers if isinstance(layer, layers.Conv2D)][0]
    assert explain.grad_cam(net, image[..., 0], layer_name=first).shape == (48, 48)
    with pytest.raises(ValueError):
        explain.grad_cam(net, image, layer_name="no_such_layer")


def test_occlusion_peaks_at_the_evidence_and_ignores_empty_places(model):
    image = scene()
    drop = explain.occlusion_map(model, image, patch=8, stride=4)
    assert drop.shape == (64, 64) and np.isfinite(drop).all()
    assert in_region(np.unravel_index(drop.argmax(), drop.shape), R)     # covering R lowers P(sad)
    assert in_region(np.unravel_index(drop.argmin(), drop.shape), Q)     # covering Q raises it
    assert drop.max() > 0.05
    # Top-right and bottom-left quarters hold only grey: covering them changes nothing.
    assert np.abs(drop[:16, 40:]).max() < 1e-6
    assert np.abs(drop[40:, :16]).max() < 1e-6
    happy = explain.occlusion_map(model, image, target=0)
    np.testing.assert_allclose(happy, -drop, atol=1e-6)


def test_occlusion_of_an_empty_image_changes_nothing(model):
    grey = np.full((64, 64, 1), explain.GRAY, np.uint8)
    np.testing.assert_allclose(explain.occlusion_map(model, grey), 0.0, atol=1e-7)


def test_overlay_is_rgb_uint8_and_shows_the_heat():
    image = np.full((10, 12, 1), 100, np.uint8)
    heat = np.zeros((10, 12))
    heat[2, 3] = 1.0
    rgb = explain.overlay(image, heat)
    assert rgb.shape == (10, 12, 3) and rgb.dtype == np.uint8
    assert not np.array_equal(rgb[2, 3], rgb[8, 8])
    signed = explain.overlay(image, heat - 0.5, signed=True)
    assert signed.shape == (10, 12, 3)
    small = explain.overlay(image, np.ones((5, 6)))              # heatmap resized to the image
    assert small.shape == (10, 12, 3)


def test_first_layer_filters_and_feature_maps(model):
    filters = explain.first_layer_filters(model)
    assert filters.shape == (2, 1, 1) and filters.dtype == np.uint8
    assert filters[0, 0, 0] == 255 and filters[1, 0, 0] == 0        # +1 and -1 weights
    net = models.build_happy_sad()
    assert explain.first_layer_filters(net).shape == (32, 3, 3)
    maps = explain.feature_maps(model, scene(), ["detect"])
    assert list(maps) == ["detect"] and maps["detect"].shape == (SIZE, SIZE, 2)
    assert maps["detect"][R + (0,)].min() > 0.4 and maps["detect"][Q + (0,)].max() == 0
    default = explain.feature_maps(net, scene(scale=1)[..., 0])
    assert all(v.ndim == 3 for v in default.values()) and len(default) >= 3
    pictures = explain.map_grid(maps["detect"], n=5)
    assert len(pictures) == 2 and pictures[0].dtype == np.uint8
    with pytest.raises(ValueError):
        explain.feature_maps(model, scene(), ["missing"])


def test_pick_cases_right_and_wrong_per_class():
    y = np.array([0, 0, 0, 1, 1, 1, 0, 1])
    p = np.array([0.1, 0.4, 0.9, 0.8, 0.3, 0.99, 0.02, 0.45])
    cases = explain.pick_cases(y, p, n=2)
    assert list(cases) == ["happy right", "sad right", "happy wrong", "sad wrong"]
    assert cases["happy right"].tolist() == [6, 0]       # most confident first
    assert cases["sad right"].tolist() == [5, 3]
    assert cases["happy wrong"].tolist() == [2]          # only one happy face was called sad
    assert cases["sad wrong"].tolist() == [4, 7]         # 0.3 is surer than 0.45
    assert list(explain.pick_cases(y, p, class_names=("a", "b"))) == ["a right", "b right",
                                                                     "a wrong", "b wrong"]
    with pytest.raises(ValueError):
        explain.pick_cases(y, p[:-1])


def test_grad_cam_with_a_nested_base_model():
    """Transfer learning puts a whole (functional) conv base inside a Sequential model."""
    inputs = keras.Input((24, 24, 3))
    x = layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    base = keras.Model(inputs, layers.Conv2D(6, 3, padding="same", activation="relu")(x), name="base")
    net = keras.Sequential([keras.Input((24, 24, 3)), layers.Rescaling(1 / 255), base,
                            layers.GlobalAveragePooling2D(), layers.Dense(1, activation="sigmoid")])
    assert explain.last_conv_layer(net) == "base"
    image = np.random.default_rng(1).integers(0, 256, (48, 48, 1), dtype=np.uint8)  # gray, bigger
    heat = explain.grad_cam(net, image)
    assert heat.shape == (48, 48) and np.isfinite(heat).all() and 0 <= heat.min() <= heat.max() <= 1


def test_map_correlation_is_pearson_and_nan_for_flat_maps():
    rng = np.random.default_rng(0)
    a = rng.random((6, 6))
    assert explain.map_correlation(a, a) == pytest.approx(1.0)
    assert explain.map_correlation(a, -2 * a + 1) == pytest.approx(-1.0)
    b = rng.random((6, 6))
    assert explain.map_correlation(a, b) == pytest.approx(np.corrcoef(a.ravel(), b.ravel())[0, 1])
    assert np.isnan(explain.map_correlation(np.zeros((6, 6)), a))      # an empty Grad-CAM
    with pytest.raises(ValueError, match="different sizes"):
        explain.map_correlation(a, np.zeros((5, 5)))


def test_grad_cam_maps_of_pool_first_blocks_are_rectified_6x6_and_exact():
    """The pool of the last block moves after BN + ReLU: finer maps, the same function."""
    net = models.build_happy_sad()
    bn = [layer for layer in net.layers if isinstance(layer, layers.BatchNormalization)][-1]
    rng = np.random.default_rng(1)
    n = bn.gamma.shape[0]
    gamma = rng.uniform(0.5, 1.5, n) * np.where(np.arange(n) % 3 == 0, -1, 1)   # some negative
    bn.set_weights([gamma, rng.normal(0, 0.1, n), np.zeros(n), rng.uniform(0.5, 2, n)])
    features, head = explain._split(net, None)
    assert type(head[0]).__name__ == "_PoolLast"
    x = explain._input(net, rng.integers(0, 256, (48, 48, 1), dtype=np.uint8))
    maps = explain._run(features, x)
    assert maps.shape[1:3] == (6, 6) and float(np.min(maps)) >= 0     # rectified, before the pool
    stack = explain._layers(net)
    last_relu = max(i for i, layer in enumerate(stack) if isinstance(layer, layers.ReLU))
    true = np.asarray(explain._run(stack[:last_relu + 1], x))            # the model's own 3x3 maps
    tol = dict(rtol=1e-5, atol=1e-6 * float(np.abs(true).max()))
    np.testing.assert_allclose(np.asarray(head[0](maps)), true, **tol)
    np.testing.assert_allclose(np.asarray(explain._run(head, maps)), np.asarray(net(x, training=False)),
                               rtol=1e-5, atol=1e-6)
    # Without the min-pool for negative scales the maps would differ: the sign handling matters.
    head[0].sign = None
    assert not np.allclose(np.asarray(head[0](maps)), true, **tol)
