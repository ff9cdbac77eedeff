"""helpers.plots: every figure function returns a Figure with the expected axes and titles."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from helpers import plots  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def yp():
    rng = np.random.default_rng(0)
    y = np.array([0] * 30 + [1] * 20)
    p = np.clip(0.3 * y + rng.uniform(0, 0.7, len(y)), 0, 1)
    return y, p


def _history(n=6, best=3):
    """``n`` epochs whose validation loss is lowest at epoch ``best`` (1-based)."""
    val_loss = 0.5 + 0.1 * np.abs(np.arange(1, n + 1) - best)
    return pd.DataFrame({"epoch": np.arange(1, n + 1), "loss": np.linspace(1, 0.2, n),
                         "accuracy": np.linspace(0.5, 0.95, n), "val_loss": val_loss,
                         "val_accuracy": np.linspace(0.5, 0.8, n)})


def test_learning_curves(tmp_path):
    fig = plots.learning_curves({"original_cnn": _history(6, 4), "happy_sad": _history(8, 6)},
                                save=tmp_path / "lc.png")
    assert isinstance(fig, Figure)
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_title() == "Loss" and acc_ax.get_title() == "Accuracy"
    assert loss_ax.get_xlabel() == "epoch" and acc_ax.get_ylabel() == "accuracy"
    labels = [t.get_text() for t in loss_ax.get_legend().get_texts()]
    assert "happy_sad best epoch (6)" in labels and "original_cnn best epoch (4)" in labels
    assert "original_cnn train" in labels and "original_cnn validation" in labels
    assert (tmp_path / "lc.png").stat().st_size > 1000


def test_learning_curves_without_epoch_column():
    fig = plots.learning_curves({"m": _history().drop(columns="epoch")})
    assert len(fig.axes) == 2


def test_confusion_matrix_counts_and_row_shares(tmp_path):
    y = np.array([0, 0, 0, 0, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.9, 0.8, 0.4])     # happy: 3 right 1 wrong; sad: 1 right 1 wrong
    fig = plots.confusion_matrix(y, p, 0.5, ("happy", "sad"), save=tmp_path / "cm.png")
    ax = fig.axes[0]
    assert ax.get_title() == "Confusion matrix (threshold 0.50)"
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["happy", "sad"]
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["3\n75%", "1\n25%", "1\n50%", "1\n50%"]
    assert (tmp_path / "cm.png").exists()


def test_confusion_matrix_threshold_and_names_come_from_arguments():
    y = np.array([0, 1, 1])
    fig = plots.confusion_matrix(y, [0.2, 0.25, 0.9], threshold=0.22, class_names=("cat", "dog"))
    ax = fig.axes[0]
    assert "0.22" in ax.get_title()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["cat", "dog"]
    assert [t.get_text() for t in ax.texts] == ["1\n100%", "0\n0%", "0\n0%", "2\n100%"]


def test_confusion_matrix_on_given_axes():
    fig, axes = plt.subplots(1, 2)
    out = plots.confusion_matrix([0, 1], [0.1, 0.9], ax=axes[1], title="happy_sad")
    assert out is fig and axes[1].get_title() == "happy_sad"


def test_roc_pr_curves(yp, tmp_path):
    y, p = yp
    fig = plots.roc_pr_curves({"original_cnn": (y, p), "happy_sad": (y, p ** 0.5)}, save=tmp_path / "r.png")
    roc, pr = fig.axes
    assert roc.get_title() == "ROC curve" and pr.get_title() == "Precision-recall curve (sad)"
    assert pr.get_xlabel() == "sad recall" and pr.get_ylabel() == "sad precision"
    labels = [t.get_text() for t in roc.get_legend().get_texts()]
    assert labels[0].startswith("original_cnn (AUC ") and labels[-1] == "chance"
    assert any(t.get_text().startswith("chance (0.40") for t in pr.get_legend().get_texts())
    assert (tmp_path / "r.png").exists()


def test_heatmap_overlay_colours_by_heat():
    image = np.full((10, 12, 1), 100, np.uint8)
    heat = np.zeros((10, 12))
    heat[2, 3] = 1.0
    rgb = plots.heatmap_overlay(image, heat)
    assert rgb.shape == (10, 12, 3) and rgb.dtype == np.uint8
    # alpha 0.5: half the gray 100, half the colour; inferno(0) is near black, inferno(1) pale yellow
    inferno = matplotlib.colormaps["inferno"]
    np.testing.assert_allclose(rgb[8, 8], 50 + 127.5 * np.array(inferno(0.0)[:3]), atol=1)
    np.testing.assert_allclose(rgb[2, 3], 50 + 127.5 * np.array(inferno(1.0)[:3]), atol=1)
    np.testing.assert_array_equal(plots.heatmap_overlay(image, heat, alpha=0.0), 100)


def test_heatmap_overlay_signed_and_resized():
    image = np.full((10, 12), 100, np.uint8)
    heat = np.zeros((10, 12))
    heat[2, 3], heat[7, 9] = 0.5, -1.0                   # scaled by 1.0: +0.5 and -1
    signed = plots.heatmap_overlay(image, heat, signed=True)
    red, blue = signed[2, 3].astype(int), signed[7, 9].astype(int)
    assert red[0] > red[2] and blue[2] > blue[0]         # coolwarm: red positive, blue negative
    small = plots.heatmap_overlay(image, np.ones((3, 3)))  # a 3x3 Grad-CAM map, stretched to the image
    assert small.shape == (10, 12, 3) and (small == small[0, 0]).all()
    rgb = np.zeros((4, 6, 3), np.uint8)
    assert plots.heatmap_overlay(rgb, np.zeros((2, 3)), alpha=0.0).shape == (4, 6, 3)


def test_channel_pictures_stretches_each_channel():
    maps = np.zeros((4, 5, 3))
    maps[..., 0] = np.arange(20).reshape(4, 5)           # 0..19 -> 0..255
    maps[..., 1] = 7.0                                   # constant: black
    maps[0, 0, 2] = -1.0                                 # -1 -> 0, every 0 -> 255
    pictures = plots.channel_pictures(maps, n=5)
    assert len(pictures) == 3 and all(p.dtype == np.uint8 and p.shape == (4, 5) for p in pictures)
    assert pictures[0][0, 0] == 0 and pictures[0][3, 4] == 255 and pictures[0][0, 1] == round(255 / 19)
    assert pictures[1].max() == 0
    assert pictures[2][0, 0] == 0 and (pictures[2].ravel()[1:] == 255).all()
    assert len(plots.channel_pictures(maps, n=2)) == 2


def test_image_grid_gray_rgb_and_missing(tmp_path):
    gray = np.zeros((48, 48), np.uint8)
    gray1 = np.full((48, 48, 1), 128, np.uint8)
    rgb = np.zeros((30, 40, 3), np.uint8)
    rgb[..., 0] = 255
    fig = plots.image_grid([gray, gray1, rgb, None], ["a", "b", "c", "d"], ncols=3,
                           suptitle="grid", save=tmp_path / "g.png")
    assert len(fig.axes) == 6                          # 2 rows x 3 columns
    assert [ax.get_title() for ax in fig.axes[:4]] == ["a", "b", "c", "d"]
    assert fig._suptitle.get_text() == "grid"
    red = fig.axes[2].images[0].get_array()
    assert red.shape == (30, 40, 3) and red[0, 0, 0] == 255
    assert (tmp_path / "g.png").exists()


def test_image_grid_empty():
    fig = plots.image_grid([])
    assert isinstance(fig, Figure) and fig.axes[0].texts[0].get_text() == "(nothing to show)"


def test_draw_predictions(tmp_path):
    photo = np.zeros((120, 200, 3), np.uint8)
    faces = [{"box": (10, 20, 50, 50), "label": "sad", "class_index": 1, "p_class1": 0.83,
              "probability": 0.83},
             {"box": (100, 30, 40, 40), "label": "happy", "class_index": 0, "p_class1": 0.1,
              "probability": 0.9}]
    fig = plots.draw_predictions(photo, faces, save=tmp_path / "d.png")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == ["sad 0.83", "happy 0.90"]
    assert len(ax.patches) == 2
    assert ax.patches[0].get_xy() == (10, 20) and ax.patches[0].get_width() == 50
    assert ax.patches[0].get_edgecolor() != ax.patches[1].get_edgecolor()
    assert ax.get_title().startswith("2 faces")
    assert (tmp_path / "d.png").exists()


def test_draw_predictions_without_faces():
    fig = plots.draw_predictions(np.zeros((50, 50, 3), np.uint8), [])
    assert fig.axes[0].get_title() == "no face found" and not fig.axes[0].patches


# ------------------------------------------------------------------ the cleaning figures
@pytest.fixture
def cleaned(tmp_path):
    """A cleaning run with a broken file, a duplicate and a near-duplicate pair."""
    from PIL import Image
    from helpers import cleaning
    rng = np.random.default_rng(0)
    for cls in ["happy", "sad"]:
        (tmp_path / "src" / cls).mkdir(parents=True)
        for i in range(3):
            small = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
            Image.fromarray(small).resize((64, 64), Image.Resampling.BICUBIC).save(
                tmp_path / "src" / cls / f"{i}.png")
    (tmp_path / "src" / "happy" / "notes.jpg").write_text("not a picture")
    (tmp_path / "src" / "sad" / "copy.png").write_bytes((tmp_path / "src" / "sad" / "0.png").read_bytes())
    with Image.open(tmp_path / "src" / "happy" / "0.png") as img:
        img.resize((50, 50)).save(tmp_path / "src" / "happy" / "small.jpg", quality=90)
    return cleaning.clean(tmp_path / "src", tmp_path / "dst", faces="off", progress=False,
                          verbose=False)


def test_reasons_bar(cleaned, tmp_path):
    fig = plots.reasons_bar(cleaned.report, save=tmp_path / "r.png")
    ax = fig.axes[0]
    assert ax.get_title() == "Why files were rejected" and ax.get_xlabel() == "number of files"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["duplicate", "not an image"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["happy", "sad"]
    assert (tmp_path / "r.png").exists()
    nothing = plots.reasons_bar(cleaned.report[cleaned.report["status"] == "kept"])
    assert nothing.axes[0].texts[0].get_text() == "nothing was rejected"


def test_rejected_grid_shows_each_reason(cleaned):
    fig = plots.rejected_grid(cleaned, n=12)
    assert fig._suptitle.get_text() == "Rejected files (2 in all; 2 shown)"
    titles = [ax.get_title() for ax in fig.axes[:2]]
    assert titles[0].startswith("duplicate of sad/0.png") and titles[1].startswith("not an image")
    assert fig.axes[0].images and not fig.axes[1].images      # a text file cannot be shown


def test_outputs_grid_and_near_duplicate_pairs(cleaned):
    fig = plots.outputs_grid(cleaned, n=4)
    assert fig._suptitle.get_text() == "A sample of the cleaned images (7 in all)"
    assert sum(bool(ax.images) for ax in fig.axes) == 4
    fig = plots.near_duplicate_pairs(cleaned, n=3)
    assert [ax.get_title() for ax in fig.axes] == ["happy/0.png\n64×64", "happy/small.jpg\n50×50"]


def test_learning_curves_count_epochs_from_1():
    """Without an epoch column the first epoch is 1, and the marked best epoch is the 1-based one."""
    fig = plots.learning_curves({"m": _history(5, 2).drop(columns="epoch")})
    loss_ax = fig.axes[0]
    train_line = loss_ax.get_lines()[0]
    assert list(train_line.get_xdata()) == [1, 2, 3, 4, 5]
    assert "m best epoch (2)" in [t.get_text() for t in loss_ax.get_legend().get_texts()]
    with_column = plots.learning_curves({"m": _history(5, 2)}).axes[0].get_lines()[0]
    assert list(with_column.get_xdata()) == [1, 2, 3, 4, 5]
