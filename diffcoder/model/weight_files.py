"""The weight files of a checkpoint, checked before transformers reads them.

A safetensors file is an 8-byte header length, a JSON header (each tensor's dtype, shape and byte
range) and the tensor data; reading the header costs kilobytes, not gigabytes. From the headers
alone this module finds a truncated or damaged download, a shard that the index names but that is
missing, and weights that do not fit config.json: missing or unexpected tensors, another layer
count, other sizes, integer dtypes. Each problem is one `ModelLoadError` that names the file and
the fix.
"""

from __future__ import annotations

import json
import math
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diffcoder.model.types import ModelLoadError

SINGLE = "model.safetensors"
INDEX = "model.safetensors.index.json"
_MAX_HEADER = 100_000_000  # the safetensors format's own limit
_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2}
_BYTES |= {"BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}
_LAYER = re.compile(r"model\.layers\.(\d+)\.")
# Buffers that older Llama checkpoints carry and transformers recomputes.
_IGNORED = re.compile(r".*\.rotary_emb\.inv_freq$")
_SAME_CONFIG = "use the config.json that came with these weights, or re-download the checkpoint"


@dataclass(frozen=True)
class Tensor:
    file: str
    dtype: str
    shape: tuple[int, ...]


def lfs_pointer(file: Path, head: bytes) -> ModelLoadError | None:
    """The error for a Git LFS pointer in place of the file (a clone without git-lfs), if so."""
    if not head.startswith(b"version https://git-lfs"):
        return None
    return ModelLoadError(
        f"{file} is a Git LFS pointer, not the file itself (the repository was cloned without "
        f"git-lfs); run `git lfs install && git lfs pull` in {file.parent}, or download the "
        "checkpoint with `huggingface-cli download`"
    )


def human_bytes(n: int) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def read_header(file: Path) -> dict[str, Tensor]:
    """The tensors one safetensors file describes; its size must match what the header promises."""
    name, fix = file.name, f"re-download {file.name}"
    try:
        size = file.stat().st_size
        with file.open("rb") as handle:
            head = handle.read(64)  # enough to tell a Git LFS pointer
            length = struct.unpack("<Q", head[:8])[0] if len(head) >= 8 else None
            handle.seek(8)
            raw = handle.read(length) if length is not None and length <= _MAX_HEADER else b""
    except OSError as exc:
        raise ModelLoadError(f"cannot read {file} ({exc.strerror}); check its permissions") from exc
    if size == 0:
        raise ModelLoadError(f"{file} is empty (0 bytes; an interrupted download?); {fix}")
    if (pointer := lfs_pointer(file, head)) is not None:
        raise pointer
    if length is None:
        raise ModelLoadError(f"{file} is truncated ({size} bytes; an interrupted download?); {fix}")
    if length > _MAX_HEADER:
        raise ModelLoadError(f"{file} is not a safetensors file (damaged at its start); {fix}")
    if len(raw) < length:
        raise ModelLoadError(
            f"{file} is truncated: it ends inside its {human_bytes(length)} header "
            f"({human_bytes(size)} in all; an interrupted download?); {fix}"
        )
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        header = None
    if not isinstance(header, dict):
        raise ModelLoadError(f"{file} is damaged: its header is not a JSON object; {fix}")
    tensors: dict[str, Tensor] = {}
    data_bytes = 0
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        tensor, begin, end = _entry(entry)
        if tensor is None:
            raise ModelLoadError(f"{file} is damaged: the header entry of {key} is invalid; {fix}")
        tensors[key] = Tensor(name, tensor[0], tensor[1])
        width = _BYTES.get(tensor[0])
        if width is not None and end - begin != width * math.prod(tensor[1]):
            raise ModelLoadError(
                f"{file} is damaged: {key}'s byte range does not fit its shape; {fix}"
            )
        data_bytes = max(data_bytes, end)
    expected = 8 + length + data_bytes
    if size < expected:
        raise ModelLoadError(
            f"{file} is truncated: it holds {human_bytes(size)} of the {human_bytes(expected)} its "
            f"header describes (an interrupted download?); {fix}"
        )
    if size > expected:
        raise ModelLoadError(
            f"{file} is damaged: {size - expected} bytes follow the {human_bytes(expected)} its "
            f"header describes; {fix}"
        )
    return tensors


def _entry(entry: Any) -> tuple[tuple[str, tuple[int, ...]] | None, int, int]:
    """(dtype, shape) and the byte range of one header entry; None when malformed."""
    if not isinstance(entry, dict):
        return None, 0, 0
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    ints = isinstance(shape, list) and isinstance(offsets, list) and len(offsets) == 2
    ints = ints and all(isinstance(v, int) and v >= 0 for v in [*shape, *offsets])
    if not isinstance(dtype, str) or not ints or offsets[0] > offsets[1]:
        return None, 0, 0
    return (dtype, tuple(shape)), offsets[0], offsets[1]


def read_weights(path: Path) -> tuple[dict[str, Tensor], str]:
    """Every tensor of the checkpoint (from model.safetensors, else the index's shards), and how
    to name the weight files in messages."""
    if (path / SINGLE).is_file():
        return read_header(path / SINGLE), str(path / SINGLE)
    index_file = path / INDEX
    try:
        text = index_file.read_bytes()
    except OSError as exc:
        raise ModelLoadError(
            f"cannot read {index_file} ({exc.strerror}); check its permissions"
        ) from exc
    if (pointer := lfs_pointer(index_file, text)) is not None:
        raise pointer
    try:
        index = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(
            f"{index_file} is not valid JSON (empty, truncated or damaged); re-download {INDEX}"
        ) from exc
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    valid = isinstance(weight_map, dict) and weight_map
    if not valid or not all(isinstance(v, str) and v for v in weight_map.values()):
        raise ModelLoadError(f"{index_file} has no valid weight_map; re-download {INDEX}")
    shards = sorted(set(weight_map.values()))
    missing = [s for s in shards if Path(s).name != s or not (path / s).is_file()]
    if missing:
        raise ModelLoadError(
            f"{INDEX} in {path} names {_listed(missing)}, missing from that directory "
            f"({len(shards)} shards in all); download {_them(missing)} into {path}"
        )
    tensors: dict[str, Tensor] = {}
    for shard in shards:
        tensors |= read_header(path / shard)
    for key, shard in weight_map.items():
        held = tensors.get(key)
        if held is None or held.file != shard:
            raise ModelLoadError(
                f"{INDEX} in {path} says {key} is in {shard}, which does not hold it; "
                f"re-download {shard} and {INDEX}"
            )
    return tensors, f"the shards that {index_file} lists"


def projection_shapes(config: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """[out, in] of each decoder layer's linear projections, by name within the layer."""
    hidden, heads = config["hidden_size"], config["num_attention_heads"]
    kv = config.get("num_key_value_heads") or heads
    head_dim = config.get("head_dim") or hidden // heads
    inter = config["intermediate_size"]
    return {
        "self_attn.q_proj": (heads * head_dim, hidden),
        "self_attn.k_proj": (kv * head_dim, hidden),
        "self_attn.v_proj": (kv * head_dim, hidden),
        "self_attn.o_proj": (hidden, heads * head_dim),
        "mlp.gate_proj": (inter, hidden),
        "mlp.up_proj": (inter, hidden),
        "mlp.down_proj": (hidden, inter),
    }


def expected_tensors(config: dict[str, Any]) -> tuple[dict[str, tuple[int, ...]], set[str]]:
    """Shapes of the tensors a Llama model with `config` loads, and those it may lack (lm_head
    when the embeddings are tied)."""
    hidden, vocab = config["hidden_size"], config["vocab_size"]
    linears = projection_shapes(config)
    shapes: dict[str, tuple[int, ...]] = {"model.embed_tokens.weight": (vocab, hidden)}
    for i in range(config["num_hidden_layers"]):
        prefix = f"model.layers.{i}."
        for name, shape in linears.items():
            shapes[f"{prefix}{name}.weight"] = shape
            if config.get("attention_bias" if "attn" in name else "mlp_bias"):
                shapes[f"{prefix}{name}.bias"] = shape[:1]
        shapes[f"{prefix}input_layernorm.weight"] = (hidden,)
        shapes[f"{prefix}post_attention_layernorm.weight"] = (hidden,)
    shapes["model.norm.weight"] = (hidden,)
    shapes["lm_head.weight"] = (vocab, hidden)
    optional = {"lm_head.weight"} if config.get("tie_word_embeddings") else set()
    return shapes, optional


def check_weights(path: Path, config: dict[str, Any]) -> None:
    """The weight files are whole and hold exactly the tensors config.json describes."""
    found, files = read_weights(path)
    if "quantization_config" in config:
        return  # pre-quantized tensors have other names and shapes; transformers checks them
    expected, optional = expected_tensors(config)
    names = set(found) - {n for n in found if _IGNORED.match(n)}
    if not names & set(expected):
        sample = ", ".join(sorted(names)[:3]) or "no tensors"
        raise ModelLoadError(
            f"{_holds(files)} none of the tensors a Llama model has (found {sample}): "
            "these are another architecture's weights; download the weights that belong to "
            "this config.json"
        )
    layers = {int(m.group(1)) for n in names if (m := _LAYER.match(n))}
    if layers and layers == set(range(max(layers) + 1)) != set(range(config["num_hidden_layers"])):
        raise ModelLoadError(
            f"config.json says num_hidden_layers {config['num_hidden_layers']} but "
            f"{_holds(files)} {len(layers)} layers; {_SAME_CONFIG}"
        )
    missing = sorted(set(expected) - names - optional, key=_natural)
    if missing:
        lack = "lacks" if _single(files) else "lack"
        raise ModelLoadError(
            f"{files} {lack} {len(missing)} tensor(s) that config.json needs "
            f"({_listed(missing)}): the download is incomplete; re-download {_weights(files)}"
        )
    unexpected = sorted(names - set(expected), key=_natural)
    if unexpected:
        raise ModelLoadError(
            f"{_holds(files)} {len(unexpected)} tensor(s) that a Llama model with this "
            f"config.json does not have ({_listed(unexpected)}); {_SAME_CONFIG}"
        )
    _check_shapes(found, expected, config, files, path)
    integers = sorted(
        (n for n in names if not found[n].dtype.startswith(("F", "BF"))), key=_natural
    )
    if integers:
        tensor = found[integers[0]]
        raise ModelLoadError(
            f"{tensor.file} in {path} stores {_listed(integers)} as {tensor.dtype}, not floating "
            f"point: the file is damaged or quantized by another tool; re-download {tensor.file}"
        )


def _check_shapes(found, expected, config, files, path: Path) -> None:
    wrong = sorted(
        (n for n in expected if n in found and found[n].shape != expected[n]), key=_natural
    )
    if not wrong:
        return

    def shape_of(name: str) -> tuple[int, ...]:
        shape = found[name].shape if name in found else ()
        return shape if len(shape) == len(expected[name]) else expected[name]

    hidden, vocab = config["hidden_size"], config["vocab_size"]
    embed = shape_of("model.embed_tokens.weight")
    q = shape_of("model.layers.0.self_attn.q_proj.weight")
    k = shape_of("model.layers.0.self_attn.k_proj.weight")
    gate = shape_of("model.layers.0.mlp.gate_proj.weight")
    head_dim = config.get("head_dim") or hidden // config["num_attention_heads"]
    kv = config.get("num_key_value_heads") or config["num_attention_heads"]
    checks = [
        (embed[-1], hidden, f"hidden_size {hidden}", f"{embed[-1]}-wide tensors"),
        (embed[0], vocab, f"vocab_size {vocab}", f"an embedding matrix of {embed[0]} rows"),
        (gate[0], config["intermediate_size"], f"intermediate_size {config['intermediate_size']}",
         f"MLP projections of {gate[0]} rows"),
        (q[0], config["num_attention_heads"] * head_dim,
         f"num_attention_heads {config['num_attention_heads']} x head_dim {head_dim}",
         f"query projections of {q[0]} rows"),
        (k[0], kv * head_dim, f"num_key_value_heads {kv} x head_dim {head_dim}",
         f"key projections of {k[0]} rows"),
    ]  # fmt: skip
    for held, said, config_words, weight_words in checks:
        if held != said:
            raise ModelLoadError(
                f"config.json says {config_words} but {_holds(files)} {weight_words}; "
                f"{_SAME_CONFIG}"
            )
    name = wrong[0]
    raise ModelLoadError(
        f"{name} in {path / found[name].file} is {list(found[name].shape)} but config.json implies "
        f"{list(expected[name])}; {_SAME_CONFIG}"
    )


def _natural(name: str) -> tuple[Any, ...]:
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


def _listed(names: list[str], shown: int = 3) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _them(names: list[str]) -> str:
    return "it" if len(names) == 1 else "them"


def _single(files: str) -> bool:
    return files.endswith(SINGLE)


def _holds(files: str) -> str:
    return f"{files} {'holds' if _single(files) else 'hold'}"


def _weights(files: str) -> str:
    return SINGLE if _single(files) else f"{INDEX} and its shards"
