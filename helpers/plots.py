"""Every figure of the series. Each function returns the matplotlib Figure; ``save=path``
also writes it (PNG). One colour-blind-safe palette (seaborn "colorblind"); line styles
tell train from validation, so nothing depends on colour alone. At most 12 inches wide.

* training and evaluation: :func:`learning_curves`, :func:`confusion_matrix`, :func:`roc_pr_curves`;
* images: :func:`image_grid`, :func:`draw_predictions` (face boxes and "sad 0.83");
  lesson 07's :func:`heatmap_overlay` and :func:`channel_pictures` (pictures for ``image_grid``);
* lesson 01's cleaning report: :func:`reasons_bar`, :func:`rejected_grid`,
  :func:`outputs_grid`, :func:`near_duplicate_pairs`.
"""
from __future__ import annotations

import math
import textwrap
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
    ``accuracy``, ``val_accuracy`` (and optionally ``epoch``, 1-based: a ``CSVLogger`` log counts
    from 0, so add 1), as ``fit`` returns them. The best epoch (lowest validation loss: the weights that were
    kept) is marked with a dot and a dotted line.
    """
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 3.8), squeeze=False)
    palette = colors(len(histories))
    for (name, history), color in zip(histories.items(), palette, strict=True):
        epochs = (history["epoch"].to_numpy() if "epoch" in history
                  else np.arange(1, len(history) + 1))
        best = int(np.nanargmin(history["val_loss"].to_numpy())) if "val_loss" in history else None
        for ax, metric in zip(axes[0], metrics, strict=True):
            if metric in history:
                ax.plot(epochs, history[metric], color=color, ls="-", label=f"{name} train")
            if f"val_{metric}" in history:
                val = history[f"val_{metric}"].to_numpy()
                ax.plot(epochs, val, color=color, ls="--", label=f"{name} validation")
                if best is not None:
                    ax.axvline(epochs[best], color=color, ls=":", lw=1)
                    ax.plot(epochs[best], val[best], "o", color=color, ms=7,
                            label=f"{name} best epoch ({epochs[best]})")
    for ax, metric in zip(axes[0], metrics, strict=True):
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
    from .model_files import decide
    predicted = decide(p, threshold)
    counts = sk_confusion(y, predicted, labels=[0, 1])
    rows = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)
    annot = np.array([[f"{c}\n{s:.0%}" for c, s in zip(crow, srow, strict=True)]
                      for crow, srow in zip(counts, shares, strict=True)])
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
    for (name, (y, p)), color in zip(results.items(), colors(len(results)), strict=True):
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


# ----------------------------------------------------------------------------- images
def image_grid(images, titles=None, ncols: int = 6, suptitle: str = "", save=None,
               cell: float = 1.9, max_width: float = 12.0, title_size: int = 8):
    """Images (uint8 gray ``(H, W)`` / ``(H, W, 1)`` or RGB ``(H, W, 3)``) in a titled grid.

    ``None`` in ``images`` shows "cannot be shown"; no images shows "(nothing to show)".
    """
    import matplotlib.pyplot as plt
    images = list(images)
    titles = list(titles) if titles is not None else [""] * len(images)
    ncols = max(1, min(ncols, len(images)))
    nrows = max(1, math.ceil(len(images) / ncols))
    width = min(max_width, cell * ncols) if images else 4
    fig, axes = plt.subplots(nrows, ncols, squeeze=False,
                             figsize=(width, width / ncols * nrows * 1.15 + 0.6 if images else 1))
    for ax in axes.flat:
        ax.axis("off")
    if not images:
        axes[0][0].text(0.5, 0.5, "(nothing to show)", ha="center", va="center")
    for ax, image, title in zip(axes.flat, images, titles, strict=False):   # the grid may have spare cells
        if image is None:
            ax.text(0.5, 0.5, "cannot\nbe shown", ha="center", va="center", fontsize=9,
                    color="0.4", transform=ax.transAxes)
        else:
            image = np.asarray(image)
            image = image[..., 0] if image.ndim == 3 and image.shape[2] == 1 else image
            ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=255)
        ax.set_title(title, fontsize=title_size, wrap=True)
    if suptitle:
        fig.suptitle(suptitle)
    return _finish(fig, save)


def heatmap_overlay(image, heatmap, alpha: float = 0.5, signed: bool = False) -> np.ndarray:
    """A heatmap in colour over a gray or RGB image: RGB uint8 ``(H, W, 3)``.

    ``heatmap`` in [0, 1] (Grad-CAM), any size: resized (bilinear) to the image, drawn in
    ``inferno`` (dark 0, yellow 1; readable in gray and by colour-blind eyes). ``signed=True``
    (occlusion): scaled by its largest magnitude, blue negative, red positive (``coolwarm``).
    """
    import cv2
    from matplotlib import colormaps
    image = np.asarray(image)
    image = image[..., 0] if image.ndim == 3 and image.shape[2] == 1 else image
    rgb = np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image[..., :3]
    heat = cv2.resize(np.asarray(heatmap, np.float32), rgb.shape[1::-1], interpolation=cv2.INTER_LINEAR)
    if signed:
        heat = 0.5 + 0.5 * heat / max(float(np.abs(heat).max()), 1e-12)
    colour = colormaps["coolwarm" if signed else "inferno"](np.clip(np.nan_to_num(heat), 0, 1))[..., :3]
    return ((1 - alpha) * rgb + alpha * 255 * colour).round().clip(0, 255).astype(np.uint8)


def channel_pictures(maps, n: int = 16) -> list[np.ndarray]:
    """The first ``n`` channels of ``(h, w, channels)`` feature maps as uint8 pictures, each
    stretched to 0-255 on its own (a constant channel is black)."""
    maps = np.asarray(maps, dtype=float)[..., :n]
    low, high = maps.min(axis=(0, 1)), maps.max(axis=(0, 1))
    scaled = np.divide(maps - low, high - low, out=np.zeros_like(maps), where=high > low)
    return list(np.moveaxis((255 * scaled).round().astype(np.uint8), -1, 0))


def draw_predictions(rgb_image, faces, title: str = "", save=None, max_width: float = 8.0):
    """The photo with a box per face and its label + probability ("sad 0.83").

    ``faces``: dicts as ``helpers.predict.predict_faces`` returns them: ``box`` ``(x, y, w, h)``,
    ``label``, ``probability`` (of that label; else ``p_class1``); colour by ``class_index``.
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
        whole = " (whole image: no face found)" if face.get("face") == "whole image" else ""
        ax.text(x, max(0, y - 2), f"{face['label']} {prob:.2f}{whole}", color="black", fontsize=10,
                va="bottom", ha="left", bbox={"facecolor": color, "edgecolor": "none", "pad": 1.5})
    ax.set_xticks([])
    ax.set_yticks([])
    n = len(faces)
    ax.set_title(title or (f"{n} face{'s' if n != 1 else ''}: label and the model's "
                           f"probability of it" if n else "no face found"))
    return _finish(fig, save)


