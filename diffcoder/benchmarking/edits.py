"""`diffcoder bench edits`: forwards per output token on real before/after pairs, with and without
the region as a draft, decoded by an oracle model under the real sampler and draft path.

For each pair the editing layer builds the real instruction-edit request, region and prompt (as
`diffcoder eval edit --scope` does); the gold answer for that region (`evaluation.oracle`) plus
the closing fence is what the oracle predicts, and `run_edit` decodes it twice, with the draft
and without, over the real tokenizer when `../shared` has it. An oracle measures the decoding
machinery, not the model's quality.
"""

from __future__ import annotations

import difflib
import json
import random
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from diffcoder.benchmarking.edit_settings import EditsBenchSettings
from diffcoder.benchmarking.oracle_lm import OracleDecoder, copied_flags, needed_neighbours
from diffcoder.editing.budgets import PromptTooLongError
from diffcoder.editing.edit_pipeline import EditRequest, prepare_edit, run_edit
from diffcoder.editing.edit_prompt import EditPrompt
from diffcoder.evaluation.datasets import DatasetError, EditProblem, load_edit_problems
from diffcoder.evaluation.edit_eval import edit_target
from diffcoder.evaluation.oracle import decide
from diffcoder.model.backend import PromptTokenizer
from diffcoder.model.types import SpecialIds
from diffcoder.testing.shared_data import default_editeval_path, default_real_tokenizer


@dataclass(frozen=True)
class PreparedPair:
    """One pair's request, prompt and the answer the oracle writes for its region."""

    problem: EditProblem
    request: EditRequest
    prompt: EditPrompt
    verdict: str  # the oracle's: gold, scope_miss (answers the region unchanged) or unlocated
    answer_text: str  # the code the oracle writes, before the closing fence
    answer_ids: list[int]  # that code, the fence and EOS
    copied: list[bool]  # per answer token: the draft has it at the aligned place
    hunks: int  # changed line runs between the region and the answer


@dataclass(frozen=True)
class PairResult:
    id: str
    profile: str
    verdict: str
    tokens: int  # output tokens
    new_tokens: int  # answer tokens the draft lacks at the aligned place: the edit's size
    # blocks holding a new token: a lossless decoder needs a forward for each (new code cannot
    # be guessed before the code before it is decided), unless the draft has it elsewhere
    new_blocks: int
    hunks: int
    plain_nfe: int
    draft_nfe: int
    accepted_tokens: int
    identical: bool  # draft and plain decoding gave the same tokens and finish
    as_written: bool  # the output is the oracle's answer (a check on the bench itself)

    @property
    def plain_fpt(self) -> float:
        return self.plain_nfe / max(1, self.tokens)

    @property
    def draft_fpt(self) -> float:
        return self.draft_nfe / max(1, self.tokens)

    @property
    def floor_fpt(self) -> float:
        return max(1, self.new_blocks) / max(1, self.tokens)

    @property
    def accepted_share(self) -> float:
        return min(1.0, self.accepted_tokens / max(1, self.tokens))

    def as_record(self) -> dict[str, Any]:
        record = asdict(self)
        record.update(
            forwards_per_token_plain=round(self.plain_fpt, 4),
            forwards_per_token_draft=round(self.draft_fpt, 4),
            forwards_per_token_floor=round(self.floor_fpt, 4),
            draft_accepted_share=round(self.accepted_share, 4),
        )
        return record


def load_bench_tokenizer(path: Path | None) -> tuple[PromptTokenizer, SpecialIds, int, str]:
    """(tokenizer, special ids, output rows, description): `path`, else the shared real
    tokenizer, else the embedded demo model's."""
    from diffcoder.model import checkpoint_layout as layout
    from diffcoder.model.checkpoint_files import load_tokenizer, special_ids

    source = path if path is not None else default_real_tokenizer()
    if source.is_file():
        data = source.read_bytes()
        with tempfile.TemporaryDirectory(prefix="diffcoder-bench-") as directory:
            layout.write_tokenizer_files(Path(directory), data)
            tokenizer = load_tokenizer(Path(directory))
        rows = layout.padded_rows(layout.tokenizer_size(data))
        name = "the real Stable-DiffCoder tokenizer" if path is None else str(path)
        return tokenizer, special_ids(tokenizer, {"vocab_size": rows}), rows, name
    if path is not None:
        raise FileNotFoundError(f"--tokenizer {path} is not a file (give a tokenizer.json)")
    from diffcoder.model.embedded import demo_model_path

    demo = demo_model_path()
    config = json.loads((demo / "config.json").read_text("utf-8"))
    tokenizer = load_tokenizer(demo)
    rows = int(config["vocab_size"])
    return tokenizer, special_ids(tokenizer, config), rows, "the demo model's tokenizer"


def line_hunks(old: str, new: str) -> int:
    matcher = difflib.SequenceMatcher(None, old.splitlines(), new.splitlines(), autojunk=False)
    return sum(tag != "equal" for tag, *_ in matcher.get_opcodes())


