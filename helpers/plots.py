"""Every figure of the series that is not specific to cleaning (those are in ``plots_cleaning``).

* :func:`learning_curves` - loss and accuracy per epoch, train vs validation, best epoch marked;
* :func:`confusion_matrix` - counts and row percentages as a heatmap;
* :func:`roc_pr_curves` - ROC and precision-recall curves of several models;
* :func:`threshold_curve` - precision / recall of class 1 as the threshold moves;
* :func:`image_grid` - any images with a title each;
* :func:`draw_predictions` - a photo with face boxes and "sad 0.83" labels.

Every function returns the matplotlib Figure and, given ``save=path``, also writes
it there (PNG by the suffix). Colours come from seaborn's colour-blind-safe
"colorblind" palette; line styles tell train from validation, so nothing depends on
colour alone. Figures are sized for a laptop screen (at most 12 inches wide).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

PALETTE = "colorblind"
HEATMAP_CMAP = "cividis"          # sequential and readable with any colour vision
DPI = 120


def colors(n: int) -> list:
    """``n`` colours of the colour-blind-safe palette."""
    import seaborn as sns
    return sns.color_palette(PALETTE, max(n, 1))


def _finish(fig, save: Path | str | None):
    """Tight layout, optional save, return the figure."""
    fig.tight_layout()
    if save:
        save = Path(save)
        save.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(save, dpi=DPI, bbox_inches="tight")
    return fig


# ----------------------------------------------------------------------------- training
def learning_curves(histories: dict, metrics=("loss", "accuracy"), save=None,
                    title: str = "Learning curves"):
    """Loss and accuracy per epoch for each model: train solid, validation dashed.

    ``histories``: ``{model name: DataFrame}`` with columns ``loss``, ``val_loss``,
    ``accuracy``, ``val_accuracy`` (and optionally ``epoch``, 1-based), as saved by
    ``helpers.training``. The best epoch (lowest validation loss - the weights
    that were kept) is marked with a dot and a dotted line.
    """
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 3.8), squeeze=False)
    palette = colors(len(histories))
    for (name, history), color in zip(histories.items(), palette):
        epochs = (history["epoch"].to_numpy() if "epoch" in history
                  else np.arange(1, len(history) + 1))
        best = int(np.nanargmin(history["val_loss"].to_numpy())) if "val_loss" in history else None
        for ax, metric in zip(axes[0], metrics):
            if metric in history:
                ax.plot(epochs, history[metric], color=color, ls="-", label=f"{name} train")
            if f"val_{metric}" in history:
                val = history[f"val_{metric}"].to_numpy()
                ax.plot(epochs, val, color=color, ls="--", label=f"{name} validation")
                if best is not None:
                    ax.axvline(epochs[best], color=color, ls=":", lw=1)
                    ax.plot(epochs[best], val[best], "o", color=color, ms=7,
                            label=f"{name} best epoch ({epochs[best]})")
    for ax, metric in zip(axes[0], metrics):
        ax.set_title(metric.replace("_", " ").capitalize())
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric.replace("_", " "))
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return _finish(fig, save)


# ----------------------------------------------------------------------------- evaluation
def confusion_matrix(y, p, threshold: float = 0.5, class_names=("happy", "sad"), title=None,
                     ax=None, save=None):
    """Heatmap of true vs predicted class: counts, and the share of each true class (row %).

    Row percentages answer "of all truly sad faces, how many did we call sad?" -
    the recall of each class, on the diagonal.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns
    from sklearn.metrics import confusion_matrix as sk_confusion

    y = np.asarray(y).astype(int)
    predicted = (np.asarray(p, dtype=float) >= threshold).astype(int)
    counts = sk_confusion(y, predicted, labels=[0, 1])
    rows = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)
    annot = np.array([[f"{c}\n{s:.0%}" for c, s in zip(crow, srow)]
                      for crow, srow in zip(counts, shares)])
    if ax is None:
        fig, ax = plt.subplots(figsize=(4.6, 3.9))
    else:
        fig = ax.figure
    sns.heatmap(shares, annot=annot, fmt="", cmap=HEATMAP_CMAP, vmin=0, vmax=1, ax=ax,
                xticklabels=list(class_names), yticklabels=list(class_names), square=True,
                cbar_kws={"label": "share of the true class"}, annot_kws={"fontsize": 11})
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title or f"Confusion matrix (threshold {threshold:.2f})")
    return _finish(fig, save)


