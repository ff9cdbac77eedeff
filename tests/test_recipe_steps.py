"""tools.recipe_steps: each recipe addition alone on top of the plain run (the optimizers it builds)."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from helpers import config
from tools import recipe_steps

RECIPE = {"peak_learning_rate": 3e-3, "weight_decay": 1e-4, "label_smoothing": 0.1, "ema_momentum": 0.99}


def test_the_plain_run_is_adam_at_its_rate_with_nothing_added():
    plain = recipe_steps.optimizer(RECIPE, 100, set())
    assert type(plain) is keras.optimizers.Adam and not plain.use_ema
    assert np.isclose(float(plain.learning_rate), recipe_steps.PLAIN["learning_rate"])


@pytest.mark.parametrize("addition", recipe_steps.ADDITIONS)
def test_each_addition_changes_only_its_own_part(addition):
    opt = recipe_steps.optimizer(RECIPE, 100, {addition})
    assert (type(opt) is keras.optimizers.AdamW) == (addition == "AdamW")
    assert opt.use_ema == (addition == "EMA")
    if addition == "EMA":
        assert opt.ema_momentum == RECIPE["ema_momentum"]
    if addition == "AdamW":
        assert opt.weight_decay == RECIPE["weight_decay"]
    scheduled = isinstance(opt._learning_rate, keras.optimizers.schedules.CosineDecay)
    assert scheduled == (addition == "schedule")
    if scheduled:      # lesson 04's curve: a tenth of the peak, the peak after 5 % of the steps
        assert np.isclose(float(opt._learning_rate(0)), RECIPE["peak_learning_rate"] / 10)
        assert np.isclose(float(opt._learning_rate(5)), RECIPE["peak_learning_rate"])


def test_all_four_together():
    opt = recipe_steps.optimizer(RECIPE, 100, set(recipe_steps.ADDITIONS))
    assert type(opt) is keras.optimizers.AdamW and opt.use_ema


def test_without_lesson_04s_recipe_it_says_which_notebook_to_run_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(config, "models_dir", lambda: tmp_path)
    assert recipe_steps.main() == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "run notebook 04_better_recipe first" in err[0]
