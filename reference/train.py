#!/usr/bin/python3
"""PyTorch reference trainer for tinyr2 (SPEC §6), the oracle of the C++ training loop
(src/train/trainer.{h,cpp}); tests/train/test_train_parity.cpp runs both on the same batches.

  reference/train.py -m MODEL_DIR --config CONFIG.json --batches BATCHES.safetensors \
                     --out STEPS.jsonl [--dtype float64|float32] [--save-model DIR]

  MODEL_DIR   the initial model (config.json + model.safetensors, e.g. written by `tinyr2 init`)
  CONFIG      a config file with a "train" section (SPEC §6); only "train" is read (defaults
              for missing keys), the model keys come from MODEL_DIR
  BATCHES     one integer tensor `ids` of shape (steps, grad_accum, B, T+1): micro-batch a of
              step s has inputs ids[s, a, :, :-1] and targets ids[s, a, :, 1:]
  STEPS.jsonl one line per step: {"step": k (1-based), "loss", "ce", "bal", "grad_norm",
              "lr", "muon_lr", "skipped"}

The recipe, the same as the C++ trainer's (gate noise off, dropout 0 here):
  * Muon for every `blocks.*` parameter with >= 2 dims except block_compressor,
    intra_block_pos_encoding and hyper-connection (hc_attn./hc_ffn.) tensors; AdamW for the
    rest; buffers (expert_bias) are never optimised.
  * A step: grad_accum micro-batches, backward of loss / grad_accum (the reported loss, ce and
    bal are micro-batch means); global-norm clip to max_grad_norm; if the loss or the norm is
    not finite the step is skipped (no update, routing counts dropped); otherwise Muon steps
    with muon_lr * lr_multiplier(e) and AdamW with lr_at(e) (e = 0-based step), then every
    MoE layer's expert_bias moves by the tokens routed over all the step's micro-batches.
"""
import argparse
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
from config import validate_train  # noqa: E402
from model import load_model, save_model  # noqa: E402
from optim import (AdamW, Muon, clip_grad_norm, is_ssm_dynamics_param, lr_at,  # noqa: E402
                   lr_multiplier)


def is_muon_param(name, p):
    """SPEC §6: >= 2-D `blocks.*` tensors except block_compressor, intra_block_pos_encoding
    and the hyper-connection parameters."""
    if not name.startswith("blocks.") or p.dim() < 2:
        return False
    return not any(s in name for s in (".block_compressor.", ".intra_block_pos_encoding",
                                       ".hc_attn.", ".hc_ffn.")) and not is_ssm_dynamics_param(name)


def partition(model):
    muon, adamw = [], []
    for name, p in model.named_parameters():   # parameters only: buffers are never optimised
        (muon if is_muon_param(name, p) else adamw).append((name, p))
    return muon, adamw


def train(model, tc, batches):
    """Runs batches.shape[0] steps of the recipe; returns one dict per step."""
    muon_params, adamw_params = partition(model)
    muon = Muon(muon_params, momentum=tc["muon_momentum"], weight_decay=tc["muon_weight_decay"],
                precision=tc.get("precision", "fp32"))
    adamw = AdamW(adamw_params, betas=tuple(tc["betas"]), eps=tc["eps"],
                  weight_decay=tc["weight_decay"])
    params = [p for _, p in muon_params + adamw_params]
    steps, ga = batches.shape[0], batches.shape[1]
    if ga != tc["grad_accum"]:
        raise ValueError(f"batches have {ga} micro-batches per step, train.grad_accum is "
                         f"{tc['grad_accum']}")
    model.train()
    for _, m in model.moe_layers():
        m.step_counts = torch.zeros_like(m.step_counts)
    records = []
    for e in range(steps):
        model.zero_grad(set_to_none=True)
        loss_sum = ce_sum = bal_sum = 0.0
        for a in range(ga):
            ids = batches[e, a]
            _, out = model(ids[:, :-1], ids[:, 1:])
            (out["loss"] / ga).backward()
            loss_sum += float(out["loss"])
            ce_sum += float(out["ce"])
            bal_sum += float(out["bal"])
        loss = loss_sum / ga
        norm = clip_grad_norm(params, tc["max_grad_norm"])
        args = (tc["lr"], tc["min_lr"], tc["warmup_iters"], tc["max_iters"])
        lr = lr_at(e, *args)
        muon_lr = tc["muon_lr"] * lr_multiplier(e, *args)
        skipped = not (math.isfinite(loss) and math.isfinite(norm))
        if skipped:
            for _, m in model.moe_layers():
                m.step_counts = torch.zeros_like(m.step_counts)
        else:
            muon.step(muon_lr)
            adamw.step(lr)
            model.update_expert_biases()   # the counts summed over this step; resets them
        model.zero_grad(set_to_none=True)
        records.append({"step": e + 1, "loss": loss, "ce": ce_sum / ga, "bal": bal_sum / ga,
                        "grad_norm": norm, "lr": lr, "muon_lr": muon_lr, "skipped": skipped})
    return records


def main(argv=None):
    ap = argparse.ArgumentParser(prog="reference/train.py", description=__doc__.split("\n")[0])
    ap.add_argument("-m", "--model", required=True, help="initial model directory")
    ap.add_argument("--config", required=True, help="config JSON with a \"train\" section")
    ap.add_argument("--batches", required=True, help="safetensors: ids (steps, grad_accum, B, T+1)")
    ap.add_argument("--out", required=True, help="per-step records (JSON lines)")
    ap.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    ap.add_argument("--save-model", default=None, help="write the trained model here")
    ap.add_argument("-t", "--threads", type=int, default=None)
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    try:
        with open(a.config) as f:
            raw = json.load(f)
        tc = validate_train(raw.get("train", {}))
        dtype = torch.float64 if a.dtype == "float64" else torch.float32
        model = load_model(a.model, dtype)
        model.set_gate_noise(False)
        model.set_dropout(0.0)
        tensors, _ = safetensors_io.load(a.batches)
        if "ids" not in tensors or tensors["ids"].dim() != 4:
            raise ValueError(f"{a.batches}: expected a tensor 'ids' of shape (steps, grad_accum, B, T+1)")
        batches = tensors["ids"].to(torch.int64)
        records = train(model, tc, batches)
    except (ValueError, OSError, json.JSONDecodeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    with open(a.out, "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    if a.save_model:
        save_model(model.float(), a.save_model)
    last = records[-1]
    print(f"{len(records)} steps; last loss {last['loss']:.6f} ce {last['ce']:.6f} "
          f"bal {last['bal']:.6f} norm {last['grad_norm']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

