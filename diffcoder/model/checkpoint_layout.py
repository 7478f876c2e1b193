"""The real Stable-DiffCoder checkpoint layout: special token strings at their real ids, the chat
template, the tokenizer pipeline, config.json keys and the (optionally sharded) weight files.

`diffcoder train` writes its checkpoints with it; the random test checkpoints copy it too.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from tokenizers import (
    AddedToken,
    Regex,
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)

ROW_MULTIPLE = 64
_SALT = "never_used_51bce0c785ca2f68081bfa7d91973934"

# The real pre-tokenizer regex, byte for byte (it holds literal CR and LF characters).
SPLIT_REGEX = (
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\r\n]+"
    "|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"
)

BOS, PAD, EOS, MASK = (
    "<[begin\u2581of\u2581sentence]>",
    "<[PAD\u2581TOKEN]>",
    "<[end\u2581of\u2581sentence]>",
    "<[MASK_TOKEN]>",
)
FIM_TEXTS = {f"fim_{part}": f"<[fim-{part}]>" for part in ("prefix", "suffix", "middle")}

CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{ bos_token + message['role'] + '\\n' + message['content'] + eos_token }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ bos_token + 'assistant\\n' }}{%- endif -%}"
)


def special_token_strings() -> list[str]:
    """The 128 added tokens of the real tokenizer, in id order."""
    named = {0: BOS, 1: PAD, 2: EOS, 3: f"<[UNK_{_SALT}]>", 4: f"<[CLS_{_SALT}]>", 5: MASK}
    named |= {6: "<[SEP\u2581TOKEN]>", 124: FIM_TEXTS["fim_prefix"]}
    named |= {125: FIM_TEXTS["fim_suffix"], 126: FIM_TEXTS["fim_middle"]}
    return [named.get(i, f"<[PLHD{i}_{_SALT}]>") for i in range(128)]


def train_tokenizer_json(texts: Iterable[str], vocab_size: int) -> str:
    """A byte-level BPE over `texts` with the real pre-tokenizer, decoder and the 128 special
    tokens at their real ids (so BOS 0, PAD 1, EOS 2, MASK 5 and FIM 124-126 hold)."""
    specials = [
        AddedToken(s, single_word=False, lstrip=False, rstrip=False, normalized=False, special=True)
        for s in special_token_strings()
    ]
    tok = Tokenizer(models.BPE(fuse_unk=False, byte_fallback=False))
    # The same normalizer, splitting, post-processor and decoder as the real tokenizer.json.
    tok.normalizer = normalizers.NFC()
    split = pre_tokenizers.Split(Regex(SPLIT_REGEX), behavior="isolated", invert=False)
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.pre_tokenizer = pre_tokenizers.Sequence([split, byte_level])
    tok.post_processor = processors.ByteLevel(
        add_prefix_space=True, trim_offsets=False, use_regex=True
    )
    tok.decoder = decoders.ByteLevel(add_prefix_space=True, trim_offsets=True, use_regex=True)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=1,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok.to_str(pretty=True)


def tokenizer_size(tokenizer_json: str | bytes) -> int:
    data = json.loads(tokenizer_json)
    ids = list(data["model"]["vocab"].values()) + [t["id"] for t in data["added_tokens"]]
    return max(ids) + 1


def padded_rows(n: int) -> int:
    # Strictly above the tokenizer so a small checkpoint always has padding rows like the real one.
    return (n // ROW_MULTIPLE + 1) * ROW_MULTIPLE


def default_intermediate(hidden: int) -> int:
    # Llama-3-like MLP ratio (14336 / 4096 = 3.5 upstream); 2.75x keeps small models smaller.
    return max(8, round(hidden * 2.75 / 8) * 8)


def checkpoint_config(
    vocab_size: int, hidden: int, layers: int, heads: int, kv_heads: int, intermediate: int
) -> dict[str, Any]:
    rope_theta = 500000.0
    return {
        "architectures": ["StableDiffcoderForCausalLM"],
        # Names the real repo's Python file, deliberately not written: loaders must not need it.
        "auto_map": {
            "AutoConfig": "modeling_stable_diffcoder.StableDiffcoderConfig",
            "AutoModelForCausalLM": "modeling_stable_diffcoder.StableDiffcoderForCausalLM",
        },
        "model_type": "llama",
        "hidden_size": hidden,
        "intermediate_size": intermediate,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "head_dim": hidden // heads,
        "vocab_size": vocab_size,
        "max_position_embeddings": 8192,
        "rope_theta": rope_theta,
        # transformers 5 reads RoPE settings from here; older readers use the top-level key.
        "rope_parameters": {"rope_theta": rope_theta, "rope_type": "default"},
        "rope_scaling": None,
        "rms_norm_eps": 1e-6,
        "tie_word_embeddings": False,
        "hidden_act": "silu",
        "attention_bias": False,
        "attention_dropout": 0.0,
        "mlp_bias": False,
        "initializer_range": 0.02,
        "bos_token_id": 0,
        "eos_token_id": 2,
        "pad_token_id": 1,
        "torch_dtype": "bfloat16",
        "dtype": "bfloat16",
        "use_cache": True,
    }


def write_weights(out: Path, tensors: dict[str, torch.Tensor], shards: int = 1) -> None:
    """model.safetensors, or `shards` files plus the HF-style model.safetensors.index.json."""
    if shards == 1:
        save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
        return
    names = list(tensors)
    per_shard = math.ceil(len(names) / shards)
    weight_map: dict[str, str] = {}
    for k in range(shards):
        fname = f"model-{k + 1:05d}-of-{shards:05d}.safetensors"
        chunk = {n: tensors[n] for n in names[k * per_shard : (k + 1) * per_shard]}
        save_file(chunk, str(out / fname), metadata={"format": "pt"})
        weight_map |= dict.fromkeys(chunk, fname)
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    write_json(out / "model.safetensors.index.json", index)


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def write_tokenizer_files(out: Path, tokenizer_json: bytes) -> None:
    (out / "tokenizer.json").write_bytes(tokenizer_json)
    # transformers' own tokenizer_config.json mirrors the added tokens, keyed by id.
    added_tokens = json.loads(tokenizer_json)["added_tokens"]
    added = {str(t["id"]): {k: v for k, v in t.items() if k != "id"} for t in added_tokens}
    write_json(
        out / "tokenizer_config.json",
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "add_bos_token": False,
            "add_eos_token": False,
            "added_tokens_decoder": added,
            "bos_token": BOS,
            "eos_token": EOS,
            "pad_token": PAD,
            "mask_token": MASK,
            "chat_template": CHAT_TEMPLATE,
            "clean_up_tokenization_spaces": False,
            "model_max_length": 8192,
        },
    )
    write_json(
        out / "special_tokens_map.json",
        {"bos_token": BOS, "eos_token": EOS, "pad_token": PAD, "mask_token": MASK},
    )
