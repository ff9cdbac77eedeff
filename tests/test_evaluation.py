"""helpers.evaluation: metrics and the threshold choice against hand-computed values, tables,
batched prediction, and the error-analysis helpers (confident mistakes, FER+ crowd votes)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import config, evaluation
from helpers.data import DataSource

# A tiny example worked out by hand. Threshold 0.5 predicts [0, 1, 0, 1, 0].
Y = np.array([0, 0, 0, 1, 1])
P = np.array([0.1, 0.6, 0.2, 0.7, 0.4])


def test_scores_match_hand_computed_values():
    s = evaluation.scores(Y, P)
    assert s["accuracy"] == pytest.approx(3 / 5)
    assert s["happy_recall"] == pytest.approx(2 / 3)      # happy 0 and 2 found, 1 missed
    assert s["sad_recall"] == pytest.approx(1 / 2)        # sad 3 found, 4 missed
    assert s["balanced_accuracy"] == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert s["happy_precision"] == pytest.approx(2 / 3)   # called happy: 0, 2, 4
    assert s["sad_precision"] == pytest.approx(1 / 2)     # called sad: 1, 3
    assert s["happy_f1"] == pytest.approx(2 / 3)
    assert s["sad_f1"] == pytest.approx(1 / 2)
    assert s["roc_auc"] == pytest.approx(5 / 6)           # 5 of 6 (sad, happy) pairs ranked right
    assert s["pr_auc"] == pytest.approx(1 / 2 * 1 + 1 / 2 * 2 / 3)
    assert s["threshold"] == 0.5 and s["n"] == 5


def test_scores_threshold_and_class_names():
    s = evaluation.scores(Y, P, threshold=0.35, class_names=("cat", "dog"))
    # predicts [0, 1, 0, 1, 1]: every dog found
    assert s["dog_recall"] == 1.0 and s["cat_recall"] == pytest.approx(2 / 3)
    assert s["accuracy"] == pytest.approx(4 / 5)
    assert "sad_recall" not in s


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_scores_with_one_class_has_no_auc():
    s = evaluation.scores([0, 0, 0], [0.1, 0.2, 0.9])
    assert np.isnan(s["roc_auc"]) and np.isnan(s["pr_auc"])
    assert s["accuracy"] == pytest.approx(2 / 3)


def test_choose_threshold_picks_the_separating_threshold():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    p = np.array([0.10, 0.20, 0.30, 0.35, 0.40, 0.45, 0.80, 0.90])
    assert evaluation.choose_threshold(y, p) == 0.40        # only p >= 0.40 separates them
    assert evaluation.choose_threshold(y[::-1], p[::-1]) == 0.40      # order does not matter


def test_choose_threshold_maximises_balanced_accuracy_by_hand():
    # Y, P: t=0.7 gives (1/2 + 1) / 2 = 0.75; t=0.6 (1/2 + 2/3) / 2; t=0.4 (1 + 2/3) / 2 = 5/6,
    # the best; t=0.2 (1 + 1/3) / 2; t=0.1 (1 + 0) / 2.
    assert evaluation.choose_threshold(Y, P) == 0.4
    assert evaluation.scores(Y, P, 0.4)["balanced_accuracy"] == pytest.approx(5 / 6)


def test_choose_threshold_on_ties_takes_the_highest():
    # t=0.8: (1/2 + 1) / 2 = 0.75, and t=0.4: (1 + 1/2) / 2 = 0.75; t=0.6 and t=0.2 give 0.5.
    assert evaluation.choose_threshold([0, 1, 0, 1], [0.2, 0.4, 0.6, 0.8]) == 0.8


def test_choose_threshold_tries_every_distinct_probability():
    # The old version rounded to 3 decimals and skipped p > 0.98: it returned 0.4 and 0.1 here.
    assert evaluation.choose_threshold([0, 1], [0.4001, 0.4004]) == 0.4004
    assert evaluation.choose_threshold([0, 0, 1], [0.1, 0.985, 0.99]) == 0.99
    p32 = np.array([0.31, 0.62], np.float32)              # a model's float32 output
    t = evaluation.choose_threshold([0, 1], p32)
    assert (p32 >= t).tolist() == [False, True]           # the sad face itself is called sad


class _CountingModel:
    """Quacks like a Keras model: records each batch ``predict`` gets; P = mean brightness."""
    input_shape = (None, 4, 4, 1)

    def __init__(self):
        self.batches = []

    def predict(self, x, batch_size=None, verbose="auto"):
        x = np.asarray(x)
        assert x.shape[1:] == (4, 4, 1) and verbose == 0
        self.batches.append(len(x))
        return x.mean(axis=(1, 2, 3)).reshape(-1, 1) / 255

    def __call__(self, x, training=None):
        raise AssertionError("call model.predict: a direct call may run augmentation")


def test_predict_proba_batches_in_order():
    images = np.stack([np.full((8, 8, 3), 10 * i, np.uint8) for i in range(10)])   # RGB, 8x8
    model = _CountingModel()
    p = evaluation.predict_proba(model, images, batch_size=3)
    assert model.batches == [3, 3, 3, 1]
    np.testing.assert_allclose(p, np.arange(10) * 10 / 255, rtol=1e-3)   # order kept, resized, gray
    assert p.dtype == np.float32
    np.testing.assert_allclose(evaluation.predict_proba(_CountingModel(), images, batch_size=64), p)


def test_predict_proba_of_nothing():
    assert evaluation.predict_proba(_CountingModel(), np.zeros((0, 4, 4, 1))).shape == (0,)


def test_comparison_row_is_key_scores_threshold_and_extras():
    row = evaluation.comparison_row(Y, P, ("happy", "sad"), 0.35, params=1234, latency_ms=2.5)
    assert list(row) == evaluation.key_columns() + ["threshold", "params", "latency_ms"]
    # threshold 0.35 predicts [0, 1, 0, 1, 1]: called happy 0, 2 (both right); called sad 1, 3, 4
    expected = {"accuracy": 4 / 5, "balanced_accuracy": (2 / 3 + 1) / 2,
                "happy_f1": 2 * 1 * (2 / 3) / (1 + 2 / 3), "sad_precision": 2 / 3, "sad_recall": 1.0,
                "sad_f1": 2 * (2 / 3) * 1 / (2 / 3 + 1), "roc_auc": 5 / 6}
    assert {k: row[k] for k in evaluation.key_columns()} == pytest.approx(expected)
    assert row["threshold"] == 0.35
    assert row["params"] == 1234 and row["latency_ms"] == 2.5
    cats = evaluation.comparison_row(Y, P, ("cat", "dog"))
    assert "dog_recall" in cats and "sad_recall" not in cats and cats["cat_f1"] == pytest.approx(2 / 3)


def test_comparison_table_and_save_table_round_trip(tmp_path):
    rows = {"original_cnn": evaluation.comparison_row(Y, P, ("happy", "sad"), params=10),
            "happy_sad": evaluation.comparison_row(Y, P, ("happy", "sad"), 0.35, params=20)}
    table = evaluation.comparison_table(rows)
    assert list(table.index) == ["original_cnn", "happy_sad"] and table.index.name == "model"
    picked = evaluation.comparison_table(rows, ["params", "missing", "accuracy"])
    assert list(picked.columns) == ["params", "accuracy"]
    path = evaluation.save_table(table, "metrics", tmp_path / "new")
    assert path == tmp_path / "new" / "metrics.csv"
    again = pd.read_csv(path)
    assert list(again.columns) == ["model"] + list(table.columns)     # no "Unnamed: 0"
    again = again.set_index("model")
    assert again.loc["happy_sad", "accuracy"] == pytest.approx(0.8)
    assert again.loc["original_cnn", "params"] == 10
    pd.testing.assert_frame_equal(again, table, check_dtype=False)
    assert "happy_sad" in (tmp_path / "new" / "metrics.md").read_text()
    other = table.rename_axis("file")
    assert pd.read_csv(evaluation.save_table(other, "t", tmp_path)).columns[0] == "file"


# ----------------------------------------------------------------------------- error analysis
def test_confident_mistakes_most_confident_first():
    rows = pd.DataFrame({"path": list("abcde"), "label": Y}, index=[10, 11, 12, 13, 14])
    # mistakes at t=0.5: b (happy called sad, P(sad)=0.6), e (sad called happy, P(happy)=0.6)
    p = np.array([0.1, 0.6, 0.2, 0.7, 0.05])
    mistakes = evaluation.confident_mistakes(rows, p)
    assert list(mistakes["path"]) == ["e", "b"]                 # 0.95 sure of happy, then 0.6 of sad
    assert list(mistakes.index) == [14, 11]                     # the rows' own index is kept
    assert list(mistakes["predicted"]) == ["happy", "sad"]
    np.testing.assert_allclose(mistakes["confidence"], [0.95, 0.6])
    assert len(evaluation.confident_mistakes(rows, p, n=1)) == 1
    # threshold 0.01 calls everything sad: every happy row is wrong, P(sad) 0.6 the surest
    assert evaluation.confident_mistakes(rows, p, threshold=0.01)["path"].tolist() == ["b", "c", "a"]
    with pytest.raises(ValueError):
        evaluation.confident_mistakes(rows, p[:3])


VOTES = list(config.FERPLUS_VOTE_COLUMNS)   # neutral, happiness, surprise, sadness, ..., unknown, NF


def _votes(**given) -> list[int]:
    return [given.get(column, 0) for column in VOTES]


@pytest.fixture
def manifest_source(tmp_path) -> DataSource:
    fer = tmp_path / "fer2013"
    (fer / "train").mkdir(parents=True)
    rows = [("test/happy/a.png", _votes(happiness=9, surprise=1)),        # crowd agrees: happiness
            ("test/happy/b.png", _votes(neutral=6, happiness=4)),         # crowd says neutral
            ("test/sad/c.png", _votes(neutral=5, sadness=5)),             # tie neutral/sadness: no majority
            ("test/sad/d.png", _votes(neutral=1, sadness=8, NF=1))]       # crowd agrees: sadness
    manifest = pd.DataFrame([{"path": path, "ferplus_png": "x.png",
                              **{f"ferplus_{e}": v for e, v in zip(VOTES, votes, strict=True)}}
                             for path, votes in rows])
    manifest.to_csv(fer / "manifest.csv", index=False)
    return DataSource(tmp_path, fer, None, synthetic=False)


def test_crowd_votes_join_and_agreement(manifest_source):
    split = pd.DataFrame({"path": ["fer2013/test/sad/d.png", "fer2013/test/happy/a.png",
                                   "fer2013/test/happy/b.png", "fer2013/test/sad/c.png",
                                   "fer2013/test/sad/unknown.png"],
                          "class": ["sad", "happy", "happy", "sad", "sad"],
                          "label": [1, 0, 0, 1, 1]}, index=[7, 3, 5, 1, 9])
    crowd = evaluation.crowd_votes(split, manifest_source)
    assert list(crowd.index) == [7, 3, 5, 1, 9]
    assert list(crowd.columns) == VOTES + ["crowd_majority", "crowd_share", "crowd_agrees"]
    assert crowd.loc[7, "sadness"] == 8 and crowd.loc[3, "happiness"] == 9
    assert crowd["crowd_agrees"].tolist() == [True, True, False, False, False]
    assert crowd["crowd_majority"].tolist()[:4] == ["sadness", "happiness", "neutral", None]
    assert crowd.loc[3, "crowd_share"] == pytest.approx(0.9)
    assert crowd.loc[1, "crowd_share"] == pytest.approx(0.5)
    assert pd.isna(crowd.loc[9, "crowd_majority"]) and np.isnan(crowd.loc[9, "crowd_share"])


@pytest.mark.parametrize("votes, majority", [
    (_votes(happiness=6, neutral=4), "happiness"),
    (_votes(happiness=5, neutral=5), None),                  # two emotions tie for the most: no majority
    (_votes(contempt=4, anger=3, NF=3), "contempt"),         # the last emotion column counts too
    (_votes(sadness=4, unknown=4, neutral=2), None),         # "unknown" as many as the top emotion
    (_votes(sadness=3, NF=5, neutral=2), None),              # "not a face" won
    (_votes(), None),                                        # no votes
])
def test_the_one_crowd_vote_rule(votes, majority):
    table = pd.DataFrame([votes], columns=[f"ferplus_{c}" for c in VOTES])
    assert evaluation.crowd_majority(table, prefix="ferplus_").tolist() == [majority]
    assert evaluation.crowd_majority(table.set_axis(VOTES, axis=1)).tolist() == [majority]


def test_crowd_votes_without_manifest(tmp_path):
    (tmp_path / "fer2013" / "train").mkdir(parents=True)
    source = DataSource(tmp_path, tmp_path / "fer2013", None, synthetic=True)
    split = pd.DataFrame({"path": ["fer2013/test/sad/d.png"], "class": ["sad"], "label": [1]})
    assert evaluation.crowd_votes(split, source) is None


def test_crowd_votes_when_no_row_is_in_the_manifest(manifest_source):
    split = pd.DataFrame({"path": ["fer2013/test/sad/other.png"], "class": ["sad"], "label": [1]})
    assert evaluation.crowd_votes(split, manifest_source) is None


def test_mistakes_join_crowd_votes(manifest_source):
    split = pd.DataFrame({"path": ["fer2013/test/happy/a.png", "fer2013/test/happy/b.png",
                                   "fer2013/test/sad/c.png", "fer2013/test/sad/d.png"],
                          "class": ["happy", "happy", "sad", "sad"], "label": [0, 0, 1, 1]})
    mistakes = evaluation.confident_mistakes(split, [0.1, 0.9, 0.2, 0.8])   # b and c are wrong
    joined = mistakes.join(evaluation.crowd_votes(split, manifest_source))
    assert joined["path"].tolist() == ["fer2013/test/happy/b.png", "fer2013/test/sad/c.png"]
    assert not joined["crowd_agrees"].any()           # both "mistakes" are doubtful labels
