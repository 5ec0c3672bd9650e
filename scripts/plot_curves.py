#!/usr/bin/env python3
"""Draws the loss curves of several runs in one SVG (no dependencies).

    scripts/plot_curves.py --out docs/bf16_vs_fp32.svg fp32=runs/a/metrics.jsonl bf16=runs/b/metrics.jsonl

Each run's metrics.jsonl (written by `tinyr2 train`, SPEC §4) gives a line of its training
loss per step and dots for its evaluations' val loss; a legend names each run with its
final val loss and median tokens/s.
"""
import argparse
import json
import statistics

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]


def read_run(path):
    train, val, tps = [], [], []
    with open(path) as f:
        for line in f:
            j = json.loads(line)
            if j.get("type") == "train":
                train.append((j["step"], j["loss"]))
                tps.append(j.get("tokens_per_s", 0))
            elif j.get("type") == "eval" and j.get("val_loss") is not None:
                val.append((j["step"], j["val_loss"]))
    return train, val, (statistics.median(tps) if tps else 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--title", default="training loss (lines) and val loss (dots)")
    ap.add_argument("runs", nargs="+", help="LABEL=PATH/metrics.jsonl")
    a = ap.parse_args()
    runs = []
    for spec in a.runs:
        label, path = spec.split("=", 1)
        runs.append((label,) + read_run(path))
    W, H, L, R, T, B = 720, 420, 60, 20, 40, 50
    steps = [s for _, tr, va, _ in runs for s, _ in tr + va]
    losses = [v for _, tr, va, _ in runs for _, v in tr + va]
    x0, x1 = 0, max(steps)
    y0, y1 = min(losses), min(max(losses), 11.0)
    pad = 0.05 * (y1 - y0)
    y0, y1 = y0 - pad, y1 + pad

    def px(s):
        return L + (W - L - R) * (s - x0) / max(x1 - x0, 1)

    def py(v):
        v = min(max(v, y0), y1)
        return T + (H - T - B) * (y1 - v) / (y1 - y0)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="20" text-anchor="middle" font-size="14">{a.title}</text>']
    for i in range(6):  # grid and axis labels
        v = y0 + (y1 - y0) * i / 5
        out.append(f'<line x1="{L}" y1="{py(v):.1f}" x2="{W - R}" y2="{py(v):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{L - 6}" y="{py(v) + 4:.1f}" text-anchor="end">{v:.1f}</text>')
        s = x0 + (x1 - x0) * i / 5
        out.append(f'<text x="{px(s):.1f}" y="{H - B + 16}" text-anchor="middle">{s:.0f}</text>')
    out.append(f'<text x="{(L + W - R) / 2}" y="{H - 12}" text-anchor="middle">step</text>')
    out.append(f'<text x="14" y="{(T + H - B) / 2}" text-anchor="middle" '
               f'transform="rotate(-90 14 {(T + H - B) / 2})">loss</text>')
    for k, (label, train, val, tps) in enumerate(runs):
        c = COLORS[k % len(COLORS)]
        pts = " ".join(f"{px(s):.1f},{py(v):.1f}" for s, v in train)
        out.append(f'<polyline fill="none" stroke="{c}" stroke-width="1.2" opacity="0.8" points="{pts}"/>')
        for s, v in val:
            out.append(f'<circle cx="{px(s):.1f}" cy="{py(v):.1f}" r="4" fill="{c}"/>')
        final = f"val {val[-1][1]:.4f} at step {val[-1][0]}" if val else "no eval"
        y = T + 16 + 18 * k
        out.append(f'<rect x="{W - R - 300}" y="{y - 10}" width="12" height="12" fill="{c}"/>')
        out.append(f'<text x="{W - R - 282}" y="{y}">{label}: {final}, {tps:.0f} tok/s</text>')
    out.append("</svg>")
    with open(a.out, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
