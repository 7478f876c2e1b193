"""4-bit on CPUs whose bitsandbytes kernel needs particular sizes, and CPU-independent defaults.

On a CPU with AVX512-BF16, bitsandbytes repacks each 4-bit weight for its fused kernel at the
first forward, and the repacking takes only [out, in] weights with out % 32 == 0 and in % 64 == 0.
The loader keeps the other projections unquantized and says so. The CPU feature is simulated by
patching the very function `Linear4bit` asks (`bitsandbytes.nn.modules.has_avx512bf16`), so both
paths run on every x86-64 CPU, and the size rule is checked against bitsandbytes' own repacking.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import bitsandbytes as bnb
import bitsandbytes.functional as bnb_functional
import bitsandbytes.nn.modules as bnb_modules
import pytest
import torch

from diffcoder.model.loading import load_model
from diffcoder.model.quantization import (
    bitsandbytes_config,
    cpu_packs_4bit,
    import_bitsandbytes,
    packs_on_cpu,
    unquantizable,
)
from diffcoder.testing.tiny_checkpoint import make_tiny_checkpoint

PROMPT = torch.tensor([[0, 300, 400, 500, 600, 700, 5, 5, 5, 5, 800, 900]])
MLP = ("mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")
ATTENTION = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj")


@pytest.fixture
def repacking_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """A CPU where bitsandbytes repacks 4-bit weights (AVX512-BF16), whatever this one is."""
    monkeypatch.setattr(bnb_modules, "has_avx512bf16", lambda: True)


@pytest.fixture
def plain_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """A CPU where bitsandbytes keeps its generic 4-bit layout, whatever this one is."""
    monkeypatch.setattr(bnb_modules, "has_avx512bf16", lambda: False)


def _projections(model: torch.nn.Module) -> dict[str, torch.nn.Module]:
    return {name: m for name, m in model.named_modules() if name.endswith("_proj")}


def _repacks(out_features: int, in_features: int) -> bool:
    """Whether bitsandbytes' own CPU repacking accepts a 4-bit weight of this shape."""
    weight = torch.randn(out_features, in_features, dtype=torch.bfloat16)
    packed, state = bnb_functional.quantize_4bit(
        weight, blocksize=64, compress_statistics=True, quant_type="nf4"
    )
    try:
        bnb_functional._convert_weight_packed_for_cpu(packed, copy.deepcopy(state))
    except (AssertionError, RuntimeError):
        return False
    return True


@pytest.mark.parametrize("out_features", [16, 32, 48, 64, 96, 176, 192, 1024])
def test_the_size_rule_is_bitsandbytes_own(out_features: int) -> None:
    for in_features in (32, 48, 64, 96, 128, 176, 192, 1024):
        expected = _repacks(out_features, in_features)
        assert packs_on_cpu(out_features, in_features) == expected, (out_features, in_features)
    assert packs_on_cpu(14336, 4096) and packs_on_cpu(4096, 14336) and packs_on_cpu(1024, 4096)


def test_the_cpu_feature_is_the_one_bitsandbytes_asks(repacking_cpu: None) -> None:
    assert cpu_packs_4bit()
    assert bnb.nn.Linear4bit(64, 32, quant_type="nf4").support_avx512bf16_for_cpu


