"""Figures of lesson 01: a generic titled image grid, and views of a cleaning report.

Colours come from seaborn's "colorblind" palette. Figures fit a laptop screen.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

PALETTE = "colorblind"


def _colors(n: int) -> list:
    import seaborn as sns
    return sns.color_palette(PALETTE, n)


def image_grid(images, titles=None, ncols: int = 6, suptitle: str = "", cell: float = 1.9,
               max_width: float = 12.0, title_size: int = 8):
    """Show images (arrays, or None for "cannot be shown") in a grid with a title each.

    Returns the matplotlib Figure. Works for RGB and grayscale arrays of any size.
    """
    import matplotlib.pyplot as plt
    images = list(images)
    titles = list(titles) if titles is not None else [""] * len(images)
    if not images:
        fig, ax = plt.subplots(figsize=(4, 1))
        ax.axis("off")
        ax.text(0.5, 0.5, "(nothing to show)", ha="center", va="center")
        if suptitle:
            fig.suptitle(suptitle)
        return fig
    ncols = max(1, min(ncols, len(images)))
    nrows = math.ceil(len(images) / ncols)
    width = min(max_width, cell * ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, width / ncols * nrows * 1.15 + 0.6),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, title in zip(axes.flat, images, titles):
        if image is None:
            ax.text(0.5, 0.5, "cannot\nbe shown", ha="center", va="center", fontsize=9,
                    color="0.4", transform=ax.transAxes)
        else:
            image = np.asarray(image)
            if image.ndim == 3 and image.shape[2] == 1:
                image = image[..., 0]
            ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=255)
        ax.set_title(title, fontsize=title_size, wrap=True)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def reasons_bar(report, title: str = "Why files were rejected"):
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
        table.plot.barh(stacked=True, ax=ax, color=_colors(len(table.columns)), width=0.7)
        ax.set_xlabel("number of files")
        ax.set_ylabel("reason")
        ax.legend(title="class", loc="lower right")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def _thumb(path: Path, side: int = 160):
    """A small RGB thumbnail of any file Pillow can decode, or None."""
    from . import cleaning
    try:
        array, _ = cleaning.load_image(path)
    except cleaning.Rejected:
        return None
    from PIL import Image
    img = Image.fromarray(array)
    img.thumbnail((side, side))
    return np.asarray(img)


def _short(text: str, width: int = 28) -> str:
    import textwrap
    return "\n".join(textwrap.wrap(str(text), width)[:2])


def _clip(text: str, width: int) -> str:
    text = str(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def rejected_grid(result, n: int = 12, ncols: int = 6):
    """The first rejected files of each reason (round-robin), each titled with its reason."""
    rejected = result.report[result.report["status"] == "rejected"]
    groups = [list(g.itertuples()) for _, g in rejected.groupby("check", sort=True)]
    picked = []
    while len(picked) < n and any(groups):
        for group in groups:
            if group and len(picked) < n:
                picked.append(group.pop(0))
    images = [_thumb(result.src / r.source) if r.check != "hidden file" else None for r in picked]
    titles = [_short(r.reason, 26) + "\n" + _clip(r.source, 26) for r in picked]
    return image_grid(images, titles, ncols=ncols, title_size=7,
                      suptitle=f"Rejected files ({len(rejected)} in all; {len(picked)} shown)")


def outputs_grid(result, n: int = 18, ncols: int = 9, seed: int = 0):
    """A random sample of the cleaned images (face crops in crop mode), titled with the class."""
    from PIL import Image
    files = [(c, p) for c in result.class_names for p in result.outputs(c)]
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(len(files), size=min(n, len(files)), replace=False)) if files else []
    images, titles = [], []
    for i in chosen:
        cls, path = files[i]
        with Image.open(path) as img:
            img = img.convert("RGB")
            img.thumbnail((160, 160))
            images.append(np.asarray(img))
        titles.append(cls)
    what = "face crops" if result.faces != "off" else "cleaned images"
    return image_grid(images, titles, ncols=ncols, cell=1.3,
                      suptitle=f"A sample of the {what} ({len(files)} in all)")


def near_duplicate_pairs(result, n: int = 3):
    """The first ``n`` near-duplicate pairs side by side, titled with name and size."""
    report = result.report.set_index("source")
    pairs, seen = [], set()
    for source, note in report["note"].items():
        if not note or source in seen:
            continue
        other = note.removeprefix("near-duplicate of ").split(" (", 1)[0]
        if other in report.index:
            pairs.append((source, other))
            seen.update((source, other))
        if len(pairs) == n:
            break
    images, titles = [], []
    for pair in pairs:
        for source in pair:
            images.append(_thumb(result.src / source))
            r = report.loc[source]
            titles.append(f"{_clip(source, 24)}\n{r['width']}×{r['height']}")
    return image_grid(images, titles, ncols=2 * min(2, max(1, len(pairs))), cell=2.6,
                      max_width=10, suptitle="Near-duplicates: same photo, different files")
