#!/usr/bin/python3
"""LoRA (SPEC §12) on the PyTorch reference model, written literally: each target
nn.Linear W gets a forward hook returning W x + (a/r) * B(A(dropout_p(x))).

  grads  -m MODEL_DIR --adapter DIR --ids-file F.safetensors --out OUT.safetensors
         ids (B,T+1); training-mode forward (gate noise off, dropout 0, LoRA dropout 0),
         backward of loss = ce + moe_balance_coef * bal with the base frozen; writes
         `loss`, `ce`, `bal` and `grad.<PEFT name>` for every lora_A / lora_B
  logits -m MODEL_DIR --adapter DIR --ids-file F.safetensors --out OUT.safetensors
         eval-mode logits (B,T,V) with the adapter applied
  merge  -m MODEL_DIR --adapter DIR --out MODEL_DIR2
         W + (a/r)·B·A written as a plain model

DIR holds adapter_model.safetensors (PEFT names base_model.model.<module>.lora_A.weight,
.lora_B.weight) and adapter_config.json (r, lora_alpha, lora_dropout, target_modules = the
resolved module names). Computation in float64 by default. Exit 0 ok, 1 user error.
"""
import argparse
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
from cli import read_ids_file  # noqa: E402
from model import load_model, save_model  # noqa: E402


def load_adapter(directory, dtype):
    with open(os.path.join(directory, "adapter_config.json")) as f:
        cfg = json.load(f)
    tensors, _ = safetensors_io.load(os.path.join(directory, "adapter_model.safetensors"))
    return cfg, {k: v.to(dtype).clone().requires_grad_(True) for k, v in tensors.items()}


def attach(model, cfg, tensors):
    """Registers the hooks; returns {PEFT name: tensor} of the adapters in use."""
    r, alpha, p = cfg["r"], cfg["lora_alpha"], cfg["lora_dropout"]
    scale = alpha / r
    used = {}
    for module in cfg["target_modules"]:
        lin = model.get_submodule(module)
        assert isinstance(lin, torch.nn.Linear), module
        A = tensors[f"base_model.model.{module}.lora_A.weight"]
        B = tensors[f"base_model.model.{module}.lora_B.weight"]
        used[f"base_model.model.{module}.lora_A.weight"] = A
        used[f"base_model.model.{module}.lora_B.weight"] = B

        def hook(m, inp, out, A=A, B=B):
            x = F.dropout(inp[0], p, m.training) if p > 0 else inp[0]
            return out + scale * F.linear(F.linear(x, A), B)

        lin.register_forward_hook(hook)
    return used


def cmd_grads(a):
    dtype = torch.float64
    model = load_model(a.model, dtype).train()
    model.set_gate_noise(False)
    model.set_dropout(0.0)
    for q in model.parameters():
        q.requires_grad_(False)   # the frozen base
    cfg, tensors = load_adapter(a.adapter, dtype)
    cfg["lora_dropout"] = 0.0
    used = attach(model, cfg, tensors)
    ids = read_ids_file(a.ids_file)
    if ids.dim() == 1:
        ids = ids[None]
    _, out = model(ids[:, :-1], ids[:, 1:])
    out["loss"].backward()
    res = {k: out[k].detach().float() for k in ("loss", "ce", "bal")}
    for name, t in used.items():
        res[f"grad.{name}"] = (t.grad if t.grad is not None else torch.zeros_like(t)).float()
    safetensors_io.save(a.out, res)
    print(f"wrote {a.out} loss {float(out['loss']):.6f}")


def cmd_logits(a):
    dtype = torch.float64
    model = load_model(a.model, dtype).eval()
    cfg, tensors = load_adapter(a.adapter, dtype)
    attach(model, cfg, tensors)
    ids = read_ids_file(a.ids_file)
    if ids.dim() == 1:
        ids = ids[None]
    with torch.no_grad():
        logits, _ = model(ids)
    safetensors_io.save(a.out, {"logits": logits.float()})
    print(f"wrote {a.out} logits {list(logits.shape)}")


def cmd_merge(a):
    dtype = torch.float64
    model = load_model(a.model, dtype)
    cfg, tensors = load_adapter(a.adapter, dtype)
    scale = cfg["lora_alpha"] / cfg["r"]
    with torch.no_grad():
        for module in cfg["target_modules"]:
            lin = model.get_submodule(module)
            A = tensors[f"base_model.model.{module}.lora_A.weight"]
            B = tensors[f"base_model.model.{module}.lora_B.weight"]
            lin.weight += scale * (B @ A)
    save_model(model, a.out)
    print(f"wrote {a.out}")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="reference/lora.py")
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name, fn in (("grads", cmd_grads), ("logits", cmd_logits), ("merge", cmd_merge)):
        p = sub.add_parser(name)
        p.add_argument("-m", "--model", required=True)
        p.add_argument("--adapter", required=True)
        if name != "merge":
            p.add_argument("--ids-file", required=True)
        p.add_argument("--out", required=True)
        p.set_defaults(fn=fn)
    a = ap.parse_args(argv)
    try:
        a.fn(a)
    except (ValueError, OSError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
