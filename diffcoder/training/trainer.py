"""`diffcoder train`: tokenizer, model and training loop for the embedded demo model.

The result is a checkpoint directory in the real layout (config.json, model.safetensors,
tokenizer files) plus `training.json` with the settings and the measured held-out accuracy.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

from diffcoder.model import checkpoint_layout as layout
from diffcoder.model.checkpoint_files import llama_config, load_tokenizer
from diffcoder.model.types import BLOCK_LENGTH
from diffcoder.training.config import TrainConfig
from diffcoder.training.corpus import Corpus, load_corpus
from diffcoder.training.objective import (
    diffusion_loss,
    mask_cap,
    sample_block_mask,
    two_copy_attention,
)
from diffcoder.training.samples import SampleIds, SampleMaker


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _prepare_tokenizer(config: TrainConfig, corpus: Corpus) -> PreTrainedTokenizerFast:
    config.out.mkdir(parents=True, exist_ok=True)
    if config.init_from is not None:
        tokenizer_json = (config.init_from / "tokenizer.json").read_bytes()
    else:
        texts = [f.text for f in corpus.train]
        tokenizer_json = layout.train_tokenizer_json(texts, config.vocab_size).encode("utf-8")
    layout.write_tokenizer_files(config.out, tokenizer_json)
    return load_tokenizer(config.out)


def _special_ids(tokenizer: PreTrainedTokenizerFast) -> tuple[SampleIds, int]:
    fim = {key: tokenizer.convert_tokens_to_ids(text) for key, text in layout.FIM_TEXTS.items()}
    return SampleIds(eos=tokenizer.eos_token_id, **fim), tokenizer.mask_token_id


def _new_model(config: TrainConfig, tokenizer_json: str) -> tuple[LlamaForCausalLM, dict]:
    if config.init_from is not None:
        checkpoint = json.loads((config.init_from / "config.json").read_text("utf-8"))
    else:
        vocab = layout.padded_rows(layout.tokenizer_size(tokenizer_json))
        intermediate = layout.default_intermediate(config.hidden)
        checkpoint = layout.checkpoint_config(
            vocab, config.hidden, config.layers, config.heads, config.kv_heads, intermediate
        )
    torch.manual_seed(config.seed)
    model = LlamaForCausalLM(llama_config(checkpoint)).float()
    if config.init_from is not None:
        weights = load_file(str(config.init_from / "model.safetensors"))
        model.load_state_dict({k: v.float() for k, v in weights.items()})
    return model, checkpoint


def save_checkpoint(model: LlamaForCausalLM, checkpoint: dict, out: Path, source: Path) -> None:
    """Write the checkpoint files (bf16 weights, as the real model ships) into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    layout.write_json(out / "config.json", checkpoint)
    tensors = {k: v.detach().to(torch.bfloat16).contiguous() for k, v in model.state_dict().items()}
    layout.write_weights(out, tensors)
    if out != source:
        for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            (out / name).write_bytes((source / name).read_bytes())


