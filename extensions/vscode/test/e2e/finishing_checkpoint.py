"""Turns a tiny random checkpoint into one whose answers end at once (EOS at every masked position).

A random model never emits EOS, and the server refuses an unfinished answer ("did not end within N
tokens"), so an edit from it can never be accepted. With the layers' outputs zeroed, a masked
position sees only the mask embedding; the head then maps that to EOS. The server's proposal is
then the selected region replaced by the (empty) answer: a real, deterministic edit through the
whole real pipeline. Usage: python finishing_checkpoint.py CHECKPOINT_DIR (rewritten in place).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


def token_id(directory: Path, content: str) -> int:
    tokenizer = json.loads((directory / "tokenizer.json").read_text(encoding="utf-8"))
    for token in tokenizer.get("added_tokens", []):
        if token["content"] == content:
            return int(token["id"])
    return int(tokenizer["model"]["vocab"][content])


def main(directory: Path) -> None:
    config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    specials = json.loads((directory / "special_tokens_map.json").read_text(encoding="utf-8"))
    mask_id = token_id(directory, specials["mask_token"])
    eos_id = int(config["eos_token_id"])
    weights = load_file(str(directory / "model.safetensors"))
    for name, value in weights.items():
        if name.endswith(("self_attn.o_proj.weight", "mlp.down_proj.weight")):
            weights[name] = torch.zeros_like(value)
    embedding = weights["model.embed_tokens.weight"][mask_id].float()
    eps = float(config.get("rms_norm_eps", 1e-6))
    norm = weights["model.norm.weight"].float()
    hidden = embedding / torch.sqrt(embedding.pow(2).mean() + eps) * norm
    head = torch.zeros_like(weights["lm_head.weight"], dtype=torch.float32)
    head[eos_id] = hidden * (40.0 / hidden.pow(2).sum())  # EOS logit 40, every other logit 0
    weights["lm_head.weight"] = head.to(weights["lm_head.weight"].dtype)
    save_file(weights, str(directory / "model.safetensors"), metadata={"format": "pt"})


if __name__ == "__main__":
    main(Path(sys.argv[1]))
