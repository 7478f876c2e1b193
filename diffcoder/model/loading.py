"""Load a Stable-DiffCoder (Llama-family) checkpoint without running any of its Python.

Owns device and quantization choice (bf16 / 8-bit / 4-bit NF4 from free memory), the special token
ids read from the tokenizer, and every load-time error a user can fix.
"""

from __future__ import annotations

import gc
import importlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from diffcoder.model.types import ModelLoadError, SpecialIds

logger = logging.getLogger(__name__)

QUANTS = ("none", "8bit", "4bit")
LLAMA_ARCHITECTURES = frozenset({"StableDiffcoderForCausalLM", "LlamaForCausalLM"})
MASK_TEXT = "<[MASK_TOKEN]>"
FIM_TEXTS = {f"fim_{part}": f"<[fim-{part}]>" for part in ("prefix", "suffix", "middle")}
_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json")
_REQUIRED = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads")
SPECIAL_KEYS = ("mask", "eos", "pad", "bos", "fim_prefix", "fim_suffix", "fim_middle")
# A tokenizer this much smaller than the embedding matrix belongs to another model.
MAX_PADDING_ROWS = 1024
_NEXT_SMALLER = {"none": "8bit", "8bit": "4bit"}
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
_DTYPES |= {str(v).removeprefix("torch."): v for v in list(_DTYPES.values())}


@dataclass
class LoadedModel:
    """What `load_model` built; `dtype` is that of the weights bitsandbytes leaves unquantized."""

    model: LlamaForCausalLM
    tokenizer: PreTrainedTokenizerFast
    special: SpecialIds
    device: torch.device
    quant: str
    dtype: torch.dtype
    reason: str
    path: Path

    def __iter__(self) -> Iterator[Any]:
        # Lets callers write `model, tok, ids = load_model(path)`.
        yield self.model
        yield self.tokenizer
        yield self.special


KV_TOKENS = 4096
_GB = 1e9
# NF4 + double quant: 4 bits a weight, an 8-bit absmax per 64 weights, an fp32 per 256 absmaxes.
_NF4_BYTES = 0.5 + 1 / 64 + 4 / (64 * 256)
# bnb quantizes only the decoder's nn.Linear layers; embeddings, norms and lm_head stay 16-bit.
_LINEAR_BYTES = {"none": 2.0, "8bit": 1.0, "4bit": _NF4_BYTES}
_QUANT_LABEL = {"none": "bf16", "8bit": "8-bit", "4bit": "4-bit NF4"}


def _dims(config: dict[str, Any]) -> tuple[int, int, int, int, int]:
    hidden, heads = config["hidden_size"], config["num_attention_heads"]
    kv = config.get("num_key_value_heads") or heads
    return hidden, config["num_hidden_layers"], heads, kv, config.get("head_dim") or hidden // heads


def estimate_weight_bytes(config: dict[str, Any], quant: str) -> int:
    """Bytes of weights once loaded with `quant` ("none", "8bit" or "4bit")."""
    hidden, layers, heads, kv, head_dim = _dims(config)
    inter = config["intermediate_size"]
    linear = layers * (hidden * head_dim * (2 * heads + 2 * kv) + 3 * hidden * inter)
    embeddings = config["vocab_size"] * hidden * (1 if config.get("tie_word_embeddings") else 2)
    norms = (2 * layers + 1) * hidden
    # LLM.int8 keeps an fp32 scale per output row of every converted matrix.
    out_rows = layers * ((heads + 2 * kv) * head_dim + 2 * hidden + 2 * inter)
    scales = 4 * out_rows if quant == "8bit" else 0
    return int(linear * _LINEAR_BYTES[quant] + 2 * (embeddings + norms) + scales)


def estimate_kv_bytes(config: dict[str, Any], tokens: int = KV_TOKENS) -> int:
    """bf16 K and V for every layer: 2 x layers x kv_heads x head_dim x tokens x 2 bytes."""
    _hidden, layers, _heads, kv, head_dim = _dims(config)
    return 2 * layers * kv * head_dim * tokens * 2


