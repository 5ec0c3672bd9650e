#!/usr/bin/python3
"""Command line of the PyTorch reference (the oracle for the C++ parity tests).

  init   --config FILE --out MODEL_DIR [-s SEED]
         a randomly initialised model: MODEL_DIR/config.json (every key, resolved) and
         MODEL_DIR/model.safetensors (F32)
  logits -m MODEL_DIR (--ids 1,2,3 | --ids-file F.safetensors) --out OUT.safetensors
         eval-mode forward; writes `logits` (T,V) F32 ((B,T,V) for a (B,T) ids tensor with B>1)
  grads  -m MODEL_DIR --ids-file F.safetensors --out OUT.safetensors [--train-noise-off]
         ids (B,T+1): inputs ids[:, :-1], targets ids[:, 1:]; training-mode forward with gate
         noise off and dropout 0, backward of loss = ce + moe_balance_coef * bal; writes
         scalars `loss`, `ce`, `bal` (bal = mean over MoE layers of L_bal, 0 without MoE),
         `grad.<name>` for every parameter (zeros where no gradient reaches it) and
         `counts.<moe layer>` (I64, tokens routed per routed expert)

An ids file `*.safetensors` holds one integer (or integral float) tensor named `ids`, or a
single tensor of any name; any other ids file is text: integers separated by whitespace or
commas (one sequence). Computation runs in float64 by default (`--dtype float32` for the float32 peer);
every output is stored as F32. Exit status: 0 ok, 1 user error (one line on stderr), 2 usage.
"""
import argparse
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
from config import Config  # noqa: E402
from model import Transformer, init_weights, load_model, save_model  # noqa: E402


class UserError(Exception):
    pass


def _dtype(name):
    return {"float64": torch.float64, "float32": torch.float32}[name]


def read_ids_file(path):
    if not path.endswith(".safetensors"):   # a text file: integers separated by spaces/commas
        with open(path) as f:
            return parse_ids(" ".join(f.read().replace(",", " ").split()).replace(" ", ","))
    tensors, _ = safetensors_io.load(path)
    if "ids" in tensors:
        t = tensors["ids"]
    elif len(tensors) == 1:
        t = next(iter(tensors.values()))
    else:
        raise UserError(f"{path}: expected a tensor named 'ids' or exactly one tensor")
    if t.is_floating_point():
        if not torch.equal(t, t.round()):
            raise UserError(f"{path}: ids must be integers")
    return t.to(torch.int64)


def parse_ids(text):
    try:
        ids = [int(s) for s in text.replace(" ", "").split(",") if s != ""]
    except ValueError:
        raise UserError(f"--ids: expected comma-separated integers, got '{text}'") from None
    if not ids:
        raise UserError("--ids: empty")
    return torch.tensor(ids, dtype=torch.int64)


def check_ids(ids, cfg, what):
    if ids.numel() == 0:
        raise UserError(f"{what}: no tokens")
    if int(ids.min()) < 0 or int(ids.max()) >= cfg.vocab_size:
        raise UserError(f"{what}: token ids must be in [0, {cfg.vocab_size})")
    if ids.shape[-1] > cfg.ctx_len:
        raise UserError(f"{what}: sequence length {ids.shape[-1]} exceeds ctx_len {cfg.ctx_len}")


def cmd_init(a):
    cfg = Config.from_file(a.config)
    model = init_weights(Transformer(cfg), a.seed)
    save_model(model, a.out, {"seed": a.seed})
    print(f"wrote {a.out} ({sum(p.numel() for p in model.parameters())} parameters)")


def cmd_logits(a):
    model = load_model(a.model, _dtype(a.dtype)).eval()
    if (a.ids is None) == (a.ids_file is None):
        raise UserError("logits: give exactly one of --ids and --ids-file")
    ids = parse_ids(a.ids) if a.ids is not None else read_ids_file(a.ids_file)
    if ids.dim() not in (1, 2):
        raise UserError("logits: ids must be (T) or (B,T)")
    squeeze = ids.dim() == 1 or ids.shape[0] == 1
    ids = ids.reshape(-1, ids.shape[-1])
    check_ids(ids, model.cfg, "logits")
    with torch.no_grad():
        logits, _ = model(ids)
    if squeeze:
        logits = logits[0]
    safetensors_io.save(a.out, {"logits": logits.float()}, {"dtype": a.dtype})
    print(f"wrote {a.out} logits {list(logits.shape)}")


def cmd_grads(a):
    model = load_model(a.model, _dtype(a.dtype)).train()
    model.set_gate_noise(False)   # always off here (--train-noise-off states it explicitly)
    model.set_dropout(0.0)
    ids = read_ids_file(a.ids_file)
    if ids.dim() == 1:
        ids = ids[None]
    if ids.dim() != 2 or ids.shape[1] < 2:
        raise UserError("grads: ids must be (B, T+1) with T >= 1")
    check_ids(ids[:, :-1], model.cfg, "grads")
    check_ids(ids[:, 1:], model.cfg, "grads")
    model.zero_grad(set_to_none=True)
    _, out = model(ids[:, :-1], ids[:, 1:])
    out["loss"].backward()
    tensors = {k: out[k].detach().float() for k in ("loss", "ce", "bal")}
    for name, p in model.named_parameters():
        g = p.grad if p.grad is not None else torch.zeros_like(p)
        tensors[f"grad.{name}"] = g.float()
    for name, m in model.moe_layers():
        tensors[f"counts.{name}"] = m.last_counts.clone()
    safetensors_io.save(a.out, tensors, {"dtype": a.dtype})
    print(f"wrote {a.out} loss {float(out['loss']):.6f} ce {float(out['ce']):.6f} "
          f"bal {float(out['bal']):.6f}")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="reference/cli.py",
                                 description="tinyr2 PyTorch reference")
    ap.add_argument("-t", "--threads", type=int, default=None)
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("init", help="write a randomly initialised model directory")
    p.add_argument("--config", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("-s", "--seed", type=int, default=1337)
    p.set_defaults(fn=cmd_init)

    p = sub.add_parser("logits", help="eval-mode logits for one sequence")
    p.add_argument("-m", "--model", required=True)
    p.add_argument("--ids", default=None)
    p.add_argument("--ids-file", default=None)
    p.add_argument("--out", required=True)
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    p.set_defaults(fn=cmd_logits)

    p = sub.add_parser("grads", help="loss and parameter gradients on a batch")
    p.add_argument("-m", "--model", required=True)
    p.add_argument("--ids-file", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--train-noise-off", action="store_true",
                   help="gate noise off (always the case; accepted for explicitness)")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    p.set_defaults(fn=cmd_grads)

    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    try:
        a.fn(a)
    except (UserError, ValueError, OSError, struct.error) as e:  # config, model files, I/O
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
