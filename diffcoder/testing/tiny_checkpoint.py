"""Random-weight checkpoints laid out exactly like a real Stable-DiffCoder directory.

Tests and demos use them in place of the 16 GB model: the real layout (`checkpoint_layout`) with
random weights and a small BPE trained on a hand-written corpus, loading in milliseconds on a CPU.
"""

from __future__ import annotations

from pathlib import Path

import torch

from diffcoder.model import checkpoint_layout as layout
from diffcoder.testing.shared_data import default_real_tokenizer

_SMALL_TOKENIZER_TARGET = 1000

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


def build_small_tokenizer_json() -> str:
    """Train the small byte-level BPE; the returned JSON text is identical on every call."""
    return layout.train_tokenizer_json(_corpus(), _SMALL_TOKENIZER_TARGET)


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
    vocab_size = layout.padded_rows(layout.tokenizer_size(tokenizer_json))
    if intermediate is None:
        intermediate = layout.default_intermediate(hidden)

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    config = layout.checkpoint_config(vocab_size, hidden, layers, heads, kv_heads, intermediate)
    layout.write_json(out / "config.json", config)
    layout.write_weights(out, _weights(config, seed, head_scale), shards)
    layout.write_tokenizer_files(out, tokenizer_json)
    return out
