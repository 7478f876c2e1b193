"""What a checkpoint directory must hold, checked before anything is loaded: the weight and
tokenizer files, a Llama-family config.json, a tokenizer that belongs to the model, and the special
token ids read from that tokenizer. Every error says how to fix it.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

from transformers import LlamaConfig, PreTrainedTokenizerFast
from transformers.activations import ACT2FN

from diffcoder.model.checkpoint_layout import FIM_TEXTS
from diffcoder.model.checkpoint_layout import MASK as MASK_TEXT
from diffcoder.model.types import ModelLoadError, SpecialIds
from diffcoder.model.weight_files import lfs_pointer

logger = logging.getLogger(__name__)
LLAMA_ARCHITECTURES = frozenset({"StableDiffcoderForCausalLM", "LlamaForCausalLM"})
_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json")
_REQUIRED = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads")
SPECIAL_KEYS = ("mask", "eos", "pad", "bos", "fim_prefix", "fim_suffix", "fim_middle")
# A tokenizer this much smaller than the embedding matrix belongs to another model.
MAX_PADDING_ROWS = 1024
UNLIMITED_LENGTH = int(1e30)  # transformers' own "no limit" (VERY_LARGE_INTEGER)
_OPTIONAL_SIZES = ("num_key_value_heads", "head_dim", "max_position_embeddings")
# The other JSON files transformers reads from a checkpoint, and how to repair each.
_TOKENIZER_FIX = "re-download tokenizer.json and tokenizer_config.json"
_JSON_FILES = {
    "tokenizer.json": _TOKENIZER_FIX,
    "tokenizer_config.json": _TOKENIZER_FIX,
    "special_tokens_map.json": "re-download special_tokens_map.json",
    "added_tokens.json": "re-download added_tokens.json",
    "generation_config.json": "re-download generation_config.json (diffcoder does not use it: "
    "deleting it works too)",
}


def check_files(path: Path) -> None:
    """The directory exists and holds weights and a tokenizer.json."""
    if not path.exists():
        raise ModelLoadError(f"model path {path} does not exist; pass a checkpoint directory")
    if not path.is_dir():
        raise ModelLoadError(f"model path {path} is not a directory; pass the checkpoint directory")
    for entry in sorted(path.iterdir()):
        if entry.suffix in (".json", ".safetensors") and entry.is_symlink() and not entry.exists():
            raise ModelLoadError(
                f"{entry} is a link to a missing file (an incomplete download into the Hugging "
                "Face cache?); download the checkpoint again"
            )
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


def read_json(path: Path, name: str, fix: str | None = None) -> dict[str, Any]:
    """`path / name` as a JSON object; a damaged file is a `ModelLoadError` that says `fix`."""
    file, fix = path / name, fix or f"re-download {name}"
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ModelLoadError(f"{file} is not UTF-8 text (damaged); {fix}") from exc
    except OSError as exc:
        raise ModelLoadError(f"cannot read {file} ({exc.strerror}); check its permissions") from exc
    if not text.strip():
        raise ModelLoadError(f"{file} is empty (an interrupted download?); {fix}")
    if (pointer := lfs_pointer(file, text[:64].encode())) is not None:
        raise pointer
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise ModelLoadError(
            f"{file} is not valid JSON (it breaks off or is damaged at {where}); {fix}"
        ) from exc
    if not isinstance(data, dict):
        raise ModelLoadError(f"{file} does not hold a JSON object; {fix}")
    return data


def check_json_files(path: Path) -> None:
    """Every JSON file transformers reads besides config.json parses to an object."""
    for name, fix in _JSON_FILES.items():
        if (path / name).is_file():
            read_json(path, name, fix)


def read_config(path: Path) -> dict[str, Any]:
    """config.json as a dict, checked to describe a Llama-family decoder."""
    cfg_path = path / "config.json"
    if not cfg_path.is_file():
        raise ModelLoadError(
            f"{path} has no config.json; point --model at the checkpoint directory that holds "
            "config.json, model.safetensors and tokenizer.json"
        )
    config = read_json(path, "config.json", "re-download the checkpoint's config.json")
    archs = config.get("architectures") or []
    archs = (
        set(archs) if isinstance(archs, list) and all(isinstance(a, str) for a in archs) else set()
    )
    if config.get("model_type") != "llama" and not archs & LLAMA_ARCHITECTURES:
        raise ModelLoadError(
            f"{cfg_path} describes model_type={config.get('model_type')!r}, "
            f"architectures={sorted(archs)}; only Llama-family checkpoints (Stable-DiffCoder) "
            "are supported"
        )
    missing = [key for key in (*_REQUIRED, "vocab_size") if key not in config]
    if missing:
        raise ModelLoadError(f"{cfg_path} lacks {missing}; re-download the checkpoint's config")
    _check_sizes(config, cfg_path)
    return config


def _check_sizes(config: dict[str, Any], cfg_path: Path) -> None:
    for key in (*_REQUIRED, "vocab_size", *_OPTIONAL_SIZES):
        value = config.get(key)
        if (key in _OPTIONAL_SIZES and value is None) or _positive_int(value):
            continue
        raise ModelLoadError(
            f"{cfg_path} says {key} {value!r}, not a positive integer; re-download the "
            "checkpoint's config.json"
        )
    heads, kv = config["num_attention_heads"], config.get("num_key_value_heads") or 0
    if kv and heads % kv:
        raise ModelLoadError(
            f"{cfg_path} says num_attention_heads {heads}, which num_key_value_heads {kv} does "
            "not divide; re-download the checkpoint's config.json"
        )
    if not config.get("head_dim") and config["hidden_size"] % heads:
        raise ModelLoadError(
            f"{cfg_path} says hidden_size {config['hidden_size']}, which num_attention_heads "
            f"{heads} does not divide (and no head_dim); re-download the checkpoint's config.json"
        )


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def llama_config(config: dict[str, Any], path: Path | None = None) -> LlamaConfig:
    """transformers' config object; a value of the wrong type names its key."""
    cfg_path = path / "config.json" if path is not None else Path("config.json")
    # auto_map names the checkpoint's own Python file, which is never imported.
    kept = {k: v for k, v in config.items() if k not in ("auto_map", "model_type")}
    activation = kept.get("hidden_act", "silu")
    if not isinstance(activation, str) or activation not in ACT2FN:
        raise ModelLoadError(
            f"{cfg_path} names an unknown hidden_act {activation!r} (Llama uses "
            "'silu'); re-download the checkpoint's config.json"
        )
    try:
        return LlamaConfig(**kept)
    except Exception as exc:  # huggingface_hub's validation errors are not ValueErrors
        field = re.search(r"field '(\w+)'", str(exc))
        what = f"{field[1]} {kept.get(field[1])!r}" if field else "a value of the wrong type"
        raise ModelLoadError(
            f"{cfg_path} has an invalid {what}; re-download the checkpoint's config.json"
        ) from exc


