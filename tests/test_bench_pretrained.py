"""tools.bench's rows for lesson 10's pretrained model: which seeds it trains, the by-seed table
and the targets, checked on tables whose answers are worked out by hand."""
from __future__ import annotations

import pandas as pd
import pytest

from helpers import config, splits
from tools import bench


def _table():
    rows = {
        "original_cnn": {"train_minutes": 5.0, "accuracy_rule": 0.75, "balanced_accuracy_rule": 0.74,
                         "saved_mb": 44.0, "images_per_s_b64": 100.0},
        "happy_sad": {"seed": 42, "train_minutes": 20.0, "accuracy_rule": 0.925, "balanced_accuracy_rule": 0.926,
                      "accuracy_mirrored": 0.924, "saved_mb": 0.70, "images_per_s_b64": 2000.0},
        "happy_sad_pretrained": {"seed": 42, "train_minutes": 30.0, "pretrain_minutes": 12.0, "accuracy_rule": 0.94,
                                 "balanced_accuracy_rule": 0.93, "accuracy_mirrored": 0.938, "saved_mb": 0.71,
                                 "images_per_s_b64": 1900.0},
        "happy_sad_pretrained_seed1": {"seed": 1, "train_minutes": 50.0, "pretrain_minutes": 14.0,
                                       "accuracy_rule": 0.93, "balanced_accuracy_rule": 0.936,
                                       "accuracy_mirrored": 0.931, "saved_mb": 0.72, "images_per_s_b64": 2100.0},
    }
    return pd.DataFrame(rows).T


def test_by_seed_adds_the_mean_and_spread_of_the_pretrained_seeds():
    shown = bench.by_seed(_table())
    assert list(shown.index[:3]) == ["happy_sad", "happy_sad_pretrained", "happy_sad_pretrained_seed1"]
    mean, spread = shown.iloc[3], shown.iloc[4]
    assert "mean of 2 seeds" in shown.index[3] and "spread" in shown.index[4]
    assert mean["accuracy_rule"] == pytest.approx(0.935) and spread["accuracy_rule"] == pytest.approx(0.01)
    assert mean["train_minutes"] == pytest.approx(40.0) and spread["pretrain_minutes"] == pytest.approx(2.0)
    assert "original_cnn" not in shown.index


def test_pretrained_targets_use_the_mean_of_the_seeds():
    targets = bench.pretrained_targets(_table())
    measured, met = targets["measured"], targets["met"]
    assert measured.iloc[0] == pytest.approx(0.935) and met.iloc[0]              # accuracy: 0.935 >= 0.935
    assert measured.iloc[1] == pytest.approx(0.933) and met.iloc[1]              # balanced: 0.933 >= 0.93
    assert measured.iloc[2] == pytest.approx(0.72) and met.iloc[2]               # the largest file
    assert measured.iloc[3] == pytest.approx(20.0) and met.iloc[3]               # 2000 / 100 images per s
    assert measured.iloc[4] == pytest.approx(2.0) and met.iloc[4]                # 40 min vs happy_sad's 20
    slower = _table()
    slower.loc["happy_sad_pretrained_seed1", "train_minutes"] = 52.0             # mean 41 min: 2.05x
    assert not bench.pretrained_targets(slower)["met"].iloc[4]


def test_the_bench_asks_for_lesson_10_and_the_second_seed(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "models_dir", lambda: tmp_path)
    monkeypatch.setattr(config, "prepared_dir", lambda: tmp_path)
    for file in [splits.SPLIT_FILE, bench.BASELINE[1], *bench.TFLITE, *(file for _, file in bench.NETWORKS)]:
        (tmp_path / file).touch()                                 # everything but lesson 10's models
    assert bench.missing_steps() == ["10"] and bench.missing_seeds() == list(bench.SECOND_SEEDS)
    assert bench.pretrained_files() == []
    for seed in bench.SECOND_SEEDS:
        (tmp_path / f"{bench.PRETRAINED}_seed{seed}.keras").touch()
    assert bench.missing_seeds() == [] and bench.missing_steps() == ["10"]   # seed 42's file is still missing
    (tmp_path / f"{bench.PRETRAINED}.keras").touch()
    assert bench.missing_steps() == []
    assert bench.pretrained_files()[0] == (bench.PRETRAINED, f"{bench.PRETRAINED}.keras")
    assert len(bench.pretrained_files()) == 1 + len(bench.SECOND_SEEDS)
    (tmp_path / config.OUR_MODEL).unlink()                        # a new happy_sad: lesson 10 compares with it
    assert bench.missing_steps() == ["02", "03", "04", "10"]
