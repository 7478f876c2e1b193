"""Random-weight checkpoints laid out exactly like a real Stable-DiffCoder directory.

Tests and demos use them in place of the 16 GB model: same config keys, tensor names, special tokens
and chat format, at a size that loads in milliseconds on a CPU.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path

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

from diffcoder.testing.shared_data import default_real_tokenizer

_SMALL_TOKENIZER_TARGET = 1000
_ROW_MULTIPLE = 64
_SALT = "never_used_51bce0c785ca2f68081bfa7d91973934"

# The real pre-tokenizer regex, byte for byte (it holds literal CR and LF characters).
_SPLIT_REGEX = (
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\r\n]+"
    "|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"
)

BOS, PAD, EOS, MASK = (
    "<[begin\u2581of\u2581sentence]>",
    "<[PAD\u2581TOKEN]>",
    "<[end\u2581of\u2581sentence]>",
    "<[MASK_TOKEN]>",
)

CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{ bos_token + message['role'] + '\\n' + message['content'] + eos_token }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ bos_token + 'assistant\\n' }}{%- endif -%}"
)

# Training text for the small BPE: enough Python-shaped material that keywords, indentation runs
# and operators become single tokens, so token counts resemble the real tokenizer's.
_CORPUS = '''import os, sys, asyncio
from pathlib import Path
from collections import OrderedDict
from dataclasses import dataclass, field


@dataclass
class Account:
    """A bank account with an owner and a running balance."""

    owner: str
    balance: float = 0.0
    history: list[float] = field(default_factory=list)

    def deposit(self, amount: float) -> None:
        if amount <= 0:
            raise ValueError("deposit must be positive")
        self.balance += amount
        self.history.append(amount)

    def withdraw(self, amount: float) -> bool:
        if amount > self.balance:
            return False
        self.balance -= amount
        return True


def count_words(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for word in text.split():
        word = word.lower().strip(".,;:!?")
        if not word:
            continue
        counts[word] = counts.get(word, 0) + 1
    return counts


def fibonacci(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def merge_sorted(left: list[int], right: list[int]) -> list[int]:
    result, i, j = [], 0, 0
    while i < len(left) and j < len(right):
        smaller = left[i] <= right[j]
        result.append(left[i] if smaller else right[j])
        i, j = (i + 1, j) if smaller else (i, j + 1)
    return result + left[i:] + right[j:]


async def fetch_all(client, urls: list[str], limit: int = 8) -> list[bytes]:
    semaphore = asyncio.Semaphore(limit)

    async def fetch_one(url: str) -> bytes:
        async with semaphore:
            response = await client.get(url, timeout=30)
            response.raise_for_status()
            return response.content

    return await asyncio.gather(*(fetch_one(url) for url in urls))


class LRUCache:
    def __init__(self, capacity: int = 128) -> None:
        self.capacity = capacity
        self.data: OrderedDict[str, object] = OrderedDict()

    def get(self, key: str, default=None):
        try:
            self.data.move_to_end(key)
        except KeyError:
            return default
        return self.data[key]


def main(argv: list[str] | None = None) -> int:
    path = Path((sys.argv[1:] if argv is None else argv)[0])
    with open(path, encoding="utf-8") as handle:
        total = sum(len(line.rstrip("\\n")) for line in handle)
    print(f"{path.name}: {total} characters, {os.path.getsize(path)} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
'''
_FIELDS = (
    "name:str size:int price:float tags:list[str] owner:str items:list[int] config:dict url:str"
)


def _corpus() -> list[str]:
    """Hand-written text plus generated properties and tests, one training chunk per definition."""
    chunks = _CORPUS.split("\n\n\n")
    for number, spec in enumerate(_FIELDS.split()):
        name, kind = spec.split(":")
        chunks.append(
            f"    @property\n    def {name}(self) -> {kind}:\n        return self._{name}\n\n"
            f"    @{name}.setter\n    def {name}(self, value: {kind}) -> None:\n"
            f"        if not isinstance(value, {kind.split('[')[0]}):\n"
            f'            raise TypeError(f"{name} must be {kind}, got {{type(value).__name__}}")\n'
            f"        self._{name} = value\n"
        )
        chunks.append(
            f"def test_{name}_round_trip(tmp_path):\n    record = Record()\n"
            f"    record.{name} = SAMPLES[{number}]\n"
            f"    assert record.{name} == SAMPLES[{number}]\n"
            f"    with pytest.raises(TypeError):\n        record.{name} = object()\n"
        )
    return chunks


def special_token_strings() -> list[str]:
    """The 128 added tokens of the real tokenizer, in id order."""
    named = {0: BOS, 1: PAD, 2: EOS, 3: f"<[UNK_{_SALT}]>", 4: f"<[CLS_{_SALT}]>", 5: MASK}
    named |= {6: "<[SEP\u2581TOKEN]>", 124: "<[fim-prefix]>", 125: "<[fim-suffix]>"}
    named |= {126: "<[fim-middle]>"}
    return [named.get(i, f"<[PLHD{i}_{_SALT}]>") for i in range(128)]


def build_small_tokenizer_json() -> str:
    """Train the small byte-level BPE; the returned JSON text is identical on every call."""
    return train_tokenizer_json(_corpus(), _SMALL_TOKENIZER_TARGET)


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
    split = pre_tokenizers.Split(Regex(_SPLIT_REGEX), behavior="isolated", invert=False)
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
    # Strictly above the tokenizer so a tiny checkpoint always has padding rows like the real one.
    return (n // _ROW_MULTIPLE + 1) * _ROW_MULTIPLE


def checkpoint_config(
    vocab_size: int, hidden: int, layers: int, heads: int, kv_heads: int, intermediate: int
) -> dict:
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


def _weights(config: dict, seed: int, head_scale: float) -> dict[str, torch.Tensor]:
    hidden, inter = config["hidden_size"], config["intermediate_size"]
    head_dim, vocab = config["head_dim"], config["vocab_size"]
    q_out = config["num_attention_heads"] * head_dim
    kv_out = config["num_key_value_heads"] * head_dim
    shapes: list[tuple[str, tuple[int, ...]]] = [("model.embed_tokens.weight", (vocab, hidden))]
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        shapes += [
            (p + "self_attn.q_proj.weight", (q_out, hidden)),
            (p + "self_attn.k_proj.weight", (kv_out, hidden)),
            (p + "self_attn.v_proj.weight", (kv_out, hidden)),
            (p + "self_attn.o_proj.weight", (hidden, q_out)),
            (p + "mlp.gate_proj.weight", (inter, hidden)),
            (p + "mlp.up_proj.weight", (inter, hidden)),
            (p + "mlp.down_proj.weight", (hidden, inter)),
            (p + "input_layernorm.weight", (hidden,)),
            (p + "post_attention_layernorm.weight", (hidden,)),
        ]
    shapes += [("model.norm.weight", (hidden,)), ("lm_head.weight", (vocab, hidden))]

    gen = torch.Generator().manual_seed(seed)
    tensors: dict[str, torch.Tensor] = {}
    for name, shape in shapes:
        if name.endswith("norm.weight"):
            t = torch.ones(shape)
        else:
            t = torch.randn(shape, generator=gen) * config["initializer_range"]
        if name == "lm_head.weight":
            t = t * head_scale
        tensors[name] = t.to(torch.bfloat16).contiguous()
    return tensors


def _write_weights(out: Path, tensors: dict[str, torch.Tensor], shards: int) -> None:
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


def write_json(path: Path, data: dict) -> None:
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


def make_tiny_checkpoint(
    out: str | Path,
    *,
    vocab: str = "small",
    hidden: int = 64,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int = 2,
    intermediate: int | None = None,
    seed: int = 0,
    head_scale: float = 1.0,
    real_tokenizer: str | Path | None = None,
    shards: int = 1,
) -> Path:
    """Write a random-weight Stable-DiffCoder-shaped checkpoint into `out` and return its path.

    `vocab="small"` trains a ~1000-entry BPE with the real special tokens at their real ids;
    `vocab="real"` copies the real tokenizer.json. `head_scale` sharpens the output distribution
    (a confident model); `shards > 1` writes an HF-style sharded safetensors index.
    """
    if vocab not in ("small", "real"):
        raise ValueError(f"vocab must be 'small' or 'real', not {vocab!r}")
    if hidden % heads or heads % kv_heads:
        raise ValueError(
            f"hidden ({hidden}) must divide by heads ({heads}) and heads by kv_heads ({kv_heads})"
        )
    if shards < 1:
        raise ValueError(f"shards must be >= 1, not {shards}")
    if vocab == "real":
        src = Path(real_tokenizer) if real_tokenizer is not None else default_real_tokenizer()
        if not src.is_file():
            raise FileNotFoundError(
                f"real tokenizer not found at {src}; pass real_tokenizer=PATH/tokenizer.json or "
                "set DIFFCODER_SHARED_DIR to the shared directory"
            )
        tokenizer_json = src.read_bytes()
    else:
        tokenizer_json = build_small_tokenizer_json().encode("utf-8")
    vocab_size = padded_rows(tokenizer_size(tokenizer_json))
    if intermediate is None:
        # Llama-3-like MLP ratio (14336 / 4096 = 3.5 upstream); 2.75x keeps tiny models tinier.
        intermediate = max(8, round(hidden * 2.75 / 8) * 8)

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    config = checkpoint_config(vocab_size, hidden, layers, heads, kv_heads, intermediate)
    write_json(out / "config.json", config)
    _write_weights(out, _weights(config, seed, head_scale), shards)
    write_tokenizer_files(out, tokenizer_json)
    return out
