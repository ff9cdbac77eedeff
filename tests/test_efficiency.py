"""helpers.efficiency: MACs counted by hand, sizes, and the speed function's shape (no timing thresholds);
lesson 08's decision rule and its interpreter steps, run from the notebook's cells."""
from __future__ import annotations

import ast
from pathlib import Path

import keras
import nbformat
import numpy as np
import pytest
from keras import layers

from helpers import efficiency


def _seq(input_shape, *stack):
    return keras.Sequential([keras.Input(shape=input_shape), *stack])


def test_conv_macs_by_hand():
    # 3x3 'same' conv, 8x8x1 -> 8x8x4: every one of 8*8*4 outputs needs 3*3*1 MACs.
    assert efficiency.count_macs(_seq((8, 8, 1), layers.Conv2D(4, 3, padding="same"))) == 8 * 8 * 4 * 9


def test_dense_macs_by_hand():
    assert efficiency.count_macs(_seq((10,), layers.Dense(1))) == 10


def test_valid_strided_conv_and_multichannel():
    # 'valid' 3x3 stride 2 on 9x9x3 -> 4x4x5 outputs, 3*3*3 = 27 MACs each.
    model = _seq((9, 9, 3), layers.Conv2D(5, 3, strides=2))
    assert model.output_shape == (None, 4, 4, 5)
    assert efficiency.count_macs(model) == 4 * 4 * 5 * 27


def test_depthwise_and_separable():
    # Depthwise 3x3 'same' on 6x6x4: 6*6*4 outputs x 9.
    assert efficiency.count_macs(_seq((6, 6, 4), layers.DepthwiseConv2D(3, padding="same"))) == 6 * 6 * 4 * 9
    # Separable 3x3 'same', 6x6x4 -> 6x6x8: depthwise 6*6*4*9 + pointwise 6*6*4*8.
    sep = _seq((6, 6, 4), layers.SeparableConv2D(8, 3, padding="same"))
    assert efficiency.count_macs(sep) == 6 * 6 * 4 * 9 + 6 * 6 * 4 * 8


def test_uncounted_layers_cost_nothing():
    model = _seq((8, 8, 2), layers.Rescaling(1 / 255), layers.BatchNormalization(), layers.ReLU(),
                 layers.MaxPooling2D(), layers.GlobalAveragePooling2D(), layers.Dense(3))
    assert efficiency.count_macs(model) == 2 * 3          # only the Dense 2 -> 3


def test_nested_model_is_counted():
    inner = _seq((8, 8, 1), layers.Conv2D(4, 3, padding="same"))
    outer = _seq((8, 8, 1), inner, layers.Flatten(), layers.Dense(1))
    assert efficiency.count_macs(outer) == 8 * 8 * 4 * 9 + 8 * 8 * 4


def test_original_layer_stack_macs_by_hand():
    # The original tutorial's layers at 256x256x3, 'valid' 3x3 convs, 2x2 max-pools:
    #   Conv 16:  254*254*16 outputs x 3*3*3  = 27,870,912
    #   pool -> 127x127
    #   Conv 32:  125*125*32 outputs x 3*3*16 = 72,000,000
    #   pool -> 62x62
    #   Conv 16:  60*60*16 outputs x 3*3*32   = 16,588,800
    #   pool -> 30x30x16, Flatten -> 14,400
    #   Dense 256: 14,400 x 256               =  3,686,400
    #   Dense 1:   256                        =        256
    expected = 27_870_912 + 72_000_000 + 16_588_800 + 3_686_400 + 256
    assert expected == 120_146_368
    model = _seq((256, 256, 3), layers.Rescaling(1 / 255),
                 layers.Conv2D(16, 3, activation="relu"), layers.MaxPooling2D(),
                 layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(),
                 layers.Conv2D(16, 3, activation="relu"), layers.MaxPooling2D(),
                 layers.Flatten(), layers.Dense(256, activation="relu"), layers.Dense(1, activation="sigmoid"))
    assert model.count_params() == 3_696_625
    assert efficiency.count_macs(model) == expected


def _blocks(separable_from):
    """48x48x1, blocks of 'same' 3x3 convs (32; 64, 64; 128, 128), pool-first as in happy_sad."""
    stack = [layers.Rescaling(1 / 255), layers.RandomFlip("horizontal")]
    for i, (width, n) in enumerate([(32, 1), (64, 2), (128, 2)]):
        for _ in range(n):
            conv = layers.SeparableConv2D if i >= separable_from else layers.Conv2D
            stack.append(conv(width, 3, padding="same", use_bias=False))
        stack += [layers.MaxPooling2D(), layers.BatchNormalization(), layers.ReLU()]
    return _seq((48, 48, 1), *stack, layers.GlobalAveragePooling2D(), layers.Dropout(0.3),
                layers.Dense(1, activation="sigmoid"))