def load_tokenizer(path: Path) -> PreTrainedTokenizerFast:
    """The checkpoint's tokenizer, ready for prompts of any length: the prompt budgets are the
    pipelines' own, so transformers' model_max_length warning would only be noise."""
    try:
        tokenizer = PreTrainedTokenizerFast.from_pretrained(str(path), trust_remote_code=False)
    except Exception as exc:  # the tokenizers library raises bare Exceptions for bad files
        logger.debug("the tokenizer in %s failed to load", path, exc_info=True)
        raise ModelLoadError(
            f"the tokenizer in {path} could not be built: tokenizer.json or tokenizer_config.json "
            f"is damaged or not a tokenizer; {_TOKENIZER_FIX}"
        ) from exc
    tokenizer.model_max_length = UNLIMITED_LENGTH
    if getattr(tokenizer, "chat_template", None):
        try:
            tokenizer.apply_chat_template(
                [{"role": "user", "content": "x"}], tokenize=False, add_generation_prompt=True
            )
        except Exception as exc:  # jinja2 and transformers raise several kinds
            logger.debug("the chat template in %s failed to render", path, exc_info=True)
            raise ModelLoadError(
                f"the chat_template of the tokenizer in {path} (tokenizer_config.json or "
                f"chat_template.jinja) cannot be rendered; re-download tokenizer_config.json"
            ) from exc
    return tokenizer


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