def class_rgb(index: int) -> tuple[int, int, int]:
    """Class ``index``'s colour in 0-255 RGB: the palette's, as :func:`draw_predictions` boxes it."""
    return tuple(round(255 * v) for v in colors(2)[index % 2])


def explanation_picture(rgb_image, faces, cams, class_names=("happy", "sad"),
                        height: int = 480) -> tuple[np.ndarray, str]:
    """One picture to project: the photo with each face's box in its class colour (:func:`class_rgb`),
    and beside it each face as the network saw it under its Grad-CAM map; and its title,
    the answers ("sad P(sad)=0.83 (threshold 0.44)"). Returns (RGB uint8 array, title).

    ``faces``: :func:`helpers.predict.predict_faces` answers with ``keep_input=True``; ``cams``: their
    maps. The photo is scaled to ``height`` pixels; the boxes are drawn 3 pixels wide on its pixels.
    """
    from PIL import Image, ImageDraw, ImageFont
    photo = Image.fromarray(np.asarray(rgb_image)).convert("RGB")
    scale = height / photo.height
    photo = photo.resize((max(1, round(photo.width * scale)), height), Image.Resampling.LANCZOS)
    draw = ImageDraw.Draw(photo)
    for face in faces:
        x, y, w, h = (round(v * scale) for v in face["box"])
        draw.rectangle([x, y, x + w - 1, y + h - 1], outline=class_rgb(face["class_index"]), width=3)
    side = height // max(1, len(faces))
    panels = [Image.fromarray(heatmap_overlay(face["input"], cam)).resize((side, side), Image.Resampling.NEAREST)
              for face, cam in zip(faces, cams, strict=True)]
    title = "; ".join(f"{face['label']} P({class_names[1]})={face['p_class1']:.2f} "
                      f"(threshold {face['threshold']:.2f})" for face in faces) or "no face found"
    strip = 36
    canvas = Image.new("RGB", (photo.width + (side if panels else 0), height + strip), "white")
    canvas.paste(photo, (0, strip))
    for i, panel in enumerate(panels):
        canvas.paste(panel, (photo.width, strip + i * side))
    ImageDraw.Draw(canvas).text((8, 8), title + "   (right: Grad-CAM, the evidence for the answer)",
                                fill="black", font=ImageFont.load_default(size=16))
    return np.asarray(canvas), title