def test_conv_network_macs_by_hand():
    #   48*48*32*(9*1) + 24*24*64*(9*32) + 24*24*64*(9*64)
    #   + 12*12*128*(9*64) + 12*12*128*(9*128) + Dense 128 -> 1
    expected = (48 * 48 * 32 * 9 + 24 * 24 * 64 * 288 + 24 * 24 * 64 * 576
                + 12 * 12 * 128 * 576 + 12 * 12 * 128 * 1152 + 128)
    assert expected == 64_364_672
    assert efficiency.count_macs(_blocks(separable_from=3)) == expected


def test_separable_stages_macs_by_hand():
    # The third block depthwise-separable: each separable conv = positions x in x 9 (depthwise)
    # + positions x in x out (1x1).
    expected = (48 * 48 * 32 * 9 + 24 * 24 * 64 * 288 + 24 * 24 * 64 * 576
                + 12 * 12 * (64 * 9 + 64 * 128) + 12 * 12 * (128 * 9 + 128 * 128) + 128)
    assert expected == 36_301_952
    model = _blocks(separable_from=2)
    assert [type(layer).__name__ for layer in model.layers].count("SeparableConv2D") == 2
    assert efficiency.count_macs(model) == expected


def test_macs_table_sums_to_total():
    model = _blocks(separable_from=2)
    table = efficiency.macs_table(model)
    assert table["macs"].sum() == efficiency.count_macs(model)
    assert table["share"].sum() == pytest.approx(1.0)
    assert set(table["kind"]) == {"Conv2D", "SeparableConv2D", "Dense"}
    assert table["params"].sum() == sum(layer.count_params() for layer in model.layers
                                        if type(layer).__name__ in efficiency.COUNTED_LAYERS)
    empty = efficiency.macs_table(_seq((4, 4, 1), layers.Flatten()))
    assert len(empty) == 0 and "macs" in empty.columns


def test_saved_size_of_a_file_and_a_folder(tmp_path):
    model = _seq((4,), layers.Dense(2))
    path = tmp_path / "tiny.keras"
    model.save(path)
    assert efficiency.saved_size(path) == path.stat().st_size > 0
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.bin").write_bytes(b"x" * 10)
    (folder / "sub" / "b.bin").write_bytes(b"y" * 5)
    assert efficiency.saved_size(folder) == 15


def test_measure_speed_keys_and_positive_numbers():
    calls = []

    def predict(batch):
        calls.append(len(batch))
        return np.zeros(len(batch))

    images = np.zeros((10, 8, 8, 1), np.uint8)        # fewer than 64: repeated to fill the batch
    speed = efficiency.measure_speed(predict, images, batch_sizes=(1, 64), repeats=3)
    for key in ("latency_ms", "images_per_s", "ms_per_batch_1", "images_per_s_1",
                "ms_per_batch_64", "images_per_s_64"):
        assert speed[key] > 0, key
    assert speed["latency_ms"] == speed["ms_per_batch_1"]
    assert speed["images_per_s"] == speed["images_per_s_64"]
    assert calls.count(1) == 5 and calls.count(64) == 5     # 2 warm-ups + 3 timed runs each
    with pytest.raises(ValueError):
        efficiency.measure_speed(predict, images[:0])


def test_median_seconds_is_the_median_after_warm_up(monkeypatch):
    from types import SimpleNamespace
    clock = iter([0.0, 1.0, 10.0, 13.0, 20.0, 22.0])     # timed runs of 1, 3 and 2 seconds
    monkeypatch.setattr(efficiency, "time", SimpleNamespace(perf_counter=lambda: next(clock)))
    calls = []
    assert efficiency.median_seconds(lambda: calls.append(1), repeats=3, warmup=4) == 2.0
    assert len(calls) == 7
    with pytest.raises(ValueError):
        efficiency.median_seconds(lambda: None, repeats=0)


