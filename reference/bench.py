#!/usr/bin/python3
"""PyTorch side of `tinyr2 bench compare` (bench/compare/): times the reference
model on the same work as `tinyr2 bench train-step` / `tinyr2 bench decode` and prints one
JSON line. `tinyr2 bench compare` runs each measurement in its own process and reads the
peak RSS of the process itself (wait4), so this script does not measure memory.

  reference/bench.py [-t N] train  --config CONFIG.json [--steps N] [--warmup W]
  reference/bench.py [-t N] decode --config CONFIG.json [--prompt-tokens P] [--tokens N]

train   the model (float32, init_weights with train.seed) trained by reference/train.py's
        train() — its Muon/AdamW partition, optimizers, clipping and schedule, gate noise on
        as in training — on uniform random token batches of train.batch_size x ctx_len
        (train.grad_accum micro-batches per step): W warm-up steps, then N timed steps in one
        call. Prints {"tokens_per_s", "seconds", "steps", "tokens_per_step", ...}.
decode  greedy generation in eval mode without gradients: a random prompt of P tokens, then
        N tokens. The reference has no generation code and no KV cache, so this loop is the
        cache-less one: every token runs the full forward over the whole context (the
        context rule of SPEC §7 applies when it would exceed ctx_len). Timed like tinyr2's
        Generator: "prefill" is the prompt's forward, "decode" everything after it (one
        forward per token fed back, argmax included); decode tokens/s = forwards after the
        prefill / decode seconds. A short warm-up generation runs first.

-t sets torch.set_num_threads. Exit status: 0 ok, 1 user error (one line on stderr).
"""
import argparse
import json
import os
import resource
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from config import Config  # noqa: E402
from model import Transformer, init_weights  # noqa: E402
from train import train  # noqa: E402


def rss_peak_kb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def load_config(path):
    cfg = Config.from_file(path)
    tc = cfg.train
    if tc is None:
        from config import validate_train
        tc = validate_train({})
    return cfg, tc


def build_model(cfg, seed):
    return init_weights(Transformer(cfg), seed).float()


def cmd_train(a):
    cfg, tc = load_config(a.config)
    if a.steps < 1 or a.warmup < 0:
        raise ValueError("--steps must be >= 1 and --warmup >= 0")
    model = build_model(cfg, tc["seed"])
    B, T, ga = tc["batch_size"], cfg.ctx_len, tc["grad_accum"]
    g = torch.Generator().manual_seed(tc["seed"] + 1)

    def batches(steps):
        return torch.randint(0, cfg.vocab_size, (steps, ga, B, T + 1), generator=g)

    rss_before = rss_peak_kb()
    if a.warmup > 0:
        train(model, tc, batches(a.warmup))
    timed = batches(a.steps)
    t0 = time.perf_counter()
    records = train(model, tc, timed)
    seconds = time.perf_counter() - t0
    tokens = B * T * ga
    return {"engine": "pytorch", "torch": torch.__version__, "threads": torch.get_num_threads(),
            "steps": a.steps, "warmup": a.warmup, "tokens_per_step": tokens,
            "seconds": seconds, "tokens_per_s": tokens * a.steps / seconds,
            "loss_first": records[0]["loss"], "loss_last": records[-1]["loss"],
            "params": sum(p.numel() for p in model.parameters()),
            "rss_before_train_kb": rss_before}


def context_rule(ids, ctx_len):
    """SPEC §7: a context longer than ctx_len is cut to its last max(1, ctx_len // 2) tokens."""
    if ids.shape[1] <= ctx_len:
        return ids
    return ids[:, -max(1, ctx_len // 2):]


@torch.no_grad()
def generate(model, prompt, n):
    """Greedy, no cache: (generated ids, prefill seconds, decode forwards, decode seconds)."""
    cfg = model.cfg
    ctx = context_rule(prompt, cfg.ctx_len)
    t0 = time.perf_counter()
    logits, _ = model(ctx)
    last = logits[0, -1]
    prefill = time.perf_counter() - t0
    t1 = time.perf_counter()
    out, steps = [], 0
    while len(out) < n:
        tok = int(torch.argmax(last))   # ties: the first (lowest) id, as tinyr2's greedy
        out.append(tok)
        ctx = torch.cat([ctx, torch.tensor([[tok]], dtype=ctx.dtype)], dim=1)
        if len(out) == n:
            break
        ctx = context_rule(ctx, cfg.ctx_len)
        logits, _ = model(ctx)
        last = logits[0, -1]
        steps += 1
    return out, prefill, steps, time.perf_counter() - t1


def cmd_decode(a):
    cfg, tc = load_config(a.config)
    if a.tokens < 2 or a.prompt_tokens < 1:
        raise ValueError("--tokens must be >= 2 and --prompt-tokens >= 1")
    model = build_model(cfg, tc["seed"]).eval()
    g = torch.Generator().manual_seed(tc["seed"] + 5)
    prompt = torch.randint(0, cfg.vocab_size, (1, a.prompt_tokens), generator=g)
    generate(model, prompt, min(a.tokens, 8))   # warm-up
    out, prefill, steps, seconds = generate(model, prompt, a.tokens)
    return {"engine": "pytorch", "torch": torch.__version__, "threads": torch.get_num_threads(),
            "prompt_tokens": a.prompt_tokens, "tokens": len(out), "prefill_ms": prefill * 1e3,
            "decode_steps": steps, "decode_seconds": seconds,
            "decode_tokens_per_s": steps / seconds if seconds > 0 else 0.0, "kv_cache": False}


def main(argv=None):
    ap = argparse.ArgumentParser(prog="reference/bench.py", description=__doc__.split("\n")[0])
    ap.add_argument("-t", "--threads", type=int, default=None)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("train", help="training tokens/s")
    p.add_argument("--config", required=True)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.set_defaults(fn=cmd_train)
    p = sub.add_parser("decode", help="greedy decode tokens/s (no KV cache)")
    p.add_argument("--config", required=True)
    p.add_argument("--prompt-tokens", type=int, default=16)
    p.add_argument("--tokens", type=int, default=128)
    p.set_defaults(fn=cmd_decode)
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    try:
        result = a.fn(a)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