def test_4bit_on_a_repacking_cpu_keeps_odd_sizes_unquantized(
    repacking_cpu: None, tiny_ckpt: Path
) -> None:
    loaded = load_model(tiny_ckpt, "cpu", "4bit", "fp32")  # MLP width 176: not a multiple of 32
    assert loaded.quant == "4bit" and loaded.unquantized == MLP
    for words in ("AVX512-BF16", "mlp.gate_proj [176, 64]", "mlp.down_proj [64, 176]"):
        assert words in loaded.reason
    assert "stay unquantized" in loaded.reason
    projections = _projections(loaded.model)
    for name, module in projections.items():
        quantized = name.endswith(ATTENTION)
        assert isinstance(module, bnb.nn.Linear4bit) == quantized, name
        assert quantized or (
            type(module) is torch.nn.Linear and module.weight.dtype == torch.float32
        )
    assert type(loaded.model.lm_head) is torch.nn.Linear
    with torch.inference_mode():
        logits = loaded.model(PROMPT).logits  # bitsandbytes repacks every quantized layer here
    assert logits.shape == (1, PROMPT.shape[1], loaded.model.config.vocab_size)
    states = [
        m.weight.quant_state for m in projections.values() if hasattr(m.weight, "quant_state")
    ]
    assert len(states) == 4 * 2 and all(s.packing_format_for_cpu for s in states)


def test_4bit_on_a_plain_cpu_quantizes_every_projection(plain_cpu: None, tiny_ckpt: Path) -> None:
    loaded = load_model(tiny_ckpt, "cpu", "4bit", "fp32")
    assert loaded.quant == "4bit" and loaded.unquantized == ()
    assert "AVX512" not in loaded.reason and "unquantized" not in loaded.reason
    projections = _projections(loaded.model)
    assert len(projections) == 14
    assert all(isinstance(m, bnb.nn.Linear4bit) for m in projections.values())
    reference = load_model(tiny_ckpt, "cpu", "4bit", "fp32").model.dequantize()
    with torch.inference_mode():
        quantized, dequantized = loaded.model(PROMPT).logits, reference(PROMPT).logits
    assert ((quantized - dequantized).norm() / dequantized.norm()).item() < 0.001
    states = [m.weight.quant_state for m in projections.values()]
    assert not any(getattr(s, "packing_format_for_cpu", False) for s in states)


def test_4bit_with_no_fitting_projection_loads_unquantized(
    repacking_cpu: None, tmp_path: Path
) -> None:
    # hidden 48: every projection has 48 rows or 48 columns, neither a multiple of 32 and 64.
    ckpt = make_tiny_checkpoint(tmp_path / "narrow", hidden=48, heads=4, kv_heads=2)
    loaded = load_model(ckpt, "cpu", "4bit", "fp32")
    assert loaded.quant == "none" and set(loaded.unquantized) == {*ATTENTION, *MLP}
    assert "so nothing is quantized" in loaded.reason
    assert not any(isinstance(m, bnb.nn.Linear4bit) for m in loaded.model.modules())
    with torch.inference_mode():
        assert torch.isfinite(loaded.model(PROMPT).logits).all()


def test_only_4bit_on_a_cpu_is_restricted(repacking_cpu: None) -> None:
    config = {"hidden_size": 64, "intermediate_size": 176, "num_hidden_layers": 2}
    config |= {"num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16}
    cpu = torch.device("cpu")
    assert set(unquantizable("4bit", cpu, config)) == set(MLP)
    assert unquantizable("8bit", cpu, config) == {}
    assert unquantizable("none", cpu, config) == {}
    assert unquantizable("4bit", torch.device("cuda", 0), config) == {}
    assert unquantizable("4bit", cpu, config | {"intermediate_size": 192}) == {}


def test_4bit_config_skips_the_head_and_the_named_projections() -> None:
    assert bitsandbytes_config("4bit", torch.float32).llm_int8_skip_modules is None
    skipping = bitsandbytes_config("4bit", torch.float32, ("mlp.down_proj",))
    assert skipping.llm_int8_skip_modules == ["lm_head", "mlp.down_proj"]


def test_the_missing_kernel_package_warning_is_dropped() -> None:
    import_bitsandbytes("4bit")
    ops_logger = logging.getLogger("bitsandbytes.backends.cpu.ops")

    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord(ops_logger.name, logging.WARNING, __file__, 1, message, (), None)

    assert not ops_logger.filter(
        record("Failed to load CPU gemm_4bit_forward from kernels-community: No module named")
    )
    assert ops_logger.filter(record("any other warning"))
