"""Device and dtype choice: `auto` picks CUDA when there is one; the dtype is bf16 on a GPU that
runs it (else fp16) and fp32 on every CPU, whether or not it has native bf16, so a CPU's features
do not round the answers differently (docs/decoding.md, "Results that depend on the machine").
"""

from __future__ import annotations

from pathlib import Path

import torch

from diffcoder.model.types import ModelLoadError

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
_DTYPES |= {str(v).removeprefix("torch."): v for v in list(_DTYPES.values())}


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
    # bf16 would halve the memory where the CPU has it natively, but change the answers from
    # one CPU to the next; it stays an explicit choice.
    if cpu_supports_bf16():
        return torch.float32, (
            "fp32, the default on every CPU (this one runs bf16 natively: --dtype bfloat16 "
            "halves the memory)"
        )
    return torch.float32, "fp32, the default on every CPU"


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
