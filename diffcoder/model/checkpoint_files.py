"""What a checkpoint directory must hold, checked before anything is loaded: the weight and
tokenizer files, a Llama-family config.json, a tokenizer that belongs to the model, and the special
token ids read from that tokenizer. Every error says how to fix it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from transformers import LlamaConfig, PreTrainedTokenizerFast

from diffcoder.model.checkpoint_layout import FIM_TEXTS
from diffcoder.model.checkpoint_layout import MASK as MASK_TEXT
from diffcoder.model.types import ModelLoadError, SpecialIds

LLAMA_ARCHITECTURES = frozenset({"StableDiffcoderForCausalLM", "LlamaForCausalLM"})
_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json")
_REQUIRED = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads")
SPECIAL_KEYS = ("mask", "eos", "pad", "bos", "fim_prefix", "fim_suffix", "fim_middle")
# A tokenizer this much smaller than the embedding matrix belongs to another model.
MAX_PADDING_ROWS = 1024


def check_files(path: Path) -> None:
    """The directory exists and holds weights and a tokenizer.json."""
    if not path.exists():
        raise ModelLoadError(f"model path {path} does not exist; pass a checkpoint directory")
    if not path.is_dir():
        raise ModelLoadError(f"model path {path} is not a directory; pass the checkpoint directory")
    if not any((path / name).is_file() for name in _WEIGHT_FILES):
        raise ModelLoadError(
            f"{path} has no model.safetensors or model.safetensors.index.json; download the "
            "weights (safetensors format) into that directory"
        )
    if not (path / "tokenizer.json").is_file():
        raise ModelLoadError(
            f"{path} has no tokenizer.json; copy the model's tokenizer.json and "
            "tokenizer_config.json into that directory"
        )


def read_config(path: Path) -> dict[str, Any]:
    """config.json as a dict, checked to describe a Llama-family decoder."""
    cfg_path = path / "config.json"
    if not cfg_path.is_file():
        raise ModelLoadError(
            f"{path} has no config.json; point --model at the checkpoint directory that holds "
            "config.json, model.safetensors and tokenizer.json"
        )
    try:
        config = json.loads(cfg_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelLoadError(f"{cfg_path} is not valid JSON ({exc}); re-download it") from exc
    archs = set(config.get("architectures") or [])
    if config.get("model_type") != "llama" and not archs & LLAMA_ARCHITECTURES:
        raise ModelLoadError(
            f"{cfg_path} describes model_type={config.get('model_type')!r}, "
            f"architectures={sorted(archs)}; only Llama-family checkpoints (Stable-DiffCoder) "
            "are supported"
        )
    missing = [key for key in (*_REQUIRED, "vocab_size") if key not in config]
    if missing:
        raise ModelLoadError(f"{cfg_path} lacks {missing}; re-download the checkpoint's config")
    return config


def llama_config(config: dict[str, Any]) -> LlamaConfig:
    # auto_map names the checkpoint's own Python file, which is never imported.
    kept = {k: v for k, v in config.items() if k not in ("auto_map", "model_type")}
    return LlamaConfig(**kept)


def check_vocab(tokenizer: PreTrainedTokenizerFast, config: dict[str, Any], path: Path) -> None:
    """The tokenizer fills the embedding matrix up to a few padding rows."""
    n_tok, n_rows = len(tokenizer), int(config["vocab_size"])
    if not 0 <= n_rows - n_tok < MAX_PADDING_ROWS:
        raise ModelLoadError(
            f"the tokenizer in {path} has {n_tok} tokens but the model has {n_rows} embedding "
            "rows, so it belongs to another model; use the checkpoint's own tokenizer.json"
        )


def special_ids(
    tokenizer: PreTrainedTokenizerFast,
    config: dict[str, Any],
    overrides: dict[str, int] | None = None,
) -> SpecialIds:
    """Find every special id from the tokenizer (then config.json), then apply overrides."""
    overrides = dict(overrides or {})
    unknown = set(overrides) - set(SPECIAL_KEYS)
    if unknown:
        raise ModelLoadError(
            f"unknown special token override(s) {sorted(unknown)}; valid keys: {SPECIAL_KEYS}"
        )
    vocab_size = int(config["vocab_size"])
    for key, value in overrides.items():
        if not isinstance(value, int) or not 0 <= value < vocab_size:
            raise ModelLoadError(
                f"special token override {key}={value!r} must be an integer in [0, {vocab_size})"
            )
    vocab = tokenizer.get_vocab()

    def from_tokenizer(token: str | None, config_key: str) -> int | None:
        if token is not None and token in vocab:
            return vocab[token]
        value = config.get(config_key)
        # config.json may list several EOS ids; the first is the tokenizer's own.
        return (value or [None])[0] if isinstance(value, list) else value

    found: dict[str, int | None] = {
        "mask": vocab.get(tokenizer.mask_token or MASK_TEXT),
        "eos": from_tokenizer(tokenizer.eos_token, "eos_token_id"),
        "bos": from_tokenizer(tokenizer.bos_token, "bos_token_id"),
        "pad": from_tokenizer(tokenizer.pad_token, "pad_token_id"),
        **{key: vocab.get(text) for key, text in FIM_TEXTS.items()},
    }
    found.update(overrides)
    if found["mask"] is None:
        raise ModelLoadError(
            f"the tokenizer declares no mask token and has no {MASK_TEXT!r}; add "
            '"mask_token": "<your mask token>" to tokenizer_config.json or pass its id as an '
            "override (--mask-id ID, or special_overrides={'mask': ID})"
        )
    if found["eos"] is None:
        raise ModelLoadError(
            "neither the tokenizer nor config.json names an EOS token; add eos_token to "
            "tokenizer_config.json or pass special_overrides={'eos': ID}"
        )
    if found["pad"] is None:
        found["pad"] = found["eos"]

    banned = {i for i, tok in tokenizer.added_tokens_decoder.items() if tok.special}
    banned |= {found["mask"], found["pad"]}
    banned |= set(range(len(tokenizer), vocab_size))
    banned.discard(found["eos"])
    return SpecialIds(banned=frozenset(banned), **found)  # type: ignore[arg-type]
