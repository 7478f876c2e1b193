"""Ways a checkpoint directory breaks in practice, each applied to a copy of a good one, with what
the one `ModelLoadError` must say: the file, and the fix.

Shared by the loader tests (in process), the CLI tests (subprocess) and the server tests.
"""

from __future__ import annotations

import json
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

SINGLE = "model.safetensors"
SHARD_1 = "model-00001-of-00002.safetensors"
SHARD_2 = "model-00002-of-00002.safetensors"
INDEX = "model.safetensors.index.json"
O_PROJ_1 = "model.layers.1.self_attn.o_proj.weight"
# Text that only a library (or a traceback) would put in a message.
LIBRARY_TEXT = (
    "Traceback",
    "SafetensorError",
    "safetensors_rust",
    "deserializing",
    "ignore_mismatched_sizes",
    "LOAD REPORT",
    "StrictDataclass",
    "JSONDecodeError",
    "Expecting value",
    "EOF while parsing",
    "AssertionError",
    "KeyError",
)


def copy_checkpoint(src: Path, dest: Path) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    return Path(shutil.copytree(src, dest))


def truncate(file: Path, keep: float | int) -> None:
    data = file.read_bytes()
    file.write_bytes(data[: keep if isinstance(keep, int) else int(len(data) * keep)])


def edit_json(file: Path, **changes: object) -> None:
    data = json.loads(file.read_text(encoding="utf-8"))
    data.update(changes)
    file.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def edit_tensors(file: Path, change: Callable[[dict[str, torch.Tensor]], dict]) -> None:
    save_file(change(load_file(file)), str(file), metadata={"format": "pt"})


def _header_length(file: Path) -> int:
    return struct.unpack("<Q", file.read_bytes()[:8])[0]


def _garble_header(file: Path) -> None:
    data = bytearray(file.read_bytes())
    data[8:20] = b"\x00garbage\xff!!"
    file.write_bytes(bytes(data))


def _huge_header(file: Path) -> None:
    data = bytearray(file.read_bytes())
    data[:8] = struct.pack("<Q", 2**40)
    file.write_bytes(bytes(data))


def _shift_offsets(file: Path) -> None:
    """One tensor's byte range no longer fits its shape (same header length, same file size)."""
    data = file.read_bytes()
    n = _header_length(file)
    header = json.loads(data[8 : 8 + n])
    begin, end = header["model.norm.weight"]["data_offsets"]
    header["model.norm.weight"]["data_offsets"] = [begin, end - 2]
    raw = json.dumps(header, separators=(",", ":")).encode().ljust(n)
    file.write_bytes(data[:8] + raw + data[8 + n :])


LFS_POINTER = (
    "version https://git-lfs.github.com/spec/v1\n"
    "oid sha256:4d7f1c0e2b8a9f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1\n"
    "size 16500000000\n"
)


def _dangling_link(file: Path) -> None:
    file.unlink()
    file.symlink_to(file.parent / "blobs" / "4d7f1c0e2b8a")


def _wrong_shard_in_index(ckpt: Path) -> None:
    index = json.loads((ckpt / INDEX).read_text())
    index["weight_map"]["lm_head.weight"] = SHARD_1 if (
        index["weight_map"]["lm_head.weight"] == SHARD_2
    ) else SHARD_2  # fmt: skip
    (ckpt / INDEX).write_text(json.dumps(index))


