"""Load a Stable-DiffCoder (Llama-family) checkpoint without running any of its Python.

`load_model` checks the files (`checkpoint_files`, `weight_files`: every JSON file, every
safetensors header against its file size and config.json), picks the device and dtype (`devices`)
and the quantization (`quantization`), then lets transformers build the weights. What transformers
or safetensors still raise becomes a `ModelLoadError` that names the fix.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
from transformers.utils import logging as hf_logging

from diffcoder.model.checkpoint_files import (
    check_files,
    check_json_files,
    check_vocab,
    llama_config,
    load_tokenizer,
    read_config,
    special_ids,
)
from diffcoder.model.devices import resolve_device, resolve_dtype
from diffcoder.model.quantization import (
    bitsandbytes_config,
    out_of_memory_fix,
    pick_quant,
    skipped_note,
    unquantizable,
)
from diffcoder.model.types import ModelLoadError, SpecialIds
from diffcoder.model.weight_files import check_weights, projection_shapes

logger = logging.getLogger(__name__)


@dataclass
class LoadedModel:
    """What `load_model` built; `dtype` is that of the weights bitsandbytes leaves unquantized;
    `unquantized` names the projections the chosen quantization could not take on this device."""

    model: LlamaForCausalLM
    tokenizer: PreTrainedTokenizerFast
    special: SpecialIds
    device: torch.device
    quant: str
    dtype: torch.dtype
    reason: str
    path: Path
    unquantized: tuple[str, ...] = ()


def load_model(
    path: str | Path,
    device: str | torch.device = "auto",
    quant: str = "auto",
    dtype: str | torch.dtype | None = None,
    *,
    special_overrides: dict[str, int] | None = None,
    progress_bars: bool = True,
) -> LoadedModel:
    """Load model, tokenizer and special ids; never executes code from the checkpoint.
    `progress_bars=False` keeps transformers' weight-loading bar off stderr."""
    path = Path(path).expanduser()
    check_files(path)
    config = read_config(path)
    check_json_files(path)
    check_weights(path, config)
    tokenizer = load_tokenizer(path)
    check_vocab(tokenizer, config, path)
    special = special_ids(tokenizer, config, special_overrides)

    dev = resolve_device(device)
    dt, dtype_reason = resolve_dtype(dtype, dev)
    chosen, reason = pick_quant(quant, dev, config, dtype_reason)
    skipped = unquantizable(chosen, dev, config)
    if skipped:
        everything = len(skipped) == len(projection_shapes(config))
        reason = f"{reason}; {skipped_note(skipped, everything)}"
        chosen = "none" if everything else chosen
    logger.info("loading %s: %s", path, reason)
    skip = tuple(skipped) if chosen != "none" else ()
    with _progress_bars(progress_bars):
        model = _from_pretrained(path, llama_config(config, path), dev, chosen, dt, skip)
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
        unquantized=tuple(skipped),
    )


@contextmanager
def _progress_bars(enabled: bool) -> Iterator[None]:
    """transformers' (and huggingface_hub's) progress bars off for the block, when asked."""
    if enabled or not hf_logging.is_progress_bar_enabled():
        yield
        return
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.enable_progress_bar()


def _from_pretrained(
    path: Path,
    config: LlamaConfig,
    device: torch.device,
    quant: str,
    dtype: torch.dtype,
    skip: tuple[str, ...],
) -> LlamaForCausalLM:
    kwargs: dict[str, Any] = {"config": config, "dtype": dtype, "device_map": {"": str(device)}}
    if quant != "none":
        kwargs["quantization_config"] = bitsandbytes_config(quant, dtype, skip)
    try:
        return LlamaForCausalLM.from_pretrained(str(path), **kwargs)
    except ModelLoadError:
        raise
    except torch.cuda.OutOfMemoryError as exc:
        gc.collect()
        torch.cuda.empty_cache()
        raise ModelLoadError(
            f"out of GPU memory while loading {path} on {device} with quant={quant}; "
            f"{out_of_memory_fix(quant)}"
        ) from exc
    except MemoryError as exc:
        raise _out_of_memory(path, device, dtype) from exc
    except (ImportError, RuntimeError) as exc:
        if quant != "none" and "bitsandbytes" in str(exc):
            raise ModelLoadError(
                f"bitsandbytes cannot run {quant} on {device} ({exc}); reinstall bitsandbytes "
                "for this platform or use --quant none"
            ) from exc
        if "can't allocate memory" in str(exc) or "not enough memory" in str(exc):
            raise _out_of_memory(path, device, dtype) from exc
        if isinstance(exc, ImportError):
            package = exc.name or "a package"
            raise ModelLoadError(
                f"loading {path} needs {package}, which cannot be imported; install it "
                f"(pip install {package}) or reinstall diffcoder-lsp"
            ) from exc
        raise _unreadable(path, exc) from exc
    except (SafetensorError, OSError, ValueError, KeyError) as exc:
        raise _unreadable(path, exc) from exc


def _out_of_memory(path: Path, device: torch.device, dtype: torch.dtype) -> ModelLoadError:
    name = str(dtype).removeprefix("torch.")
    half = "; --dtype bfloat16 needs half the memory" if dtype == torch.float32 else ""
    return ModelLoadError(
        f"out of memory while loading {path} on {device} in {name}{half}; close other programs "
        "or load on a GPU (--device cuda --quant 4bit)"
    )


def _unreadable(path: Path, exc: BaseException) -> ModelLoadError:
    """What the library raised on a checkpoint that passed the checks: the text goes to the
    debug log, the message says what to do."""
    logger.debug("transformers failed to load %s", path, exc_info=exc)
    return ModelLoadError(
        f"transformers could not load the weights in {path} ({type(exc).__name__}): the files "
        "are probably damaged; re-download the checkpoint's *.safetensors files"
    )
