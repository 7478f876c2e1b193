"""Quantization and memory policy: how many bytes the weights and the KV cache take at bf16, 8-bit
or 4-bit NF4, which quantization fits in free GPU memory, and the bitsandbytes settings for it.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

import torch

from diffcoder.model.types import QUANT_CHOICES, ModelLoadError
from diffcoder.model.weight_files import projection_shapes

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
# bitsandbytes' 4-bit layout: 64 weights per absmax block; its CPU repacking groups 32 rows.
NF4_BLOCKSIZE = 64
PACK_BLOCK_N = 32


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


def import_bitsandbytes(quant: str) -> Any:
    """The bitsandbytes module, or a `ModelLoadError` that says how to install it."""
    # On AVX512-BF16 CPUs bitsandbytes looks for an optional fused kernel package at import and
    # warns when it is absent; its own kernel runs instead, so the warning is only noise.
    logging.getLogger("bitsandbytes.backends.cpu.ops").addFilter(_drop_kernels_warning)
    try:
        return importlib.import_module("bitsandbytes")
    except Exception as exc:  # a broken CUDA setup raises more than ImportError
        raise ModelLoadError(
            f"{quant} quantization needs bitsandbytes, which cannot be imported ({exc}); "
            "run `pip install 'bitsandbytes>=0.46'` or use --quant none"
        ) from exc


def cpu_packs_4bit() -> bool:
    """Whether bitsandbytes repacks 4-bit weights for its AVX512-BF16 CPU kernel on this CPU.

    `Linear4bit` asks `bitsandbytes.nn.modules.has_avx512bf16` when it is built and repacks its
    weight at the first CPU forward; releases without that function never repack."""
    modules = importlib.import_module("bitsandbytes.nn.modules")
    check = getattr(modules, "has_avx512bf16", None)
    return bool(check()) if check is not None else False


def packs_on_cpu(out_features: int, in_features: int) -> bool:
    """Whether the repacking accepts a [out, in] weight: it asserts `out % 32 == 0` (its column
    blocks) and reshapes the scales to [out, in / 64], one per 64-weight block of a row."""
    return out_features % PACK_BLOCK_N == 0 and in_features % NF4_BLOCKSIZE == 0


def unquantizable(quant: str, device: torch.device, config: dict[str, Any]) -> dict[str, str]:
    """The decoder projections `quant` cannot quantize on `device` (name -> [out, in]): only 4-bit
    on a CPU whose bitsandbytes kernel needs packable sizes has any."""
    if quant != "4bit" or device.type != "cpu":
        return {}
    import_bitsandbytes(quant)
    if not cpu_packs_4bit():
        return {}
    shapes = projection_shapes(config)
    return {name: f"[{o}, {i}]" for name, (o, i) in shapes.items() if not packs_on_cpu(o, i)}


def skipped_note(skipped: dict[str, str], all_skipped: bool) -> str:
    """What the load reason says about projections kept unquantized."""
    listed = ", ".join(f"{name} {shape}" for name, shape in skipped.items())
    outcome = "so nothing is quantized" if all_skipped else "stay unquantized"
    return (
        "this CPU has AVX512-BF16, where bitsandbytes' 4-bit kernel needs [out, in] weights with "
        f"out divisible by {PACK_BLOCK_N} and in by {NF4_BLOCKSIZE}: {listed} do not fit and "
        f"{outcome}"
    )


def bitsandbytes_config(quant: str, compute_dtype: torch.dtype, skip: tuple[str, ...] = ()) -> Any:
    """transformers' BitsAndBytesConfig for "8bit" or "4bit" (NF4, double quantization);
    `skip` names projections (e.g. "mlp.down_proj") that stay unquantized."""
    import_bitsandbytes(quant)
    from transformers import BitsAndBytesConfig

    # A skip list replaces transformers' default one, which holds only the output head.
    skip_modules = ["lm_head", *skip] if skip else None
    if quant == "8bit":
        # bnb logs a warning on every int8 matmul that it casts bf16 inputs to fp16; that is
        # expected (the int8 kernel works in fp16) and would flood the log.
        logging.getLogger("bitsandbytes.autograd._functions").addFilter(_drop_cast_warning)
        return BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=skip_modules)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute_dtype,
        llm_int8_skip_modules=skip_modules,
    )


def _drop_cast_warning(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("MatMul8bitLt: inputs will be cast")


def _drop_kernels_warning(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("Failed to load CPU gemm_4bit_forward")
