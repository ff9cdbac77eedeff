"""How the lessons teach (issue 30): short lessons, the whole loop first, each idea before its first use.

Prose words are counted in markdown cells, leaving out cells tagged ``solution`` and cells tagged
``going-further`` (optional depth, marked as optional in their text, skippable in class), and inside
a cell its fenced code blocks and HTML tags: code shown on the page is not prose.
"""
from __future__ import annotations

import re

import nbformat
import pytest

from helpers import config

NOTEBOOK_DIR = config.ROOT / "notebooks"
LESSON_MAX_WORDS = {"01": 1800, "02": 1800, "03": 1800, "04": 1800}
SERIES_MAX_WORDS = 15000
LOOP_MAX_WORDS = 700          # lesson 01 trains a network and asks it about a face within these words
NOT_COUNTED = {"solution", "going-further"}


def _lesson(number: str):
    found = sorted(NOTEBOOK_DIR.glob(f"{number}_*.ipynb"))
    assert len(found) == 1, f"expected one notebook {number}_*.ipynb, found {found}"
    return nbformat.read(str(found[0]), as_version=4)


def prose_words(text: str) -> int:
    """Words of prose in one markdown text: fenced code blocks and HTML tags left out."""
    text = re.sub(r"```.*?```", " ", text, flags=re.DOTALL)
    text = re.sub(r"<!--.*?-->|<[^>]+>", " ", text, flags=re.DOTALL)
    return sum(1 for token in text.split() if re.search(r"[A-Za-z0-9]", token))


def counted(cell) -> bool:
    return cell.cell_type == "markdown" and not NOT_COUNTED & set(cell.metadata.get("tags", []))


def lesson_words(nb) -> int:
    return sum(prose_words(c.source) for c in nb.cells if counted(c))


def words_before(nb, needle: str) -> int | None:
    """Prose words before the first code cell containing ``needle`` (None: no such cell)."""
    words = 0
    for cell in nb.cells:
        if cell.cell_type == "code" and needle in cell.source:
            return words
        if counted(cell):
            words += prose_words(cell.source)
    return None


LESSONS = sorted(p.name[:2] for p in NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("number", sorted(LESSON_MAX_WORDS))
def test_lesson_prose_is_short(number):
    words = lesson_words(_lesson(number))
    assert words <= LESSON_MAX_WORDS[number], \
        f"lesson {number} has {words} words of prose (at most {LESSON_MAX_WORDS[number]})"


def test_series_prose_is_short():
    words = {n: lesson_words(_lesson(n)) for n in LESSONS}
    assert sum(words.values()) <= SERIES_MAX_WORDS, \
        f"the series has {sum(words.values())} words of prose (at most {SERIES_MAX_WORDS}): {words}"


@pytest.mark.parametrize("needle", [".fit(", ".predict("])
def test_lesson_01_trains_and_asks_within_its_first_words(needle):
    words = words_before(_lesson("01"), needle)
    assert words is not None, f"lesson 01 has no code cell with {needle}"
    assert words <= LOOP_MAX_WORDS, f"lesson 01's first {needle} comes after {words} words of prose"


@pytest.mark.parametrize("number", LESSONS)
def test_going_further_cells_say_they_are_optional(number):
    nb = _lesson(number)
    unmarked = [i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"
                and "going-further" in c.metadata.get("tags", []) and "optional" not in c.source.lower()]
    assert not unmarked, f"lesson {number}: going-further cells {unmarked} do not say they are optional"


@pytest.mark.parametrize("number", LESSONS[1:])
def test_later_lessons_open_with_what_the_learner_will_have(number):
    box = _lesson(number).cells[0].source.lower()
    assert "at the end" in box, f"lesson {number}'s opening box does not say what you will have at its end"


# (lesson, where the idea is explained: text of a markdown cell, its first use, where: "code" or "any" cell)
IDEAS = [
    ("01", "**ReLU**", 'activation="relu"', "code"),
    ("01", "**gradient**", ".compile(", "code"),
    ("01", "**epoch**", ".fit(", "code"),
    ("01", "**threshold**", "model_files.decide(", "code"),
    ("02", 'With `padding="same"`', 'padding="same"', "code"),
    ("02", "**multiply-add**", "multiply-add", "any"),
    ("04", "**Balanced accuracy**", "balanced_accuracy_score", "code"),
    ("06", "**penalty**", "penalty", "any"),
    ("08", "**scale**", "zero point", "any"),
    ("08", "**folds**", "fold", "any"),
    ("10", "**freeze**", "trainable = False", "code"),
]


def first_cell(nb, text, kind=None) -> int | None:
    return next((i for i, c in enumerate(nb.cells) if (kind is None or c.cell_type == kind) and text in c.source), None)


@pytest.mark.parametrize("number,explained,used,where", IDEAS, ids=[f"{n}-{u}" for n, _, u, _ in IDEAS])
def test_each_idea_is_explained_before_its_first_use(number, explained, used, where):
    nb = _lesson(number)
    explanation = first_cell(nb, explained, "markdown")
    use = first_cell(nb, used, "code" if where == "code" else None)
    assert explanation is not None, f"lesson {number}: no markdown cell explains {explained!r}"
    assert use is not None, f"lesson {number}: nothing uses {used!r} (update IDEAS)"
    assert explanation <= use, f"lesson {number}: {used!r} is used in cell {use}, explained in cell {explanation}"


def test_word_count_leaves_out_code_tags_and_optional_cells():
    assert prose_words("Two words.\n```python\nfor x in y:\n    pass\n```\n<div style='x'>three</div> - ->") == 3
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("one two three"), nbformat.v4.new_code_cell("model.fit(x)"),
                nbformat.v4.new_markdown_cell("four five"), nbformat.v4.new_markdown_cell("six")]
    nb.cells[2].metadata["tags"] = ["going-further"]
    nb.cells[3].metadata["tags"] = ["solution"]
    assert lesson_words(nb) == 3 and words_before(nb, ".fit(") == 3 and words_before(nb, "nothing") is None
