"""Load a Stable-DiffCoder (Llama-family) checkpoint without running any of its Python.

`load_model` checks the files (`checkpoint_files`), picks the device and dtype (`devices`) and the
quantization (`quantization`), then lets transformers build the weights.
"""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from diffcoder.model.checkpoint_files import (
    check_files,
    check_vocab,
    llama_config,
    read_config,
    special_ids,
)
from diffcoder.model.devices import resolve_device, resolve_dtype
from diffcoder.model.quantization import bitsandbytes_config, out_of_memory_fix, pick_quant
from diffcoder.model.types import ModelLoadError, SpecialIds

logger = logging.getLogger(__name__)


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
    check_files(path)
    config = read_config(path)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(str(path), trust_remote_code=False)
    check_vocab(tokenizer, config, path)
    special = special_ids(tokenizer, config, special_overrides)

    dev = resolve_device(device)
    dt, dtype_reason = resolve_dtype(dtype, dev)
    chosen, reason = pick_quant(quant, dev, config, dtype_reason)
    logger.info("loading %s: %s", path, reason)
    model = _from_pretrained(path, llama_config(config), dev, chosen, dt)
    model.eval()
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        special=special,
        device=dev,
        quant=chosen,
        dtype=dt,
        reason=reason,
        path=path,
    )


def _from_pretrained(
    path: Path, config: LlamaConfig, device: torch.device, quant: str, dtype: torch.dtype
) -> LlamaForCausalLM:
    kwargs: dict[str, Any] = {"config": config, "dtype": dtype, "device_map": {"": str(device)}}
    if quant != "none":
        kwargs["quantization_config"] = bitsandbytes_config(quant, dtype)
    try:
        return LlamaForCausalLM.from_pretrained(str(path), **kwargs)
    except torch.cuda.OutOfMemoryError as exc:
        gc.collect()
        torch.cuda.empty_cache()
        raise ModelLoadError(
            f"out of GPU memory while loading {path} on {device} with quant={quant}; "
            f"{out_of_memory_fix(quant)}"
        ) from exc
    except (ImportError, RuntimeError) as exc:
        if quant != "none" and "bitsandbytes" in str(exc):
            raise ModelLoadError(
                f"bitsandbytes cannot run {quant} on {device} ({exc}); reinstall bitsandbytes "
                "for this platform or use --quant none"
            ) from exc
        raise