def _gpt2_names(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    renamed = {}
    for i, (name, tensor) in enumerate(tensors.items()):
        renamed[f"transformer.h.{i}.{name.rsplit('.', 2)[-2]}.weight"] = tensor
    return renamed


def _drop(name: str) -> Callable[[dict], dict]:
    return lambda tensors: {k: v for k, v in tensors.items() if k != name}


def _add(name: str, tensor: torch.Tensor) -> Callable[[dict], dict]:
    return lambda tensors: {**tensors, name: tensor}


def _replace(name: str, how: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[dict], dict]:
    return lambda tensors: {**tensors, name: how(tensors[name])}


# name -> (needs the sharded checkpoint, how to break it, words the message must contain)
BREAKAGES: dict[str, tuple[bool, Callable[[Path], None], tuple[str, ...]]] = {
    "truncated_weights": (
        False,
        lambda c: truncate(c / SINGLE, 0.6),
        (f"{SINGLE} is truncated", "interrupted download", f"re-download {SINGLE}"),
    ),
    "truncated_in_header": (
        False,
        lambda c: truncate(c / SINGLE, 200),
        (f"{SINGLE} is truncated", "header", f"re-download {SINGLE}"),
    ),
    "seven_bytes": (
        False,
        lambda c: truncate(c / SINGLE, 7),
        (f"{SINGLE} is truncated", f"re-download {SINGLE}"),
    ),
    "empty_weights": (
        False,
        lambda c: truncate(c / SINGLE, 0),
        (f"{SINGLE} is empty", f"re-download {SINGLE}"),
    ),
    "header_not_json": (
        False,
        lambda c: _garble_header(c / SINGLE),
        (f"{SINGLE} is damaged", "not a JSON object", f"re-download {SINGLE}"),
    ),
    "header_length_garbage": (
        False,
        lambda c: _huge_header(c / SINGLE),
        (f"{SINGLE} is not a safetensors file", f"re-download {SINGLE}"),
    ),
    "trailing_bytes": (
        False,
        lambda c: (c / SINGLE).write_bytes((c / SINGLE).read_bytes() + b"\0" * 100),
        (f"{SINGLE} is damaged", "100 bytes follow", f"re-download {SINGLE}"),
    ),
    "offsets_do_not_fit": (
        False,
        lambda c: _shift_offsets(c / SINGLE),
        (f"{SINGLE} is damaged", "model.norm.weight", f"re-download {SINGLE}"),
    ),
    "git_lfs_pointer_weights": (
        False,
        lambda c: (c / SINGLE).write_text(LFS_POINTER),
        (f"{SINGLE} is a Git LFS pointer", "git lfs pull", "huggingface-cli download"),
    ),
    "html_page_instead_of_weights": (
        False,
        lambda c: (c / SINGLE).write_text("<!DOCTYPE html><html><body>Not found</body></html>"),
        (f"{SINGLE} is not a safetensors file", f"re-download {SINGLE}"),
    ),
    "dangling_link": (
        False,
        lambda c: _dangling_link(c / SINGLE),
        (f"{SINGLE} is a link to a missing file", "download the checkpoint again"),
    ),
    "truncated_shard": (
        True,
        lambda c: truncate(c / SHARD_2, 0.5),
        (f"{SHARD_2} is truncated", f"re-download {SHARD_2}"),
    ),
    "empty_shard": (
        True,
        lambda c: truncate(c / SHARD_1, 0),
        (f"{SHARD_1} is empty", f"re-download {SHARD_1}"),
    ),
    "missing_shard": (
        True,
        lambda c: (c / SHARD_2).unlink(),
        (INDEX, f"names {SHARD_2}", "missing", "2 shards", "download it into"),
    ),
    "truncated_index": (
        True,
        lambda c: truncate(c / INDEX, 0.5),
        (f"{INDEX} is not valid JSON", f"re-download {INDEX}"),
    ),
    "index_without_weight_map": (
        True,
        lambda c: (c / INDEX).write_text('{"metadata": {}}'),
        (f"{INDEX} has no valid weight_map", f"re-download {INDEX}"),
    ),
    "index_names_the_wrong_shard": (
        True,
        _wrong_shard_in_index,
        (INDEX, "lm_head.weight", "does not hold it", "re-download"),
    ),
    "config_hidden_size": (
        False,
        lambda c: edit_json(c / "config.json", hidden_size=128, head_dim=32),
        ("config.json says hidden_size 128", f"{SINGLE} holds 64-wide tensors", "config.json"),
    ),
    "config_intermediate_size": (
        False,
        lambda c: edit_json(c / "config.json", intermediate_size=256),
        ("config.json says intermediate_size 256", "176 rows"),
    ),
    "config_vocab_size": (
        False,
        lambda c: edit_json(c / "config.json", vocab_size=2048),
        ("config.json says vocab_size 2048", "1024 rows"),
    ),
    "config_kv_heads": (
        False,
        lambda c: edit_json(c / "config.json", num_key_value_heads=4),
        ("config.json says num_key_value_heads 4 x head_dim 16", "key projections of 32 rows"),
    ),
    "config_head_dim": (
        False,
        lambda c: edit_json(c / "config.json", head_dim=8),
        ("config.json says num_attention_heads 4 x head_dim 8", "query projections of 64 rows"),
    ),
    "config_more_layers": (
        False,
        lambda c: edit_json(c / "config.json", num_hidden_layers=3),
        ("config.json says num_hidden_layers 3", f"{SINGLE} holds 2 layers"),
    ),
    "config_fewer_layers": (
        False,
        lambda c: edit_json(c / "config.json", num_hidden_layers=1),
        ("config.json says num_hidden_layers 1", f"{SINGLE} holds 2 layers"),
    ),
    "missing_tensor": (
        False,
        lambda c: edit_tensors(c / SINGLE, _drop("model.layers.1.mlp.up_proj.weight")),
        (f"{SINGLE} lacks 1 tensor", "model.layers.1.mlp.up_proj.weight", "re-download"),
    ),
    "missing_output_head": (
        False,
        lambda c: edit_tensors(c / SINGLE, _drop("lm_head.weight")),
        (f"{SINGLE} lacks 1 tensor", "lm_head.weight", "re-download"),
    ),
    "unexpected_tensor": (
        False,
        lambda c: edit_tensors(c / SINGLE, _add("model.extra.weight", torch.zeros(3))),
        ("does not have", "model.extra.weight", "config.json"),
    ),
    "another_architecture": (
        False,
        lambda c: edit_tensors(c / SINGLE, _gpt2_names),
        ("none of the tensors a Llama model has", "transformer.h.", "another architecture"),
    ),
    "wrong_shape_in_one_layer": (
        False,
        lambda c: edit_tensors(
            c / SINGLE,
            _replace("model.layers.1.self_attn.o_proj.weight", lambda t: t[:, :32].contiguous()),
        ),
        ("model.layers.1.self_attn.o_proj.weight", "[64, 32]", "[64, 64]"),
    ),
    "integer_dtype": (
        False,
        lambda c: edit_tensors(c / SINGLE, _replace("model.norm.weight", lambda t: t.int())),
        ("model.norm.weight", "I32", "not floating point", f"re-download {SINGLE}"),
    ),
    "truncated_tokenizer": (
        False,
        lambda c: truncate(c / "tokenizer.json", 0.5),
        ("tokenizer.json is not valid JSON", "re-download tokenizer.json"),
    ),
    "empty_tokenizer": (
        False,
        lambda c: truncate(c / "tokenizer.json", 0),
        ("tokenizer.json is empty", "re-download tokenizer.json"),
    ),
    "tokenizer_not_a_tokenizer": (
        False,
        lambda c: (c / "tokenizer.json").write_text('{"version": "1.0"}'),
        ("tokenizer", "could not be built", "re-download tokenizer.json"),
    ),
    "git_lfs_pointer_tokenizer": (
        False,
        lambda c: (c / "tokenizer.json").write_text(LFS_POINTER),
        ("tokenizer.json is a Git LFS pointer", "git lfs pull"),
    ),
    "truncated_tokenizer_config": (
        False,
        lambda c: truncate(c / "tokenizer_config.json", 0.5),
        ("tokenizer_config.json is not valid JSON", "re-download tokenizer.json"),
    ),
    "tokenizer_config_a_list": (
        False,
        lambda c: (c / "tokenizer_config.json").write_text("[]"),
        ("tokenizer_config.json does not hold a JSON object", "re-download"),
    ),
    "truncated_special_tokens_map": (
        False,
        lambda c: truncate(c / "special_tokens_map.json", 0.5),
        ("special_tokens_map.json is not valid JSON", "re-download special_tokens_map.json"),
    ),
    "broken_generation_config": (
        False,
        lambda c: (c / "generation_config.json").write_text('{"bos_token_id": 0,'),
        ("generation_config.json is not valid JSON", "re-download generation_config.json"),
    ),
    "broken_chat_template": (
        False,
        lambda c: edit_json(c / "tokenizer_config.json", chat_template="{% for %}"),
        ("chat_template", "cannot be rendered", "re-download tokenizer_config.json"),
    ),
    "empty_config": (
        False,
        lambda c: (c / "config.json").write_text(""),
        ("config.json is empty", "re-download"),
    ),
    "truncated_config": (
        False,
        lambda c: truncate(c / "config.json", 0.5),
        ("config.json is not valid JSON", "re-download"),
    ),
    "config_a_list": (
        False,
        lambda c: (c / "config.json").write_text("[1, 2]"),
        ("config.json does not hold a JSON object", "re-download"),
    ),
    "config_size_a_string": (
        False,
        lambda c: edit_json(c / "config.json", hidden_size="64"),
        ("config.json says hidden_size '64', not a positive integer", "re-download"),
    ),
    "config_heads_do_not_divide": (
        False,
        lambda c: edit_json(c / "config.json", num_key_value_heads=3),
        ("num_key_value_heads 3", "does not divide", "re-download"),
    ),
    "config_eps_a_string": (
        False,
        lambda c: edit_json(c / "config.json", rms_norm_eps="small"),
        ("config.json has an invalid rms_norm_eps 'small'", "re-download"),
    ),
    "config_unknown_activation": (
        False,
        lambda c: edit_json(c / "config.json", hidden_act="swishy"),
        ("unknown hidden_act 'swishy'", "re-download"),
    ),
}
