"""Turn the model's answer into the new text of the edited region, given the `AnswerContext`.

Extract the code (fenced or bare), drop lines the model echoed from around the region, restore the
region's base indentation, its leading/trailing blank lines and the file's newline style.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from diffcoder.editing.indentation import common_indentation

# Shared with edit_prompt.py: the line that stands for the region inside the file context.
REGION_MARKER = "<<< region to edit: Code Before >>>"

_REST_OF_LINE = re.compile(r"[ \t]*(?:\r\n|\r|\n|\Z)")  # only whitespace up to the line end
# A fence line and its info string (CommonMark: a backtick fence's info has no backticks).
_FENCE_LINE = re.compile(r"^[ \t]*(?:(`{3,})([^`]*)|(~{3,})(.*))$")


@dataclass(frozen=True)
class AnswerContext:
    """What reading the model's answer needs: the text it replaces (the prompt's region, as
    widened to whole lines) and what the prompt showed around it, which the model may echo."""

    start: int  # str offsets of the replaced text in the original file text
    end: int
    original_text: str  # file_text[start:end], newlines as in the file
    newline: str  # the file's newline style: "\n", "\r\n" or "\r"
    lines_before: tuple[str, ...] = ()  # file lines just above the region, nearest last (LF)
    lines_after: tuple[str, ...] = ()  # file lines just below the region, nearest first (LF)
    headers: tuple[str, ...] = ()  # the lines that open the blocks enclosing the region (LF)
    fence: str = "```"  # the fence the answer was opened with
    opened: bool = True  # the prompt already opened the answer's code block
    starts_mid_line: bool = False  # the region's first line begins after other code


def widen_to_lines(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen over the whitespace between the region and its line's start or end, so the region
    is whole lines (indentation and line end included) whenever it can be."""
    if start > 0 and text.startswith("\r\n", start - 1):
        start += 1  # never split a \r\n pair
    end = max(start, end)
    line_start = start
    while line_start and text[line_start - 1] in " \t":
        line_start -= 1
    if line_start == 0 or text[line_start - 1] in "\r\n":
        start = line_start
    rest = _REST_OF_LINE.match(text, end)
    if end > start and text[end - 1] not in "\r\n" and rest:
        end = rest.end()
    elif end > 0 and text.startswith("\r\n", end - 1):
        end += 1
    return start, end


def to_lf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def detect_newline(text: str) -> str:
    """The most common line ending of `text` ("\\n" when it has none)."""
    crlf = text.count("\r\n")
    lone_cr = text.count("\r") - crlf
    lone_lf = text.count("\n") - crlf
    best = max((lone_lf, "\n"), (crlf, "\r\n"), (lone_cr, "\r"), key=lambda pair: pair[0])
    return best[1] if best[0] else "\n"


def fence_for(code: str) -> str:
    """A backtick fence longer than any backtick run in `code`, so the code cannot close it."""
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    return "`" * max(3, longest + 1)


def _fence_line(line: str) -> tuple[str, str] | None:
    """(fence, info string) when `line` is a code fence line."""
    match = _FENCE_LINE.match(line)
    if not match:
        return None
    return (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))


def _block_until_close(lines: list[str], fence: str) -> str:
    """The lines up to the first fence line that closes `fence` (or all of them)."""
    for index, line in enumerate(lines):
        found = _fence_line(line)
        if (
            found
            and found[0][0] == fence[0]
            and len(found[0]) >= len(fence)
            and not found[1].strip()
        ):
            return "".join(body + "\n" for body in lines[:index])
    return "\n".join(lines)


def extract_code(generated_text: str, *, opened: bool = False, fence: str = "```") -> str:
    """The code in a model answer: the first fenced block, or everything when there is none.

    `opened=True` means the prompt already wrote the opening `fence`, so the text is code up to
    the first closing fence (an opening fence the model repeated, with a language tag, is
    skipped). A missing closing fence is tolerated: the code then runs to the end.
    """
    lines = to_lf(generated_text).split("\n")
    if opened:
        first = _fence_line(lines[0])
        if first and first[0][0] == fence[0] and re.fullmatch(r"[\w+#.-]+", first[1].strip()):
            lines = lines[1:]
        return _block_until_close(lines, fence)
    for index, line in enumerate(lines):
        found = _fence_line(line)
        if found:
            return _block_until_close(lines[index + 1 :], found[0])
    return "\n".join(lines)


def _strip_echo(
    lines: list[str], context: tuple[str, ...], original: list[str], *, head: bool
) -> list[str]:
    """Drop the longest run of `lines` at the head (or tail) that repeats the file lines nearest
    the region above (or below) it, unless the original region begins (ends) with that run too.
    Blank lines are skipped on both sides: the model rarely reproduces them faithfully."""
    spots = [i for i, line in enumerate(lines) if line.strip()]
    near = [line.strip() for line in context if line.strip()]
    own = [line.strip() for line in original if line.strip()]
    for k in range(min(len(spots), len(near)), 0, -1):
        ends = spots[:k] if head else spots[-k:]
        run = [lines[i].strip() for i in ends]
        if run != (near[-k:] if head else near[:k]):
            continue
        if run == (own[:k] if head else own[-k:]):
            return lines
        return lines[ends[-1] + 1 :] if head else lines[: ends[0]]
    return lines


def restore_indentation(
    code_lines: list[str], original_lines: list[str], skip_first: bool
) -> list[str]:
    """Re-indent the answer when the model dedented the whole block (a common habit).

    Only a dedent is repaired: the answer's common indentation must be a strict prefix of the
    region's. A deeper answer is left alone since wrapping code in a new block is legitimate.
    """
    body = code_lines[1:] if skip_first else code_lines
    base = common_indentation(original_lines[1:] if skip_first else original_lines)
    current = common_indentation(body)
    if current == base or not base.startswith(current):
        return code_lines
    missing = base[len(current) :]
    fixed = [missing + line if line.strip() else line for line in body]
    return code_lines[:1] + fixed if skip_first else fixed


def _leading_blank(text: str) -> str:
    stripped = text.lstrip(" \t\n")
    head = text[: len(text) - len(stripped)]
    return head[: head.rfind("\n") + 1]  # keep whole blank lines only, not the first indent


def _trailing_blank(text: str) -> str:
    tail = text[len(text.rstrip(" \t\n")) :]
    return tail[tail.find("\n") :] if "\n" in tail else ""


def postprocess_edit(generated_text: str, context: AnswerContext) -> str:
    """The new text of the region (file newlines) from the model's decoded answer."""
    original = to_lf(context.original_text)
    code = extract_code(generated_text, opened=context.opened, fence=context.fence)
    lines = [line for line in code.split("\n") if REGION_MARKER not in line]
    if not "\n".join(lines).strip():
        # A blank answer deletes the region, unless there was nothing but blank space to begin with.
        return context.original_text if not original.strip() else ""
    original_lines = original.split("\n")
    lines = _strip_echo(lines, context.lines_before, original_lines, head=True)
    lines = _strip_echo(lines, context.headers, original_lines, head=True)
    lines = _strip_echo(lines, context.lines_after, original_lines, head=False)
    lines = restore_indentation(lines, original_lines, context.starts_mid_line)
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        return context.original_text  # nothing but echoed context: no usable answer, no change
    body = "\n".join(lines)
    leading = _leading_blank(original)
    if original.strip():
        trailing = _trailing_blank(original)
    else:
        # An empty region (pure insertion) at a line start must end its own line.
        trailing = "" if context.starts_mid_line else "\n"
    text = leading + body + trailing
    return text.replace("\n", context.newline) if context.newline != "\n" else text