def test_keras_predict_fn_matches_model():
    model = _seq((48, 48, 1), layers.Rescaling(1 / 255), layers.RandomFlip("horizontal"),
                 layers.Conv2D(4, 3), layers.BatchNormalization(), layers.GlobalAveragePooling2D(),
                 layers.Dense(1, activation="sigmoid"))
    x = np.random.default_rng(0).uniform(0, 255, (3, 48, 48, 1)).astype("float32")
    fn = efficiency.keras_predict_fn(model)
    np.testing.assert_allclose(fn(x), np.asarray(model(x, training=False)), atol=1e-6)
    speed = efficiency.measure_speed(fn, x, batch_sizes=(1, 4), repeats=2)
    assert speed["latency_ms"] > 0 and speed["images_per_s"] > 0


# ----------------------------------------------------------------------------- lesson 08's cells
NOTEBOOK_08 = Path(__file__).resolve().parents[1] / "notebooks" / "08_efficiency_and_deployment.ipynb"


def _lesson08_function(name, **namespace):
    """A function that a code cell of lesson 08 defines, compiled on its own with ``namespace`` as globals."""
    for cell in nbformat.read(NOTEBOOK_08, 4).cells:
        if cell.cell_type == "code" and f"def {name}(" in cell.source:
            node = next(n for n in ast.parse(cell.source).body if isinstance(n, ast.FunctionDef) and n.name == name)
            exec(compile(ast.Module([node], []), str(NOTEBOOK_08), "exec"), namespace)
            return namespace[name]
    raise AssertionError(f"lesson 08 defines no {name}()")


@pytest.mark.parametrize("flip_average", [False, True])
def test_lesson08_answers_by_the_saved_mirror_choice(flip_average):
    answer_proba = _lesson08_function("answer_proba", flip_average=flip_average)
    images = np.arange(2 * 2 * 3).reshape(2, 2, 3, 1)        # (N, H, W, C): a mirror reverses W
    def first_pixel(x):                                       # a stand-in model: P = the top-left pixel
        return x[:, 0, 0, 0].astype(float)

    mirrored = (images[:, 0, 0, 0] + images[:, 0, -1, 0]) / 2
    np.testing.assert_allclose(answer_proba(first_pixel, images), mirrored if flip_average else images[:, 0, 0, 0])


def test_lesson08_tflite_proba_quantises_and_dequantises(tmp_path):
    """The interpreter steps on lesson 08's page give Keras's P for a float32 and an int8 file, at any batch."""
    import tensorflow as tf
    keras.utils.set_random_seed(0)
    model = _seq((8, 8, 1), layers.Rescaling(1 / 255), layers.Conv2D(4, 3), layers.GlobalAveragePooling2D(),
                 layers.Dense(1, activation="sigmoid"))
    x = np.random.default_rng(0).integers(0, 256, (5, 8, 8, 1)).astype("float32")
    fn = tf.function(lambda t: model(t, training=False), input_signature=[tf.TensorSpec([None, 8, 8, 1])])
    tflite_proba = _lesson08_function("tflite_proba", np=np)
    from ai_edge_litert.interpreter import Interpreter
    for mode, tolerance in [("float32", 1e-5), ("int8", 0.02)]:
        converter = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()])
        if mode == "int8":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = lambda: ([image[None]] for image in x)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = converter.inference_output_type = tf.int8
        path = tmp_path / f"tiny_{mode}.tflite"
        path.write_bytes(converter.convert())
        interpreter = Interpreter(model_path=str(path))
        interpreter.allocate_tensors()
        expected = np.asarray(model(x, training=False)).ravel()
        for batch in (x[:1], x):                                # one image, then a resized batch
            np.testing.assert_allclose(tflite_proba(interpreter, batch), expected[:len(batch)], atol=tolerance)


def test_measure_speed_known_answer(monkeypatch):
    """A fake clock: each call takes 1 ms + 0.5 ms per image, so a batch of 64 takes 33 ms."""
    clock = [0.0]
    monkeypatch.setattr(efficiency.time, "perf_counter", lambda: clock[0])

    def predict(batch):
        clock[0] += 0.001 + 0.0005 * len(batch)

    speed = efficiency.measure_speed(predict, np.zeros((10, 8, 8, 1), np.uint8), batch_sizes=(1, 64), repeats=3)
    assert speed["ms_per_batch_1"] == pytest.approx(1.5) and speed["latency_ms"] == pytest.approx(1.5)
    assert speed["ms_per_batch_64"] == pytest.approx(33.0)
    assert speed["images_per_s_64"] == speed["images_per_s"] == pytest.approx(64 / 0.033)
    assert speed["images_per_s_1"] == pytest.approx(1 / 0.0015)