def prepare_pair(
    tokenizer: PromptTokenizer, eos: int, problem: EditProblem, scope: str
) -> PreparedPair | str:
    """The pair's request and prompt through the editing layer, or why it cannot be decoded."""
    target = edit_target(problem, scope)
    request = EditRequest(
        text=problem.before,
        instruction=problem.instruction,
        language="python",
        path="program.py",
        selection=target.selection,
        cursor=target.cursor,
    )
    try:
        _, _, prompt = prepare_edit(tokenizer, request)
    except PromptTooLongError as error:
        return f"prompt too long: {error}"
    fence = prompt.stop_strings[0]
    verdict = decide(problem.before, problem.after, prompt.prompt_text, fence)
    encode = tokenizer.encode
    answer_ids = encode(verdict.answer + fence, add_special_tokens=False, split_special_tokens=True)
    if len(answer_ids) + 1 > prompt.max_new_tokens:
        return f"the answer ({len(answer_ids)} tokens) exceeds the budget ({prompt.max_new_tokens})"
    return PreparedPair(
        problem=problem,
        request=request,
        prompt=prompt,
        verdict=verdict.verdict,
        answer_text=verdict.answer,
        answer_ids=answer_ids + [eos],
        copied=copied_flags(answer_ids, prompt.draft_ids) + [True],
        hunks=line_hunks(prompt.answer_context.original_text, verdict.answer),
    )


def measure_pair(decoder: OracleDecoder, pair: PreparedPair, profile: str, seed: int) -> PairResult:
    """Decode the pair without and with the draft through `run_edit`, under one profile."""
    rng_seed = random.Random(f"{seed}:{pair.problem.id}").randrange(2**32)
    needs = needed_neighbours(profile, pair.copied, rng_seed)
    needs[-1] = 0  # EOS, after the fence: never reached in practice
    prompt, draft = pair.prompt.prompt_ids, pair.prompt.draft_ids
    decoder.expect(prompt, draft, pair.answer_ids, needs, copied=pair.copied)
    plain = run_edit(decoder, replace(pair.request, use_draft=False)).generation
    drafted = run_edit(decoder, pair.request).generation
    return PairResult(
        id=pair.problem.id,
        profile=profile,
        verdict=pair.verdict,
        tokens=len(drafted.token_ids),
        new_tokens=sum(not c for c in pair.copied[:-1]),
        new_blocks=new_blocks(len(prompt), pair.copied[:-1]),
        hunks=pair.hunks,
        plain_nfe=plain.nfe,
        draft_nfe=drafted.nfe,
        accepted_tokens=drafted.draft_accepted_tokens,
        identical=plain.token_ids == drafted.token_ids
        and plain.finish_reason == drafted.finish_reason,
        as_written=drafted.finish_reason == "stop" and drafted.text == pair.answer_text,
    )


def new_blocks(prompt_len: int, copied: list[bool], block_length: int = 4) -> int:
    """How many blocks (at absolute positions) hold an answer token the draft lacks."""
    return len({(prompt_len + i) // block_length for i, c in enumerate(copied) if not c})


def spread(values: list[float]) -> dict[str, float]:
    """Median, 10th and 90th percentile (inclusive quantiles)."""
    if len(values) == 1:
        return {"median": values[0], "p10": values[0], "p90": values[0]}
    cuts = statistics.quantiles(values, n=10, method="inclusive")
    return {"median": statistics.median(values), "p10": cuts[0], "p90": cuts[-1]}


def summarize(results: list[PairResult]) -> dict[str, Any]:
    figures = {
        "forwards_per_token_plain": [r.plain_fpt for r in results],
        "forwards_per_token_draft": [r.draft_fpt for r in results],
        "forwards_per_token_floor": [r.floor_fpt for r in results],
        "draft_accepted_share": [r.accepted_share for r in results],
        "hunks": [float(r.hunks) for r in results],
    }
    summary: dict[str, Any] = {
        "pairs": len(results),
        "identical": sum(r.identical for r in results),
        "as_written": sum(r.as_written for r in results),
        "scope_misses": sum(r.verdict != "gold" for r in results),
        "forwards_per_token_autoregressive": 1.0,
    }
    for name, values in figures.items():
        for stat, value in spread(values).items():
            summary[f"{stat}_{name}"] = round(value, 4)
    return summary


def run_edits_benchmark(settings: EditsBenchSettings, *, as_json: bool = False) -> int:
    dataset = settings.dataset or default_editeval_path()
    if settings.dataset is None and settings.skip_missing_data and not dataset.is_file():
        print(f"bench edits: skipped, no data set at {dataset}")
        return 0
    try:
        problems = load_edit_problems(dataset, settings.format, limit=settings.limit)
        tokenizer, special, rows, tokenizer_name = load_bench_tokenizer(settings.tokenizer)
    except (DatasetError, OSError) as error:
        print(f"diffcoder bench edits: {error}", file=sys.stderr)
        return 2
    decoder = OracleDecoder(tokenizer, special, rows)
    started = time.perf_counter()
    pairs, skipped = [], {}
    for problem in problems:
        prepared = prepare_pair(tokenizer, special.eos, problem, settings.scope)
        if isinstance(prepared, str):
            skipped[problem.id] = prepared
        else:
            pairs.append(prepared)
    results = {
        profile: [measure_pair(decoder, pair, profile, settings.seed) for pair in pairs]
        for profile in settings.profiles
    }
    seconds = time.perf_counter() - started
    summaries = {profile: summarize(rows) for profile, rows in results.items() if rows}
    if not summaries:
        print("diffcoder bench edits: no pair could be decoded", file=sys.stderr)
        return 2
    headline = summaries.get("realistic") or next(iter(summaries.values()))
    report = {
        **headline,
        "dataset": str(dataset),
        "format": settings.format,
        "scope": settings.scope,
        "tokenizer": tokenizer_name,
        "skipped": skipped,
        "profiles": summaries,
        "per_pair": {p: [r.as_record() for r in rows] for p, rows in results.items()},
        "seconds": round(seconds, 1),
    }
    from diffcoder.benchmarking.edits_report import summary_lines, write_edits_report

    if as_json:
        print(json.dumps(report))
    else:
        print("\n".join(summary_lines(report)))
    if settings.out is not None:
        write_edits_report(settings.out, settings.command(), report, results)
    return 0
