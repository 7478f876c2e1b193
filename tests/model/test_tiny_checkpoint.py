"""The tiny-checkpoint factory: real layout and config keys, determinism, tokenizer fidelity.

The literal ids below describe the real Stable-DiffCoder tokenizer; the factory must reproduce them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from tokenizers import Tokenizer
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from diffcoder.model.checkpoint_layout import special_token_strings
from diffcoder.testing.tiny_checkpoint import make_tiny_checkpoint

PYTHON_SAMPLES = [
    "def add(a, b):\n    return a + b\n",
    "class Foo(Bar):\n\tx: int = 42  # comment\r\n",
    'print(f"{name!r} → 日本語 🐍")\n\n\n    \n',
    "  leading spaces and trailing  ",
]


def _files(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


def _tokenizer(path: Path) -> PreTrainedTokenizerFast:
    return PreTrainedTokenizerFast.from_pretrained(str(path))


def test_layout_and_config_keys(tiny_ckpt: Path) -> None:
    assert set(_files(tiny_ckpt)) == {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
    }
    config = json.loads((tiny_ckpt / "config.json").read_text())
    assert config["architectures"] == ["StableDiffcoderForCausalLM"]
    module = config["auto_map"]["AutoModelForCausalLM"].split(".")[0]
    assert not (tiny_ckpt / f"{module}.py").exists()
    expected = {
        "model_type": "llama",
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 16,
        "max_position_embeddings": 8192,
        "rope_theta": 500000.0,
        "rms_norm_eps": 1e-6,
        "tie_word_embeddings": False,
        "hidden_act": "silu",
        "attention_bias": False,
        "mlp_bias": False,
        "bos_token_id": 0,
        "eos_token_id": 2,
        "pad_token_id": 1,
        "torch_dtype": "bfloat16",
        "use_cache": True,
    }
    assert {k: config[k] for k in expected} == expected
    assert config["intermediate_size"] % 8 == 0 and 150 <= config["intermediate_size"] <= 200
    tok_size = len(_tokenizer(tiny_ckpt))
    # Padding rows past the tokenizer, like the real 155121-token tokenizer in a 155136-row head.
    assert config["vocab_size"] % 64 == 0 and config["vocab_size"] > tok_size > 900
    rope = LlamaConfig(**config).rope_parameters
    assert rope["rope_theta"] == 500000.0


def test_tensor_names_shapes_and_init_match_llama(tiny_ckpt: Path, sharp_ckpt: Path) -> None:
    config = json.loads((tiny_ckpt / "config.json").read_text())
    config.pop("auto_map")
    with torch.device("meta"):
        reference = LlamaForCausalLM(LlamaConfig(**config)).state_dict()
    tensors = load_file(str(tiny_ckpt / "model.safetensors"))
    assert {k: tuple(v.shape) for k, v in tensors.items()} == {
        k: tuple(v.shape) for k, v in reference.items()
    }
    assert all(t.dtype == torch.bfloat16 for t in tensors.values())
    assert torch.equal(tensors["model.norm.weight"], torch.ones(64, dtype=torch.bfloat16))
    assert abs(tensors["model.layers.0.mlp.up_proj.weight"].float().std().item() - 0.02) < 0.002
    sharp = load_file(str(sharp_ckpt / "model.safetensors"))
    torch.testing.assert_close(
        sharp["lm_head.weight"].float(), tensors["lm_head.weight"].float() * 30, rtol=1e-2, atol=0
    )
    assert torch.equal(sharp["model.embed_tokens.weight"], tensors["model.embed_tokens.weight"])


def test_same_arguments_give_identical_bytes(tmp_path: Path, tiny_ckpt: Path) -> None:
    again = make_tiny_checkpoint(tmp_path / "again", seed=0)
    assert _files(again) == _files(tiny_ckpt)


def test_different_seed_changes_only_weights(tmp_path: Path, tiny_ckpt: Path) -> None:
    other = _files(make_tiny_checkpoint(tmp_path / "other", seed=1))
    base = _files(tiny_ckpt)
    assert other["model.safetensors"] != base["model.safetensors"]
    assert {k: v for k, v in other.items() if k != "model.safetensors"} == {
        k: v for k, v in base.items() if k != "model.safetensors"
    }


def test_sharded_index_covers_every_tensor(tmp_path: Path, tiny_ckpt: Path) -> None:
    sharded = make_tiny_checkpoint(tmp_path / "sharded", shards=3)
    index = json.loads((sharded / "model.safetensors.index.json").read_text())
    assert not (sharded / "model.safetensors").exists()
    merged: dict[str, torch.Tensor] = {}
    for name in sorted(set(index["weight_map"].values())):
        merged |= load_file(str(sharded / name))
    assert len(set(index["weight_map"].values())) == 3
    single = load_file(str(tiny_ckpt / "model.safetensors"))
    assert set(index["weight_map"]) == set(single) == set(merged)
    assert all(torch.equal(merged[k], single[k]) for k in single)
    assert index["metadata"]["total_size"] == sum(t.numel() * 2 for t in single.values())


def test_small_tokenizer_has_every_special_at_its_real_id(tiny_ckpt: Path) -> None:
    tok = _tokenizer(tiny_ckpt)
    specials = special_token_strings()
    assert len(specials) == 128
    assert {i: tok.convert_ids_to_tokens(i) for i in range(128)} == dict(enumerate(specials))
    assert specials[0] == "<[begin\u2581of\u2581sentence]>"
    assert specials[1] == "<[PAD\u2581TOKEN]>"
    assert specials[2] == "<[end\u2581of\u2581sentence]>"
    assert specials[5] == "<[MASK_TOKEN]>"
    assert specials[6] == "<[SEP\u2581TOKEN]>"
    assert specials[124:127] == ["<[fim-prefix]>", "<[fim-suffix]>", "<[fim-middle]>"]
    assert specials[77] == "<[PLHD77_never_used_51bce0c785ca2f68081bfa7d91973934]>"
    assert (tok.bos_token_id, tok.pad_token_id, tok.eos_token_id, tok.mask_token_id) == (0, 1, 2, 5)
    assert all(tok.added_tokens_decoder[i].special for i in range(128))


def test_small_tokenizer_encodes_without_bos_eos_and_round_trips(tiny_ckpt: Path) -> None:
    tok = _tokenizer(tiny_ckpt)
    raw = Tokenizer.from_file(str(tiny_ckpt / "tokenizer.json"))
    for text in PYTHON_SAMPLES:
        ids = tok.encode(text)
        assert ids == raw.encode(text).ids
        assert not set(ids) & set(range(128))
        assert tok.decode(ids) == text
    # Merges learnt from Python text: indentation and keywords are single tokens.
    pieces = [tok.decode([i]) for i in tok.encode("        return self.value")]
    assert pieces[:3] == ["       ", " return", " self"]
    assert tok.encode("<[MASK_TOKEN]><[fim-middle]>") == [5, 126]


def test_chat_template_renders_family_format(tiny_ckpt: Path) -> None:
    tok = _tokenizer(tiny_ckpt)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    bos, eos = tok.bos_token, tok.eos_token
    assert text == f"{bos}system\nBe brief.{eos}{bos}user\nHi{eos}{bos}assistant\n"
    plain = tok.apply_chat_template(messages, tokenize=False)
    assert plain == f"{bos}system\nBe brief.{eos}{bos}user\nHi{eos}"
    ids = tok.encode(text, add_special_tokens=False)
    assert ids.count(0) == 3 and ids.count(2) == 2


def test_tokenizer_config_declares_the_real_fields(tiny_ckpt: Path) -> None:
    cfg = json.loads((tiny_ckpt / "tokenizer_config.json").read_text())
    assert cfg["tokenizer_class"] == "PreTrainedTokenizerFast"
    assert cfg["add_bos_token"] is False and cfg["add_eos_token"] is False
    assert cfg["model_max_length"] == 8192 and cfg["mask_token"] == "<[MASK_TOKEN]>"
    special_map = json.loads((tiny_ckpt / "special_tokens_map.json").read_text())
    assert special_map["eos_token"] == cfg["eos_token"] == "<[end\u2581of\u2581sentence]>"


def test_small_tokenizer_pipeline_matches_real(tiny_ckpt: Path, real_tokenizer_json: Path) -> None:
    real = json.loads(real_tokenizer_json.read_text(encoding="utf-8"))
    small = json.loads((tiny_ckpt / "tokenizer.json").read_text(encoding="utf-8"))
    for key in ("normalizer", "pre_tokenizer", "post_processor", "decoder", "added_tokens"):
        assert small[key] == real[key], key
    real_model = {k: v for k, v in real["model"].items() if k not in ("vocab", "merges")}
    assert {k: v for k, v in small["model"].items() if k not in ("vocab", "merges")} == real_model
    # The byte alphabet follows the specials in the same order as the real vocabulary.
    small_inv = {i: t for t, i in small["model"]["vocab"].items()}
    real_inv = {i: t for t, i in real["model"]["vocab"].items()}
    assert [small_inv[i] for i in range(128, 140)] == [real_inv[i] for i in range(128, 140)]


def test_real_vocab_copies_the_tokenizer(tmp_path: Path, real_tokenizer_json: Path) -> None:
    ckpt = make_tiny_checkpoint(tmp_path / "real", vocab="real", real_tokenizer=real_tokenizer_json)
    assert (ckpt / "tokenizer.json").read_bytes() == real_tokenizer_json.read_bytes()
    config = json.loads((ckpt / "config.json").read_text())
    assert config["vocab_size"] == 155136
    tok = _tokenizer(ckpt)
    assert len(tok) == 155121
    raw = Tokenizer.from_file(str(real_tokenizer_json))
    assert tok.mask_token_id == 5
    assert tok.encode(PYTHON_SAMPLES[0]) == raw.encode(PYTHON_SAMPLES[0]).ids


def test_bad_arguments_raise(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="vocab must be"):
        make_tiny_checkpoint(tmp_path / "a", vocab="huge")
    with pytest.raises(ValueError, match="kv_heads"):
        make_tiny_checkpoint(tmp_path / "b", heads=4, kv_heads=3)
    with pytest.raises(FileNotFoundError, match="real_tokenizer"):
        make_tiny_checkpoint(tmp_path / "c", vocab="real", real_tokenizer=tmp_path / "nope.json")