def heldout_set(
    config: TrainConfig, corpus: Corpus, tokenizer, special: SampleIds
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed held-out rows ([rows, length]) and masks: the same for every checkpoint."""
    files = corpus.heldout or corpus.train[:1]
    maker = SampleMaker(files, tokenizer, special, config.length, config.mixture, config.seed + 1)
    rows = torch.tensor([maker.row() for _ in range(config.heldout_rows)])
    generator = torch.Generator().manual_seed(config.seed + 2)
    masks = sample_block_mask(config.length, rows.shape[0], BLOCK_LENGTH, 1.0, generator)
    return rows, masks


def heldout_accuracy(checkpoints: list[Path], config: TrainConfig) -> dict[str, dict]:
    """Masked-token loss and accuracy of each checkpoint on the held-out set; all checkpoints
    must share the first one's tokenizer (a model and its untrained twin do)."""
    corpus = load_corpus(config.corpus_dir, config.max_files)
    tokenizer = load_tokenizer(Path(checkpoints[0]))
    special, mask_id = _special_ids(tokenizer)
    rows, masks = heldout_set(config, corpus, tokenizer, special)
    results = {}
    for path in checkpoints:
        model, _ = _new_model(replace(config, init_from=path), "")
        results[str(path)] = masked_accuracy(model, rows, masks, mask_id)
    return results


@torch.no_grad()
def masked_accuracy(model, rows: torch.Tensor, masks: torch.Tensor, mask_id: int) -> dict:
    """Loss and argmax accuracy over the masked positions of fixed held-out rows."""
    model.eval()
    attention = two_copy_attention(rows.shape[1], BLOCK_LENGTH)
    total_loss, correct, count = 0.0, 0, 0
    for i in range(0, rows.shape[0], 8):
        loss, right = diffusion_loss(model, rows[i : i + 8], masks[i : i + 8], mask_id, attention)
        n = int(masks[i : i + 8].sum())
        total_loss, correct, count = total_loss + loss.item() * n, correct + int(right), count + n
    model.train()
    return {"loss": round(total_loss / count, 4), "accuracy": round(correct / count, 4)}


def _learning_rate(config: TrainConfig, step: int, elapsed: float) -> float:
    """Linear warm-up, then a cosine to a tenth that follows the step count or, with a time
    budget, the elapsed time, whichever is further along, so a cut-short run still anneals."""
    if step < config.lr_warmup_steps:
        return config.learning_rate * (step + 1) / config.lr_warmup_steps
    progress = (step - config.lr_warmup_steps) / max(1, config.steps - config.lr_warmup_steps)
    if config.time_budget_s:
        progress = max(progress, elapsed / config.time_budget_s)
    return config.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def train(config: TrainConfig) -> dict:
    """Train and save; returns the summary also written to `training.json`."""
    started = time.monotonic()
    corpus = load_corpus(config.corpus_dir, config.max_files)
    _log(f"corpus: {corpus.describe()}")
    tokenizer = _prepare_tokenizer(config, corpus)
    special, mask_id = _special_ids(tokenizer)
    tokenizer_json = (config.out / "tokenizer.json").read_text(encoding="utf-8")
    model, checkpoint = _new_model(config, tokenizer_json)
    params = sum(p.numel() for p in model.parameters())
    _log(f"model: {params / 1e6:.2f} M parameters, vocab {checkpoint['vocab_size']}")

    rows, masks = heldout_set(config, corpus, tokenizer, special)
    untrained = masked_accuracy(model, rows, masks, mask_id)
    _log(f"held-out masked accuracy before training: {untrained['accuracy']:.3f}")
    if config.untrained_out is not None:
        save_checkpoint(model, checkpoint, config.untrained_out, config.out)

    maker = SampleMaker(
        corpus.train, tokenizer, special, config.length, config.mixture, config.seed
    )
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, betas=(0.9, 0.95), weight_decay=0.1
    )
    attention = two_copy_attention(config.length, BLOCK_LENGTH)
    noise = torch.Generator().manual_seed(config.seed + 3)
    history = []
    train_started, tokens, step = time.monotonic(), 0, 0
    for step in range(config.steps):
        batch = torch.tensor([maker.row() for _ in range(config.batch)])
        cap = mask_cap(step, config.mask_warmup_steps)
        masked = sample_block_mask(config.length, config.batch, BLOCK_LENGTH, cap, noise)
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(config, step, time.monotonic() - train_started)
        loss, correct = diffusion_loss(model, batch, masked, mask_id, attention)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        tokens += batch.numel()
        elapsed = time.monotonic() - train_started
        if step % config.log_every == 0 or step == config.steps - 1:
            accuracy = int(correct) / max(1, int(masked.sum()))
            rate = tokens / elapsed
            eta = (config.steps - step - 1) * elapsed / (step + 1)
            _log(
                f"step {step + 1}/{config.steps}  loss {loss.item():.3f}  acc {accuracy:.3f}  "
                f"mask cap {cap:.2f}  {rate:.0f} tok/s  eta {eta / 60:.1f} min"
            )
            history.append({"step": step + 1, "loss": round(loss.item(), 4)})
        if (step + 1) % config.save_every == 0:
            save_checkpoint(model, checkpoint, config.out, config.out)
        if config.stop_after is not None and step + 1 >= config.stop_after:
            _log(f"stopping after {step + 1} steps (--stop-after)")
            break
        if config.time_budget_s is not None and elapsed > config.time_budget_s:
            _log(f"time budget reached after {step + 1} steps")
            break
    save_checkpoint(model, checkpoint, config.out, config.out)
    trained = masked_accuracy(model, rows, masks, mask_id)
    _log(f"held-out masked accuracy after training: {trained['accuracy']:.3f}")
    summary = {
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
        "corpus": corpus.describe(),
        "parameters": params,
        "steps_done": step + 1,
        "training_tokens": tokens,
        "train_seconds": round(time.monotonic() - train_started, 1),
        "total_seconds": round(time.monotonic() - started, 1),
        "python": sys.version.split()[0],
        "heldout": {"rows": config.heldout_rows, "untrained": untrained, "trained": trained},
        "loss_history": history,
    }
    for machine_specific in ("out", "untrained_out", "corpus_dir", "init_from"):
        summary["settings"].pop(machine_specific, None)
    previous = config.init_from / "training.json" if config.init_from else None
    if previous is not None and previous.is_file():
        summary["previous_stage"] = json.loads(previous.read_text("utf-8"))
    layout.write_json(config.out / "training.json", summary)
    return summary