# ----------------------------------------------------------------------------- cleaning (lesson 01)
def reasons_bar(report, title: str = "Why files were rejected", save=None):
    """Horizontal bars: rejected files per check, one colour per class."""
    import matplotlib.pyplot as plt
    import pandas as pd
    rejected = report[report["status"] == "rejected"]
    table = pd.crosstab(rejected["check"], rejected["class"]) if len(rejected) else pd.DataFrame()
    fig, ax = plt.subplots(figsize=(7, 0.45 * max(len(table), 2) + 1.4))
    if table.empty:
        ax.text(0.5, 0.5, "nothing was rejected", ha="center", va="center")
        ax.axis("off")
    else:
        table = table.loc[table.sum(axis=1).sort_values().index]
        table.plot.barh(stacked=True, ax=ax, color=colors(len(table.columns)), width=0.7)
        ax.set_xlabel("number of files")
        ax.set_ylabel("reason")
        ax.legend(title="class", loc="lower right")
    ax.set_title(title)
    return _finish(fig, save)


def _thumb(path: Path, side: int = 160):
    """A small RGB thumbnail of any file the cleaning decoder accepts, or None."""
    from PIL import Image
    from . import cleaning
    try:
        img = Image.fromarray(cleaning.load_image(path)[0])
    except cleaning.Rejected:
        return None
    img.thumbnail((side, side))
    return np.asarray(img)


def _clip(text, width: int, lines: int = 1) -> str:
    """``text`` wrapped to ``lines`` lines of ``width`` characters ("..." when cut)."""
    text = str(text)
    if lines > 1:
        return "\n".join(textwrap.wrap(text, width)[:lines])
    return text if len(text) <= width else text[: width - 1] + "…"


def rejected_grid(result, n: int = 12, ncols: int = 6, save=None):
    """The first rejected files of each reason (round-robin), each titled with its reason."""
    rejected = result.report[result.report["status"] == "rejected"]
    groups = [list(g.itertuples()) for _, g in rejected.groupby("check", sort=True)]
    picked = []
    while len(picked) < n and any(groups):
        picked += [group.pop(0) for group in groups if group][: n - len(picked)]
    images = [_thumb(result.src / r.source) if r.check != "hidden file" else None for r in picked]
    titles = [_clip(r.reason, 26, lines=2) + "\n" + _clip(r.source, 26) for r in picked]
    return image_grid(images, titles, ncols=ncols, title_size=7, save=save,
                      suptitle=f"Rejected files ({len(rejected)} in all; {len(picked)} shown)")


def outputs_grid(result, n: int = 18, ncols: int = 9, seed: int = 0, save=None):
    """A random sample of the cleaned images (face crops unless faces="off"), titled with the class."""
    files = [(c, p) for c in result.class_names for p in result.outputs(c)]
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(len(files), size=min(n, len(files)), replace=False)) if files else []
    what = "face crops" if result.faces != "off" else "cleaned images"
    return image_grid([_thumb(files[i][1]) for i in chosen], [files[i][0] for i in chosen],
                      ncols=ncols, cell=1.3, save=save,
                      suptitle=f"A sample of the {what} ({len(files)} in all)")


def near_duplicate_pairs(result, n: int = 3, save=None):
    """The first ``n`` near-duplicate groups (the report's ``group``): two files of each, side by side."""
    report = result.report[result.report["group"] != ""]
    pairs = [list(g["source"])[:2] for _, g in report.groupby("group", sort=True) if len(g) > 1][:n]
    rows = report.set_index("source")
    images = [_thumb(result.src / s) for pair in pairs for s in pair]
    titles = [f"{_clip(s, 24)}\n{rows.at[s, 'width']}×{rows.at[s, 'height']}"
              for pair in pairs for s in pair]
    return image_grid(images, titles, ncols=2 * min(2, max(1, len(pairs))), cell=2.6,
                      max_width=10, save=save,
                      suptitle="Near-duplicates: same photo, different files")
