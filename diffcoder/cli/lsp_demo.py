"""`diffcoder demo` (`make demo`): the product as an editor sees it, over LSP.

Starts `diffcoder-lsp` as a subprocess on stdio, opens `examples/stats.py`, asks for an instruction
edit (`diffcoder.edit`, preview only) and an inline completion, and prints region, diff and timings.
"""

from __future__ import annotations

import difflib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from diffcoder.benchmarking.editor_sample import (
    DEMO_MAX_NEW_TOKENS,
    EXAMPLE,
    INSTRUCTION,
    cursor_offset,
    server_command,
    typed_text,
)
from diffcoder.editing.positions import position_to_offset
from diffcoder.lsp_server.client import LspClient, LspError, apply_workspace_edit, lsp_position
from diffcoder.lsp_server.protocol import EDIT_COMMAND, STATUS_REQUEST
from diffcoder.model.embedded import DEMO_MODEL_NOTE


def describe_region(region: dict[str, Any]) -> str:
    start, end = region["range"]["start"], region["range"]["end"]
    # An end at column 0 is exclusive: the region's last line is the one before it.
    last = end["line"] if end["character"] == 0 and end["line"] > start["line"] else end["line"] + 1
    name = f" `{region['name']}`" if region.get("name") else ""
    return f"{region['kind']}{name}, lines {start['line'] + 1}-{last} ({region['reason']})"


def timing_row(label: str, total_s: float, model_s: float) -> str:
    server_s = max(total_s - model_s, 0.0)
    share = 100 * server_s / total_s if total_s else 0.0
    return (
        f"  {label:<18} {total_s * 1000:8.1f} ms = model {model_s * 1000:7.1f} ms"
        f" + server {server_s * 1000:6.1f} ms ({share:.0f}% overhead)"
    )


def run_lsp_demo(
    *,
    model: str | Path | None = None,
    max_new_tokens: int = DEMO_MAX_NEW_TOKENS,
    file: Path | None = None,
) -> int:
    """The demo on `model` (else the server's demo model); `file` replaces examples/stats.py."""
    path = file or EXAMPLE
    text = path.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="diffcoder-demo-") as tmp:
        command = server_command(model)
        if model is None:
            print(f"No --model given: the server loads {DEMO_MODEL_NOTE}.")
        print("Starting the language server: diffcoder-lsp " + " ".join(command[3:]))
        log = Path(tmp) / "server.log"
        # One torch thread: plenty for a small model, and steady on a busy 2-core machine.
        client = LspClient(command, env={"OMP_NUM_THREADS": "1"}, log=log)
        try:
            return _session(client, path, text, max_new_tokens, demo=model is None)
        except (LspError, OSError) as error:
            print(f"demo failed: {error}", file=sys.stderr)
            tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
            print(f"server log (end):\n{tail}", file=sys.stderr)
            return 1
        finally:
            client.close()


def _session(client: LspClient, path: Path, text: str, max_new_tokens: int, demo: bool) -> int:
    started = time.perf_counter()
    options = {"edit": {"maxNewTokens": max_new_tokens}, "inline": {"debounceMs": 0}}
    info = client.initialize(path.parent, options)
    server = info.get("serverInfo") or {}
    status = client.wait_until_ready()
    ready_s = time.perf_counter() - started
    if status["model"]["state"] != "ready":
        raise LspError(f"the model did not load: {status['model']}")
    print(
        f"  {server.get('name')} {server.get('version')} ready in {ready_s:.1f} s: "
        f"{status['model']['detail']}\n"
    )

    uri = path.resolve().as_uri()
    client.open(uri, text)
    cursor = lsp_position(text, cursor_offset(text))
    here = {"start": cursor, "end": cursor}
    actions = client.request(
        "textDocument/codeAction",
        {"textDocument": {"uri": uri}, "range": here, "context": {"diagnostics": []}},
    )
    titles = ", ".join(a["title"].removeprefix("DiffCoder: ") for a in actions or [])
    print(f"Code actions at line {cursor['line'] + 1} of {path.name}: {titles}\n")

    print(f"Instruction edit ({EDIT_COMMAND}, preview): {INSTRUCTION!r}")
    arguments = {
        "textDocument": {"uri": uri, "version": 1},
        "position": cursor,
        "instruction": INSTRUCTION,
        "apply": False,
    }
    result, edit_s = client.timed(
        "workspace/executeCommand", {"command": EDIT_COMMAND, "arguments": [arguments]}
    )
    stats = result["stats"]
    print(f"  region: {describe_region(result['region'])}")
    print(
        f"  model: {stats['generatedTokens']} tokens in {stats['forwards']} forwards after a "
        f"{stats['promptTokens']}-token prompt ({stats['draftAcceptedTokens']} draft tokens "
        f"accepted), finish {result['finishReason']}"
    )
    if result["edit"] and not result["rejected"]:
        new_text = apply_workspace_edit(text, result["edit"])
        diff = difflib.unified_diff(
            text.splitlines(keepends=True),
            new_text.splitlines(keepends=True),
            f"a/{path.name}",
            f"b/{path.name}",
        )
        print("  diff:\n" + "".join("    " + line for line in diff))
    else:
        print(f"  refused, nothing to apply: {result['reason']}")
        if result.get("proposal") is not None:
            region = result["region"]["range"]
            start, end = (position_to_offset(text, **region[k]) for k in ("start", "end"))
            old = text[start:end]
            diff = difflib.unified_diff(
                old.splitlines(keepends=True),
                result["proposal"].splitlines(keepends=True),
                f"a/{path.name} (region)",
                "b/the refused answer",
            )
            print("  what the model wrote (not applied):\n" + "".join("    " + x for x in diff))

    typed = typed_text(text)
    client.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": typed}]},
    )
    where = lsp_position(typed, len(typed))
    print(f"\nInline completion at line {where['line'] + 1} after typing `for x in xs:`")
    completion, inline_s = client.timed(
        "textDocument/inlineCompletion",
        {
            "textDocument": {"uri": uri},
            "position": where,
            "context": {"triggerKind": 1},  # invoked
        },
    )
    items = (completion or {}).get("items") or []
    if items:
        print(f"  suggestion: {items[0]['insertText']!r}")
    else:
        print("  no suggestion: the model's middle was empty once trimmed")
    infill = client.request(STATUS_REQUEST, {})["lastInfill"] or {}
    print(
        f"  model: {infill.get('generatedTokens', 0)} tokens in {infill.get('forwards', 0)} "
        f"forwards after a {infill.get('promptTokens', 0)}-token prompt"
    )

    print("\nTimings (end to end as the client saw them; server = end to end - model; first, cold")
    print("requests: `diffcoder bench lsp` measures warm ones):")
    print(timing_row("instruction edit", edit_s, stats["modelSeconds"]))
    print(timing_row("inline completion", inline_s, infill.get("modelSeconds", 0.0)))
    if demo:
        print(
            "\nThis was the embedded 5 M-parameter demo model (docs/demo-model.md): it knows the "
            "edit format and some Python, not much more. For real edits: diffcoder-lsp --model "
            "PATH to Stable-DiffCoder-8B (docs/lsp.md)."
        )
    return 0
