"""Checkpoint loading: layouts, special ids, quantization choice, CPU bitsandbytes, every error.

CUDA absence and out-of-memory are simulated with monkeypatch; the rest loads tiny checkpoints.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import bitsandbytes as bnb
import pytest
import torch
from transformers import LlamaForCausalLM

from diffcoder.model import devices
from diffcoder.model.devices import cpu_supports_bf16, resolve_device, resolve_dtype
from diffcoder.model.loading import load_model
from diffcoder.model.quantization import (
    choose_quant,
    estimate_kv_bytes,
    estimate_weight_bytes,
    pick_quant,
)
from diffcoder.model.types import ModelLoadError

REAL_8B = {
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "vocab_size": 155136,
    "tie_word_embeddings": False,
}
PROMPT = torch.tensor([[0, 300, 400, 500, 600, 700, 5, 5, 5, 5, 800, 900]])


def _copy(src: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(src, tmp_path / "ckpt"))


def _edit_json(path: Path, **changes: object) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(changes)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def _logits(model: torch.nn.Module) -> torch.Tensor:
    with torch.inference_mode():
        return model(PROMPT).logits.float()


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0).item()


def test_loads_tiny_checkpoint_on_cpu(tiny_ckpt: Path) -> None:
    loaded = load_model(tiny_ckpt, device="cpu")
    model, tok = loaded.model, loaded.tokenizer
    assert isinstance(model, LlamaForCausalLM) and not model.training
    assert loaded.quant == "none" and loaded.device == torch.device("cpu")
    # fp32 on every CPU, native bf16 or not: the CPU's features do not change the answers.
    assert loaded.dtype == model.dtype == torch.float32
    assert loaded.reason.startswith("unquantized on cpu") and loaded.path == tiny_ckpt
    assert "fp32, the default on every CPU" in loaded.reason
    assert type(tok).__name__ in ("PreTrainedTokenizerFast", "TokenizersBackend")
    assert model.config.rope_parameters["rope_theta"] == 500000.0
    assert _logits(model).shape == (1, PROMPT.shape[1], model.config.vocab_size)


def test_sharded_checkpoint_loads_the_same_weights(tmp_path: Path, tiny_ckpt: Path) -> None:
    from diffcoder.testing.tiny_checkpoint import make_tiny_checkpoint

    sharded = make_tiny_checkpoint(tmp_path / "sharded", shards=2)
    a = load_model(tiny_ckpt, "cpu", "none", "fp32").model.state_dict()
    b = load_model(sharded, "cpu", "none", "fp32").model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_special_ids_come_from_the_tokenizer(tiny_ckpt: Path) -> None:
    loaded = load_model(tiny_ckpt, "cpu", "none")
    s, vocab_size, n_tok = loaded.special, loaded.model.config.vocab_size, len(loaded.tokenizer)
    assert (s.mask, s.eos, s.pad, s.bos) == (5, 2, 1, 0)
    assert (s.fim_prefix, s.fim_suffix, s.fim_middle) == (124, 125, 126)
    assert {s.pad, s.mask, 3, 124, 127} <= s.banned and s.eos not in s.banned
    assert set(range(n_tok, vocab_size)) <= s.banned and n_tok < vocab_size
    assert s.banned == (set(range(128)) - {2}) | set(range(n_tok, vocab_size))


def test_special_overrides(tiny_ckpt: Path) -> None:
    s = load_model(tiny_ckpt, "cpu", "none", special_overrides={"mask": 300, "eos": 6}).special
    assert (s.mask, s.eos, s.pad) == (300, 6, 1)
    assert 300 in s.banned and 6 not in s.banned and 2 in s.banned
    with pytest.raises(ModelLoadError, match="valid keys"):
        load_model(tiny_ckpt, "cpu", "none", special_overrides={"msk": 5})
    with pytest.raises(ModelLoadError, match="must be an integer"):
        load_model(tiny_ckpt, "cpu", "none", special_overrides={"mask": 10**6})


def test_mask_found_by_string_when_not_declared(tmp_path: Path, tiny_ckpt: Path) -> None:
    ckpt = _copy(tiny_ckpt, tmp_path)
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        data = json.loads((ckpt / name).read_text(encoding="utf-8"))
        del data["mask_token"]
        (ckpt / name).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    loaded = load_model(ckpt, "cpu", "none")
    assert loaded.tokenizer.mask_token is None and loaded.special.mask == 5


def test_missing_mask_token_says_how_to_fix(tmp_path: Path, tiny_ckpt: Path) -> None:
    ckpt = _copy(tiny_ckpt, tmp_path)
    for name in ("tokenizer_config.json", "special_tokens_map.json", "tokenizer.json"):
        text = (ckpt / name).read_text(encoding="utf-8")
        text = text.replace('"mask_token": "<[MASK_TOKEN]>",', "")
        (ckpt / name).write_text(text.replace("<[MASK_TOKEN]>", "<[UNUSED]>"), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="mask_token.*tokenizer_config.json.*override"):
        load_model(ckpt, "cpu", "none")
    assert load_model(ckpt, "cpu", "none", special_overrides={"mask": 5}).special.mask == 5


def test_checkpoint_python_is_never_executed(tmp_path: Path, tiny_ckpt: Path) -> None:
    ckpt = _copy(tiny_ckpt, tmp_path)
    sentinel = tmp_path / "executed"
    (ckpt / "modeling_stable_diffcoder.py").write_text(
        f"open({str(sentinel)!r}, 'w').close()\nraise SystemExit('remote code ran')\n"
    )
    load_model(ckpt, "cpu", "none")
    assert not sentinel.exists()


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ("missing", "does not exist"),
        ("file", "not a directory"),
        ("no_config", "no config.json"),
        ("no_weights", "no model.safetensors"),
        ("no_tokenizer", "no tokenizer.json"),
        ("not_llama", "only Llama-family"),
        ("incomplete_config", "lacks .*'vocab_size'"),
        ("small_vocab", "vocab_size 512 but .* 1024 rows"),
        ("huge_vocab", "vocab_size 4096 but .* 1024 rows"),
        ("foreign_tokenizer", "belongs to another model"),
    ],
)
def test_checkpoint_errors(tmp_path: Path, tiny_ckpt: Path, breakage: str, message: str) -> None:
    ckpt = _copy(tiny_ckpt, tmp_path)
    config = ckpt / "config.json"
    if breakage == "missing":
        ckpt = tmp_path / "nowhere"
    elif breakage == "file":
        ckpt = config
    elif breakage == "no_config":
        config.unlink()
    elif breakage == "no_weights":
        (ckpt / "model.safetensors").unlink()
    elif breakage == "no_tokenizer":
        (ckpt / "tokenizer.json").unlink()
    elif breakage == "not_llama":
        _edit_json(config, model_type="gpt2", architectures=["GPT2LMHeadModel"])
    elif breakage == "incomplete_config":
        config.write_text(json.dumps({"model_type": "llama"}))
    elif breakage == "small_vocab":
        _edit_json(config, vocab_size=512)
    elif breakage == "huge_vocab":
        _edit_json(config, vocab_size=4096)
    elif breakage == "foreign_tokenizer":  # the demo model's 4096-entry tokenizer, 1024 rows
        from diffcoder.model.embedded import DEMO_MODEL_DIR

        for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            shutil.copy(DEMO_MODEL_DIR / name, ckpt / name)
    with pytest.raises(ModelLoadError, match=message):
        load_model(ckpt, "cpu", "none")


def test_cuda_requested_without_cuda(monkeypatch: pytest.MonkeyPatch, tiny_ckpt: Path) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for device in ("cuda", "cuda:1"):
        with pytest.raises(ModelLoadError, match="CUDA build of torch.*--device cpu"):
            load_model(tiny_ckpt, device=device)
    assert resolve_device("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("cuda") == torch.device("cuda:0")
    with pytest.raises(ModelLoadError, match="only 1 CUDA device"):
        resolve_device("cuda:3")
    with pytest.raises(ModelLoadError, match="unsupported device"):
        resolve_device("meta")


def test_bad_quant_and_dtype_names(tiny_ckpt: Path) -> None:
    with pytest.raises(ModelLoadError, match="unknown quantization"):
        load_model(tiny_ckpt, "cpu", "3bit")
    with pytest.raises(ModelLoadError, match="unknown dtype"):
        load_model(tiny_ckpt, "cpu", "none", "fp8")


@pytest.mark.parametrize(("quant", "fix"), [("none", "8bit"), ("8bit", "4bit"), ("4bit", "free")])
def test_out_of_memory_suggests_smaller_quant(
    monkeypatch: pytest.MonkeyPatch, tiny_ckpt: Path, quant: str, fix: str
) -> None:
    def out_of_memory(*args: object, **kwargs: object) -> None:
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(LlamaForCausalLM, "from_pretrained", out_of_memory)
    with pytest.raises(ModelLoadError, match=f"out of GPU memory.*{fix}"):
        load_model(tiny_ckpt, "cpu", quant)


def test_bitsandbytes_missing_or_unusable(monkeypatch: pytest.MonkeyPatch, tiny_ckpt: Path) -> None:
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "bitsandbytes", None)
        with pytest.raises(ModelLoadError, match="pip install 'bitsandbytes"):
            load_model(tiny_ckpt, "cpu", "4bit")

    def unusable(*args: object, **kwargs: object) -> None:
        raise RuntimeError("None of the available devices are supported by bitsandbytes")

    monkeypatch.setattr(LlamaForCausalLM, "from_pretrained", unusable)
    with pytest.raises(ModelLoadError, match="bitsandbytes cannot run 8bit"):
        load_model(tiny_ckpt, "cpu", "8bit")


def test_weight_and_kv_estimates_for_the_real_model() -> None:
    assert estimate_weight_bytes(REAL_8B, "none") == pytest.approx(16.5e9, rel=0.01)
    assert estimate_kv_bytes(REAL_8B, 4096) == 512 * 2**20
    assert estimate_kv_bytes(REAL_8B, 1) == 128 * 1024
    # Embeddings and lm_head (1.27 B params) stay 16-bit under bitsandbytes.
    assert 9.0e9 < estimate_weight_bytes(REAL_8B, "8bit") < 10.0e9
    assert 5.5e9 < estimate_weight_bytes(REAL_8B, "4bit") < 6.5e9


@pytest.mark.parametrize("quant", ["none", "8bit", "4bit"])
def test_weight_estimate_matches_loaded_tiny_model(tiny_ckpt: Path, quant: str) -> None:
    model = load_model(tiny_ckpt, "cpu", quant, "bf16").model
    config = json.loads((tiny_ckpt / "config.json").read_text())
    # The footprint omits quantization statistics, which the estimate includes.
    actual = model.get_memory_footprint(return_buffers=False)
    assert actual <= estimate_weight_bytes(config, quant) <= actual * 1.03


@pytest.mark.parametrize(
    ("free_gb", "quant", "words"),
    [
        (80, "none", ["bf16 on cuda:0", "16.5 GB", "4K KV cache fit in 80.0 GB free"]),
        (20, "none", ["fit in 20.0 GB free"]),
        (15, "8bit", ["8-bit on cuda:0", "bf16 weights (16.5 GB)", "do not fit in 15.0 GB"]),
        (11, "4bit", ["4-bit NF4 on cuda:0", "neither", "8-bit weights (9.5 GB)"]),
        (7.6, "4bit", ["4-bit NF4 weights (6.1 GB)", "little headroom"]),
        (3, "4bit", ["exceed 3.0 GB free", "may run out of memory"]),
    ],
)
def test_choose_quant_with_fake_free_memory(free_gb: float, quant: str, words: list[str]) -> None:
    chosen, reason = choose_quant(int(free_gb * 1e9), REAL_8B, device_label="cuda:0")
    assert chosen == quant
    assert all(w in reason for w in words), reason


def test_auto_quant_on_cuda_reads_free_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (int(7.6e9), int(8e9)))
    quant, reason = pick_quant("auto", torch.device("cuda:0"), REAL_8B, "bf16")
    assert quant == "4bit" and reason.startswith("4-bit NF4 on cuda:0")
    quant, reason = pick_quant("auto", torch.device("cpu"), REAL_8B, "fp32 (no bf16)")
    assert quant == "none" and "cpu" in reason


def test_cpu_dtype_from_cpu_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    assert cpu_supports_bf16("processor: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16\n")
    assert cpu_supports_bf16("flags : fpu amx_bf16 amx_tile\n")
    assert not cpu_supports_bf16("flags : fpu sse avx2 avx512f\n")
    cpu = torch.device("cpu")
    monkeypatch.setattr(devices, "cpu_supports_bf16", lambda: False)
    dtype, reason = resolve_dtype(None, cpu)
    assert dtype == torch.float32 and "bf16" not in reason
    # A CPU with native bf16 still defaults to fp32 (the same answers as any other CPU); the
    # reason says how to halve the memory there.
    monkeypatch.setattr(devices, "cpu_supports_bf16", lambda: True)
    dtype, reason = resolve_dtype("auto", cpu)
    assert dtype == torch.float32 and "--dtype bfloat16 halves the memory" in reason
    assert resolve_dtype("bfloat16", cpu)[0] == torch.bfloat16
    assert resolve_dtype("fp16", cpu)[0] == torch.float16
    assert resolve_dtype(torch.float32, cpu)[0] == torch.float32


@pytest.mark.parametrize(
    ("quant", "layer_type"), [("4bit", bnb.nn.Linear4bit), ("8bit", bnb.nn.Linear8bitLt)]
)
def test_bitsandbytes_on_cpu(packable_ckpt: Path, quant: str, layer_type: type) -> None:
    """Sizes that every bitsandbytes CPU kernel takes, so every projection is quantized on every
    x86-64 CPU (tests/model/test_cpu_quantization.py covers the sizes that some CPUs refuse)."""
    reference = _logits(load_model(packable_ckpt, "cpu", "none", "fp32").model)
    loaded = load_model(packable_ckpt, "cpu", quant, "fp32")
    model = loaded.model
    assert loaded.quant == quant and "on cpu as requested" in loaded.reason
    assert ("4-bit NF4" if quant == "4bit" else "8-bit") in loaded.reason
    assert loaded.unquantized == () and "unquantized" not in loaded.reason.split(";", 1)[1]
    linears = [m for name, m in model.named_modules() if name.endswith("_proj")]
    assert len(linears) == 7 * model.config.num_hidden_layers
    assert all(isinstance(m, layer_type) for m in linears)
    assert type(model.lm_head) is torch.nn.Linear and model.lm_head.weight.dtype == torch.float32
    # The same weights dequantized before any forward: a CPU kernel may repack them at the first.
    dequantized = _logits(load_model(packable_ckpt, "cpu", quant, "fp32").model.dequantize())
    quantized = _logits(model)
    assert _cosine(quantized, reference) > 0.99
    # Only the kernels' arithmetic may differ: fp32 in bitsandbytes' generic CPU code, int8 with
    # fp32 scales for 8-bit, bf16 in its AVX512-BF16 4-bit kernel (on CPUs that repack).
    states = [getattr(m.weight, "quant_state", None) for m in linears]
    packed = any(getattr(state, "packing_format_for_cpu", False) for state in states)
    rel = ((quantized - dequantized).norm() / dequantized.norm()).item()
    if packed:
        assert _cosine(quantized, dequantized) > 0.999 and rel < 0.03
    elif quant == "4bit":
        assert _cosine(quantized, dequantized) > 0.9999 and rel < 0.001
    else:
        assert _cosine(quantized, dequantized) > 0.999 and rel < 0.02
