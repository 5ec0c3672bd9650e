"""SPEC §11 reference: the GLU feed-forward and the MoE routers "topk", "attention" and
"expert_choice" (with capacity_factor), literal and float64-capable. Clarity over speed.

    GLU(C, hidden, act, p)           c_proj(act(c_gate x) * c_up x)
    RoutedMoE(cfg)                   E = n_experts experts (no shared one), k = num_exp
    make_expert(cfg)                 the expert FFN of `moe_expert` ("mlp" or "glu")

A RoutedMoE appends its Switch auxiliary loss L_aux to ctx["aux"] (topk, attention) and its
dropped fraction to ctx["dropped"]; `last_dropped` keeps the fraction of the last forward.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

ACTIVATIONS = {
    "silu": F.silu,
    "gelu": F.gelu,                 # erf form
    "relu": F.relu,
    "sigmoid": torch.sigmoid,
    "bilinear": lambda a: a,
}


def glu_init_std(act, fan_in, fan_out):
    """Seed 002: Xavier normal for sigmoid / bilinear, Kaiming normal for the ReLU family."""
    if act in ("sigmoid", "bilinear"):
        return math.sqrt(2.0 / (fan_in + fan_out))
    return math.sqrt(2.0 / fan_in)


def _linear(n_in, n_out, std):
    lin = nn.Linear(n_in, n_out, bias=False)
    lin.init_std = std  # read by model.init_weights
    return lin


class GLU(nn.Module):
    def __init__(self, C, hidden, act, p):
        super().__init__()
        self.act, self.dropout_p = act, p
        self.c_gate = _linear(C, hidden, glu_init_std(act, C, hidden))
        self.c_up = _linear(C, hidden, glu_init_std(act, C, hidden))
        self.c_proj = _linear(hidden, C, glu_init_std(act, hidden, C))

    def forward(self, x, ctx=None):
        y = self.c_proj(ACTIVATIONS[self.act](self.c_gate(x)) * self.c_up(x))
        if self.training and self.dropout_p > 0:
            y = F.dropout(y, self.dropout_p)
        return y


def make_expert(cfg, mlp_cls):
    if cfg.moe_expert == "glu":
        return GLU(cfg.n_embd, cfg.moe_hidden, cfg.glu_activation, cfg.dropout)
    return mlp_cls(cfg.n_embd, cfg.moe_hidden, cfg.dropout)


class AttentionRouter(nn.Module):
    """Yuan 2.0-M32: z_i = sum_j softmax_j(q_i k_j) v_j, q, k, v = router.{q,k,v} x (E each)."""

    def __init__(self, C, E):
        super().__init__()
        self.q = nn.Linear(C, E, bias=False)
        self.k = nn.Linear(C, E, bias=False)
        self.v = nn.Linear(C, E, bias=False)

    def forward(self, x2):
        q, k, v = self.q(x2), self.k(x2), self.v(x2)
        a = torch.softmax(q[:, :, None] * k[:, None, :], dim=-1)   # (N, E, E)
        return (a * v[:, None, :]).sum(dim=-1)


def capacity(cf, N, k, E):
    return min(N, math.ceil(cf * N * k / E))


def admit_position_major(chosen, B, T, E, cap):
    """keep (N, k) bool: assignments admitted position-major (position 0 of every sequence,
    then position 1, ...; within a position by batch row, within a token by rank) while the
    expert has admitted fewer than `cap`."""
    N, k = chosen.shape
    keep = torch.ones(N, k, dtype=torch.bool)
    used = [0] * E
    for t in range(T):
        for b in range(B):
            n = b * T + t
            for j in range(k):
                e = int(chosen[n, j])
                if used[e] < cap:
                    used[e] += 1
                else:
                    keep[n, j] = False
    return keep


class RoutedMoE(nn.Module):
    def __init__(self, cfg, mlp_cls):
        super().__init__()
        C, E = cfg.n_embd, cfg.n_experts
        self.E, self.k, self.kind = E, cfg.num_exp, cfg.router
        self.gate_noise, self.cf = cfg.gate_noise, cfg.capacity_factor
        self.noise_enabled = True
        if self.kind == "attention":
            self.router = AttentionRouter(C, E)
        else:
            self.gate = nn.Linear(C, E, bias=False)
        self.experts = nn.ModuleList([make_expert(cfg, mlp_cls) for _ in range(E)])
        self.last_dropped = 0.0
        self.last_assign = None   # (N, E) weights actually used, for tests

    # A dict of the router's tensors is what DSMoE-style hooks in model.py expect.
    def logits(self, x2):
        z = self.router(x2) if self.kind == "attention" else self.gate(x2)
        if self.training and self.noise_enabled and self.gate_noise > 0:
            s = self.gate_noise
            z = z * (1 - s / 2 + s * torch.rand_like(z))
        return z

    def forward(self, x, ctx=None):
        shape = x.shape
        B, T = (shape[0], shape[1]) if x.dim() == 3 else (1, shape[0])
        x2 = x.reshape(-1, shape[-1])
        N, E, k = x2.shape[0], self.E, self.k
        z = self.logits(x2)
        p = torch.softmax(z, dim=-1)
        W = torch.zeros(N, E, dtype=x2.dtype)          # weight of expert e for token n
        dropped = 0.0
        if self.kind == "expert_choice" and self.training:
            cap = capacity(self.cf, N, k, E)
            taken = torch.zeros(N, E, dtype=torch.bool)
            with torch.no_grad():
                for e in range(E):                     # stable sort: ties to the lower n
                    order = torch.sort(p[:, e], descending=True, stable=True).indices[:cap]
                    taken[order, e] = True
            W = torch.where(taken, p, torch.zeros_like(p))
            dropped = float((~taken.any(dim=1)).sum()) / N
        else:
            with torch.no_grad():
                chosen = torch.sort(z, dim=-1, descending=True, stable=True).indices[:, :k]
            pc = torch.gather(p, 1, chosen)
            if self.kind == "expert_choice":         # eval: token-choice, weights p
                w = pc
            else:
                w = pc / pc.sum(dim=-1, keepdim=True) if k >= 2 else pc
            keep = torch.ones(N, k, dtype=torch.bool)
            if self.training and self.cf > 0:
                keep = admit_position_major(chosen, B, T, E, capacity(self.cf, N, k, E))
                dropped = float((~keep).sum()) / (N * k)
            w = torch.where(keep, w, torch.zeros_like(w))
            W = torch.zeros(N, E, dtype=x2.dtype).scatter(1, chosen, w)
            if self.kind in ("topk", "attention") and ctx is not None:
                f = torch.zeros(E, dtype=x2.dtype)
                for e in range(E):
                    f[e] = float((chosen == e).sum()) / N
                ctx["aux"].append(E * (f * p.mean(dim=0)).sum())
        y = torch.zeros_like(x2)
        for e in range(E):
            tok = (W[:, e] != 0).nonzero(as_tuple=True)[0]
            if self.kind == "expert_choice" and self.training:
                tok = taken[:, e].nonzero(as_tuple=True)[0]
            if tok.numel() == 0:
                continue
            ye = self.experts[e](x2.index_select(0, tok))
            y = y.index_add(0, tok, W[tok, e][:, None] * ye)
        self.last_dropped = dropped
        self.last_assign = W.detach()
        if ctx is not None:
            ctx.setdefault("dropped", []).append(dropped)
        return y.reshape(shape)