def choose_quant(
    free_bytes: int,
    config: dict[str, Any],
    *,
    device_label: str = "cuda",
    kv_tokens: int = KV_TOKENS,
) -> tuple[str, str]:
    """Least aggressive quantization whose weights + KV cache + headroom fit in `free_bytes`."""
    kv = estimate_kv_bytes(config, kv_tokens)
    sizes = {q: estimate_weight_bytes(config, q) for q in QUANTS}
    gb = {q: f"{_QUANT_LABEL[q]} weights ({sizes[q] / _GB:.1f} GB)" for q in QUANTS}
    tail = f"+ {kv_tokens / 1024:g}K KV cache"
    free = f"{free_bytes / _GB:.1f} GB free"
    # Headroom for activations, prefill attention scores and fragmentation: 10% plus 1 GB.
    pick = next((q for q in QUANTS if 1.1 * (sizes[q] + kv) + _GB <= free_bytes), None)
    if pick == "none":
        return pick, f"bf16 on {device_label}: {gb[pick]} {tail} fit in {free}"
    if pick == "8bit":
        return pick, f"8-bit on {device_label}: {gb['none']} {tail} do not fit in {free}"
    head = f"4-bit NF4 on {device_label}:"
    if pick == "4bit":
        return pick, f"{head} neither {gb['none']} nor {gb['8bit']} {tail} fit in {free}"
    if sizes["4bit"] + kv <= free_bytes:
        return "4bit", f"{head} {gb['4bit']} {tail} fit in {free}, with little headroom"
    return "4bit", f"{head} even {gb['4bit']} {tail} exceed {free}; loading may run out of memory"


