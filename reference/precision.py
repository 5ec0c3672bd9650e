"""train.precision (SPEC §13) in the reference: "bf16" products round both operands to
bfloat16 (round to nearest even) and multiply them in the working dtype (float64 for the op
oracle, so the only error left on the C++ side is its fp32 accumulation); the backward
products round their operands the same way (dA = bf16(dC)·bf16(B)ᵀ, dB = bf16(A)ᵀ·bf16(dC)).
"""
import torch


def round_bf16(t):
    """t rounded to the nearest bfloat16 value, in t's dtype."""
    return t.to(torch.bfloat16).to(t.dtype)


class _Bf16Matmul(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return round_bf16(a) @ round_bf16(b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        g = round_bf16(g)
        ga = g @ round_bf16(b).transpose(-1, -2)
        gb = round_bf16(a).transpose(-1, -2) @ g
        while gb.dim() > b.dim():  # b broadcast over a's batch dims
            gb = gb.sum(0)
        return ga, gb


def matmul(a, b, precision="fp32"):
    """a @ b in the given train.precision ("fp32": plain; "bf16": see above)."""
    if precision == "fp32":
        return a @ b
    if precision == "bf16":
        return _Bf16Matmul.apply(a, b)
    raise ValueError(f"train.precision must be one of \"fp32\", \"bf16\", got {precision!r}")
