"""The benchmark measures every saved model on the test split and writes its table."""
from __future__ import annotations

import pandas as pd
import pytest

from helpers import bench, config, data, models, training


@pytest.fixture
def project(fer_tree, tmp_path, monkeypatch):
    """A throw-away project: split + two tiny 'networks' saved under the usual names."""
    monkeypatch.delenv("HAPPYSAD_FAST", raising=False)
    monkeypatch.setenv("HAPPYSAD_DATA", str(fer_tree))
    for name in ("models", "outputs", "prepared"):
        (tmp_path / name).mkdir()
    monkeypatch.setattr(config, "models_dir", lambda: tmp_path / "models")
    monkeypatch.setattr(config, "outputs_dir", lambda: tmp_path / "outputs")
    monkeypatch.setattr(config, "prepared_dir", lambda: tmp_path / "prepared")
    data.prepare_fer_split()
    split = data.load_split()
    tiny = dict(filters=(4, 8), convs=(1, 1))
    training.train(lambda: models.build_happy_sad((32, 32, 3), **tiny), split, config.SEED_MODEL,
                   epochs=1, verbose=0)
    training.train(lambda: models.build_happy_sad(**tiny), split, config.OUR_MODEL, epochs=1, verbose=0)
    return tmp_path


def test_bench_measures_saved_models_and_writes_the_table(project):
    assert bench._missing_steps() == ["05", "07"]          # split and networks exist, seed_cnn_48 optional
    table = bench.measure(repeats=2)
    assert list(table.index) == ["seed_cnn", "happy_sad (ours)"]
    assert table.loc["seed_cnn", "input"] == "32x32x3"
    n_test = (data.load_split()["split"] == "test").sum()
    assert (table["n"] == n_test).all()
    assert ((table["accuracy"] >= 0) & (table["accuracy"] <= 1)).all()
    assert (table["images_per_s_b64"] > 0).all() and (table["latency_ms_b1"] > 0).all()
    path = bench.write(table)
    text = path.read_text()
    assert "## Targets" in text and "happy_sad (ours)" in text
    assert pd.read_csv(project / "outputs" / "benchmark.csv", index_col=0).shape[0] == 2


def test_targets_say_which_are_met():
    table = pd.DataFrame({
        "accuracy": [0.80, 0.93, 0.925], "balanced_accuracy": [0.8, 0.92, 0.91],
        "saved_mb": [14.8, 0.8, 0.2], "train_minutes": [30, 19, None],
        "images_per_s_b64": [100.0, 450.0, 900.0]},
        index=["seed_cnn", "happy_sad (ours)", "ours, TFLite int8"])
    result = bench.targets(table)
    assert result.loc["test accuracy (0.5 threshold)", "met"]
    assert not result.loc["batch-64 throughput vs seed_cnn", "met"]         # 4.5x < 5x
    assert result.loc["int8 TFLite accuracy loss", "measured"] == pytest.approx(0.005)
    assert result.loc["int8 TFLite accuracy loss", "met"]