def cpu_supports_bf16(cpuinfo: str | None = None) -> bool:
    """Whether the CPU has native bf16 matmul (AVX512-BF16 or AMX), from /proc/cpuinfo flags."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return False
    flags = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.partition(":")[2].split())
    return bool(flags & {"avx512_bf16", "amx_bf16"})


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


def _check_files(path: Path) -> None:
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


def _check_vocab(tokenizer: PreTrainedTokenizerFast, config: dict[str, Any], path: Path) -> None:
    n_tok, n_rows = len(tokenizer), int(config["vocab_size"])
    if not 0 <= n_rows - n_tok < MAX_PADDING_ROWS:
        raise ModelLoadError(
            f"the tokenizer in {path} has {n_tok} tokens but the model has {n_rows} embedding "
            "rows, so it belongs to another model; use the checkpoint's own tokenizer.json"
        )


def resolve_device(device: str | torch.device) -> torch.device:
    """'auto' → cuda when available else cpu; 'cuda' / 'cuda:N' must exist."""
    name = str(device)
    if name == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError as exc:
        raise ModelLoadError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from exc
    if dev.type == "cpu":
        return dev
    if dev.type != "cuda":
        raise ModelLoadError(f"unsupported device {name!r}; use auto, cpu, cuda or cuda:N")
    if not torch.cuda.is_available():
        raise ModelLoadError(
            f"device {name!r} requested but CUDA is not available; install a CUDA build of torch "
            "for your GPU or use --device cpu"
        )
    index = 0 if dev.index is None else dev.index
    if index >= torch.cuda.device_count():
        raise ModelLoadError(
            f"device {name!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist"
        )
    return torch.device("cuda", index)


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> tuple[torch.dtype, str]:
    """Dtype of everything not quantized, and why it was picked."""
    if isinstance(dtype, torch.dtype):
        return dtype, f"{dtype} as requested"
    if dtype not in (None, "auto"):
        if dtype not in _DTYPES:
            raise ModelLoadError(f"unknown dtype {dtype!r}; use one of {sorted(_DTYPES)} or auto")
        return _DTYPES[dtype], f"{dtype} as requested"
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return torch.bfloat16, "bf16, native on this GPU"
        return torch.float16, "fp16 because this GPU lacks bf16"
    if cpu_supports_bf16():
        return torch.bfloat16, "bf16, native on this CPU (AVX512-BF16/AMX)"
    # Without native support bf16 matmuls are emulated and several times slower than fp32.
    return torch.float32, "fp32 because this CPU lacks native bf16"


def _bnb_config(quant: str, compute_dtype: torch.dtype) -> Any:
    try:
        importlib.import_module("bitsandbytes")
    except Exception as exc:  # a broken CUDA setup raises more than ImportError
        raise ModelLoadError(
            f"{quant} quantization needs bitsandbytes, which cannot be imported ({exc}); "
            "run `pip install 'bitsandbytes>=0.46'` or use --quant none"
        ) from exc
    from transformers import BitsAndBytesConfig

    if quant == "8bit":
        # bnb logs a warning on every int8 matmul that it casts bf16 inputs to fp16; that is
        # expected (the int8 kernel works in fp16) and would flood the log.
        logging.getLogger("bitsandbytes.autograd._functions").addFilter(_drop_cast_warning)
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute_dtype,
    )


def _drop_cast_warning(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("MatMul8bitLt: inputs will be cast")


def _pick_quant(
    quant: str, device: torch.device, config: dict[str, Any], dtype_reason: str
) -> tuple[str, str]:
    if quant not in (*QUANTS, "auto"):
        raise ModelLoadError(f"unknown quantization {quant!r}; use none, 8bit, 4bit or auto")
    if quant != "auto":
        label = _QUANT_LABEL[quant] if quant != "none" else "unquantized"
        return quant, f"{label} on {device} as requested; {dtype_reason}"
    if device.type != "cuda":
        return "none", f"unquantized on {device} (auto quantizes only on CUDA); {dtype_reason}"
    free_bytes = torch.cuda.mem_get_info(device)[0]
    return choose_quant(free_bytes, config, device_label=str(device))


def _from_pretrained(
    path: Path, config: LlamaConfig, device: torch.device, quant: str, dtype: torch.dtype
) -> LlamaForCausalLM:
    kwargs: dict[str, Any] = {"config": config, "dtype": dtype, "device_map": {"": str(device)}}
    if quant != "none":
        kwargs["quantization_config"] = _bnb_config(quant, dtype)
    try:
        return LlamaForCausalLM.from_pretrained(str(path), **kwargs)
    except torch.cuda.OutOfMemoryError as exc:
        gc.collect()
        torch.cuda.empty_cache()
        smaller = _NEXT_SMALLER.get(quant)
        fix = f"try --quant {smaller}" if smaller else "free GPU memory or use --device cpu"
        raise ModelLoadError(
            f"out of GPU memory while loading {path} on {device} with quant={quant}; {fix}"
        ) from exc
    except (ImportError, RuntimeError) as exc:
        if quant != "none" and "bitsandbytes" in str(exc):
            raise ModelLoadError(
                f"bitsandbytes cannot run {quant} on {device} ({exc}); reinstall bitsandbytes "
                "for this platform or use --quant none"
            ) from exc
        raise


def load_model(
    path: str | Path,
    device: str | torch.device = "auto",
    quant: str = "auto",
    dtype: str | torch.dtype | None = None,
    *,
    special_overrides: dict[str, int] | None = None,
) -> LoadedModel:
    """Load model, tokenizer and special ids; never executes code from the checkpoint."""
    path = Path(path).expanduser()
    _check_files(path)
    config = read_config(path)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(str(path), trust_remote_code=False)
    _check_vocab(tokenizer, config, path)
    special = special_ids(tokenizer, config, special_overrides)

    dev = resolve_device(device)
    dt, dtype_reason = resolve_dtype(dtype, dev)
    chosen, reason = _pick_quant(quant, dev, config, dtype_reason)
    logger.info("loading %s: %s", path, reason)
    model = _from_pretrained(path, llama_config(config), dev, chosen, dt)
    model.eval()
    return LoadedModel(model, tokenizer, special, dev, chosen, dt, reason, path)