def roc_pr_curves(results: dict, class_names=("happy", "sad"), save=None):
    """ROC and precision-recall curves, one line per model.

    ``results``: ``{model name: (y_true, p_class1)}``. The area under each curve is
    in the legend. The PR baseline is the share of class 1 (what guessing gets).
    """
    import matplotlib.pyplot as plt
    from sklearn import metrics as skm

    positive = class_names[1]
    fig, (roc_ax, pr_ax) = plt.subplots(1, 2, figsize=(10, 4.3))
    prevalence = None
    for (name, (y, p)), color in zip(results.items(), colors(len(results))):
        y, p = np.asarray(y).astype(int), np.asarray(p, dtype=float)
        fpr, tpr, _ = skm.roc_curve(y, p)
        roc_ax.plot(fpr, tpr, color=color, label=f"{name} (AUC {skm.roc_auc_score(y, p):.3f})")
        precision, recall, _ = skm.precision_recall_curve(y, p)
        pr_ax.plot(recall, precision, color=color, drawstyle="steps-post",
                   label=f"{name} (AP {skm.average_precision_score(y, p):.3f})")
        prevalence = y.mean()
    roc_ax.plot([0, 1], [0, 1], color="0.5", ls=":", label="chance")
    roc_ax.set_title("ROC curve")
    roc_ax.set_xlabel(f"false positive rate ({class_names[0]} called {positive})")
    roc_ax.set_ylabel(f"true positive rate ({positive} recall)")
    if prevalence is not None:
        pr_ax.axhline(prevalence, color="0.5", ls=":", label=f"chance ({prevalence:.2f})")
    pr_ax.set_title(f"Precision-recall curve ({positive})")
    pr_ax.set_xlabel(f"{positive} recall")
    pr_ax.set_ylabel(f"{positive} precision")
    for ax in (roc_ax, pr_ax):
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right" if ax is roc_ax else "lower left")
    return _finish(fig, save)


def threshold_curve(y, p, threshold: float | None = None, class_names=("happy", "sad"),
                    thresholds=None, save=None):
    """Precision and recall of class 1 (and balanced accuracy) against the threshold.

    Moving the threshold trades one for the other: a low threshold calls more faces
    sad (recall up, precision down). ``threshold`` (the chosen one) is marked.
    Numbers come from ``helpers.evaluation.threshold_table``: the one implementation.
    """
    import matplotlib.pyplot as plt
    from .evaluation import threshold_table

    positive = class_names[1]
    grid = np.round(np.linspace(0.02, 0.98, 49), 2) if thresholds is None else thresholds
    table = threshold_table(y, p, thresholds=grid, class_names=class_names)
    fig, ax = plt.subplots(figsize=(6.5, 4))
    palette = colors(3)
    ax.plot(table["threshold"], table[f"{positive}_precision"], color=palette[0], ls="-",
            label=f"{positive} precision")
    ax.plot(table["threshold"], table[f"{positive}_recall"], color=palette[1], ls="--",
            label=f"{positive} recall")
    ax.plot(table["threshold"], table["balanced_accuracy"], color=palette[2], ls="-.",
            label="balanced accuracy")
    if threshold is not None:
        ax.axvline(threshold, color="0.2", ls=":", label=f"chosen threshold {threshold:.2f}")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(f"threshold on P({positive})")
    ax.set_ylabel("score")
    ax.set_title(f"Precision and recall of '{positive}' vs threshold")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _finish(fig, save)


# ----------------------------------------------------------------------------- images
def image_grid(images, titles=None, ncols: int = 6, suptitle: str = "", save=None, **kwargs):
    """Images (uint8 gray ``(H, W)`` / ``(H, W, 1)`` or RGB ``(H, W, 3)``) in a titled grid.

    The one grid of the series lives in ``plots_cleaning`` (lesson 01 wrote it first);
    this adds ``save=``. ``None`` in ``images`` shows "cannot be shown".
    """
    from .plots_cleaning import image_grid as _grid
    fig = _grid(images, titles, ncols=ncols, suptitle=suptitle, **kwargs)
    return _finish(fig, save)


def draw_predictions(rgb_image, faces, title: str = "", save=None, max_width: float = 8.0):
    """The photo with a box per face and its label + probability ("sad 0.83").

    ``faces``: dicts as returned by ``helpers.predict.predict_faces``: ``box``
    ``(x, y, w, h)``, ``label``, and ``probability`` (the model's probability of that
    label; else ``p_class1``). The box colour follows ``class_index``.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    image = np.asarray(rgb_image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    height, width = image.shape[:2]
    fig_w = max_width
    fig_h = min(8.0, max(2.5, fig_w * height / max(width, 1)))
    fig, ax = plt.subplots(figsize=(fig_w, fig_h))
    ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=255)
    palette = colors(2)
    line = max(1.5, min(width, height) / 200)
    for face in faces:
        x, y, w, h = (int(v) for v in face["box"])
        color = palette[int(face.get("class_index", 0)) % 2]
        prob = face.get("probability", face.get("p_class1"))
        ax.add_patch(Rectangle((x, y), w, h, fill=False, edgecolor=color, linewidth=line))
        ax.text(x, max(0, y - 2), f"{face['label']} {prob:.2f}", color="black", fontsize=10,
                va="bottom", ha="left", bbox={"facecolor": color, "edgecolor": "none", "pad": 1.5})
    ax.set_xticks([])
    ax.set_yticks([])
    n = len(faces)
    ax.set_title(title or (f"{n} face{'s' if n != 1 else ''}: label and the model's "
                           f"probability of it" if n else "no face found"))
    return _finish(fig, save)


__all__ = ["learning_curves", "confusion_matrix", "roc_pr_curves", "threshold_curve",
           "image_grid", "draw_predictions", "colors", "PALETTE"]
