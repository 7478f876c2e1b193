"""What an edit tells the person waiting (lsp_server/edit_report.py): a percentage that moves with
the answer and reaches 100 only at the end, the region's reason as a full sentence for every
region rule, a refusal explained in full with the proposal, and annotated code-action edits."""

from __future__ import annotations

import pytest
from lsprotocol import types

from diffcoder.editing.regions import choose_region
from diffcoder.lsp_server.code_actions import ANNOTATION_ID, annotated
from diffcoder.lsp_server.edit_report import edit_percentage, expected_tokens

FILE = (
    "import os\nimport sys\n\n\n"
    "def area(width, height):\n    size = width * height\n    return size\n\n\n"
    "class Box:\n    def volume(self, depth):\n        return depth * 2\n"
)


def test_the_percentage_follows_the_answer_and_never_reaches_100():
    expected = 200
    sequence = [edit_percentage(committed, expected) for committed in range(0, 400, 8)]
    assert sequence == sorted(sequence) and sequence[0] == 0
    assert max(sequence) >= 98 and 100 not in sequence
    on_time = [edit_percentage(c, expected) for c in range(0, expected + 1, 20)]
    assert on_time[:5] == [0, 10, 20, 30, 40]  # in step with the answer
    assert on_time[-1] >= 90  # an answer as long as the region ends near the top: no jump
    longer = [edit_percentage(c, expected) for c in (200, 210, 230, 260)]
    assert longer == sorted(longer) and len(set(longer)) == 4  # a longer answer still moves it
    assert edit_percentage(5, 0) == 99 and edit_percentage(0, 1) == 0


def test_expected_tokens_is_the_region_and_the_closing_fence():
    class Prompt:
        region_tokens = 41

    assert expected_tokens(Prompt()) == 42


def tokens(text: str) -> int:
    return len(text.split())


CASES = {
    "cursor in a function": dict(cursor=FILE.index("size =")),
    "cursor in a method": dict(cursor=FILE.index("depth * 2")),
    "cursor on the imports": dict(cursor=FILE.index("sys")),
    "cursor between definitions": dict(cursor=FILE.index("\n\nclass") + 1),
    "a selection": dict(selection=(FILE.index("size ="), FILE.index("return size"))),
    "the instruction points elsewhere": dict(
        cursor=FILE.index("size ="), instruction="Rename the variables"
    ),
    "the instruction names a definition": dict(instruction="Add a docstring to volume"),
    "the instruction names one elsewhere": dict(
        cursor=FILE.index("size ="), instruction="Add a docstring to volume"
    ),
    "over the budget": dict(cursor=FILE.index("depth * 2"), budget=4),
    "no grammar": dict(cursor=5, language="text"),
    "a blank document": dict(cursor=0, text="   \n"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_every_region_rule_gives_a_full_sentence(name: str):
    case = dict(CASES[name])
    text = case.pop("text", FILE)
    language = case.pop("language", "python")
    region = choose_region(
        text,
        language,
        instruction=case.pop("instruction", "Simplify"),
        budget=case.pop("budget", 10_000),
        count_tokens=tokens,
        **case,
    )
    reason = region.reason
    assert reason[0].isupper() and reason.endswith("."), reason
    assert len(reason.split()) >= 5, reason


def test_rename_the_variables_says_it_widened_to_the_whole_file():
    cursor = FILE.index("size =")
    region = choose_region(
        FILE,
        "python",
        cursor=cursor,
        instruction="Rename the variables",
        budget=10_000,
        count_tokens=tokens,
    )
    assert region.kind == "file"
    assert region.reason.startswith("The cursor is inside function `area`")
    assert region.reason.endswith("so the region is the whole file.")


def test_annotated_edits_ask_for_confirmation_in_both_forms():
    edit = types.TextEdit(
        range=types.Range(types.Position(0, 0), types.Position(0, 1)), new_text="x"
    )
    document = types.OptionalVersionedTextDocumentIdentifier(uri="file:///a.py", version=3)
    versioned = types.WorkspaceEdit(
        document_changes=[types.TextDocumentEdit(text_document=document, edits=[edit])]
    )
    marked = annotated(versioned, "DiffCoder: Simplify", "Simplify")
    note = marked.change_annotations[ANNOTATION_ID]
    assert note.needs_confirmation is True and note.label == "DiffCoder: Simplify"
    (change,) = marked.document_changes
    assert change.text_document.version == 3
    assert [(e.annotation_id, e.new_text) for e in change.edits] == [(ANNOTATION_ID, "x")]
    plain = annotated(types.WorkspaceEdit(changes={"file:///a.py": [edit]}), "t", "i")
    assert plain.changes["file:///a.py"][0].annotation_id == ANNOTATION_ID
