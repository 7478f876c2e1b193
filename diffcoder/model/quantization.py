"""Quantization and memory policy: how many bytes the weights and the KV cache take at bf16, 8-bit
or 4-bit NF4, which quantization fits in free GPU memory, and the bitsandbytes settings for it.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

import torch

from diffcoder.model.types import QUANT_CHOICES, ModelLoadError

# Least aggressive first: `choose_quant` takes the first that fits.
QUANTS = tuple(q for q in QUANT_CHOICES if q != "auto")
KV_TOKENS = 4096
_GB = 1e9
# NF4 + double quant: 4 bits a weight, an 8-bit absmax per 64 weights, an fp32 per 256 absmaxes.
_NF4_BYTES = 0.5 + 1 / 64 + 4 / (64 * 256)
# bnb quantizes only the decoder's nn.Linear layers; embeddings, norms and lm_head stay 16-bit.
_LINEAR_BYTES = {"none": 2.0, "8bit": 1.0, "4bit": _NF4_BYTES}
_QUANT_LABEL = {"none": "bf16", "8bit": "8-bit", "4bit": "4-bit NF4"}
_NEXT_SMALLER = {"none": "8bit", "8bit": "4bit"}


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


def pick_quant(
    quant: str, device: torch.device, config: dict[str, Any], dtype_reason: str
) -> tuple[str, str]:
    """The quantization to load with (`auto` decides from free GPU memory), and why."""
    if quant not in (*QUANTS, "auto"):
        raise ModelLoadError(f"unknown quantization {quant!r}; use none, 8bit, 4bit or auto")
    if quant != "auto":
        label = _QUANT_LABEL[quant] if quant != "none" else "unquantized"
        return quant, f"{label} on {device} as requested; {dtype_reason}"
    if device.type != "cuda":
        return "none", f"unquantized on {device} (auto quantizes only on CUDA); {dtype_reason}"
    free_bytes = torch.cuda.mem_get_info(device)[0]
    return choose_quant(free_bytes, config, device_label=str(device))


def out_of_memory_fix(quant: str) -> str:
    """What to try after running out of GPU memory while loading with `quant`."""
    smaller = _NEXT_SMALLER.get(quant)
    return f"try --quant {smaller}" if smaller else "free GPU memory or use --device cpu"


def bitsandbytes_config(quant: str, compute_dtype: torch.dtype) -> Any:
    """transformers' BitsAndBytesConfig for "8bit" or "4bit" (NF4, double quantization)."""
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
