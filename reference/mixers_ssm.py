"""Retention and Mamba sequence mixers (SPEC §10), literal formulas, any float dtype.

Both fill the attention slot of a block like CausalSelfAttention (model.py imports them).
They are written for clarity, not speed: Retention builds the (H, T, T) decay mask and
Mamba runs its recurrence one position at a time (what the C++ kernels compute in chunks).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def _rope(x, pos, theta):
    """Half-split RoPE (SPEC §2.2) on the last dim of x; pos broadcasts against x.shape[:-1]."""
    D = x.shape[-1]
    half = D // 2
    i = torch.arange(half, dtype=torch.float64)
    ang = pos.to(torch.float64)[..., None] * (float(theta) ** (-2.0 * i / D))
    cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    a, b = x[..., :half], x[..., half:]
    return torch.cat([a * cos - b * sin, a * sin + b * cos], dim=-1)


def retention_rope_base(cfg):
    """The RoPE base of a Retention layer (SPEC §10): the NTK base of its head size."""
    return cfg.rope_base(cfg.n_embd // cfg.n_head)


class _Weight(nn.Module):
    """A module holding one `weight` (so the state-dict name is `<name>.weight`)."""

    def __init__(self, n, value):
        super().__init__()
        self.weight = nn.Parameter(torch.full((n,), float(value)))


class Retention(nn.Module):
    """o_t = Σ_{u≤t} γ_h^(t−u) (q_t·k_u / sqrt(D)) v_u with RoPE on q and k,
    γ_h = 1 − 2^(−5−h); per-head RMS norm scaled by head_norm.weight;
    y = c_proj(silu(g_proj x) ⊙ merge(o))."""

    def __init__(self, cfg):
        super().__init__()
        C = cfg.n_embd
        self.n_head, self.eps, self.dropout_p = cfg.n_head, cfg.norm_eps, cfg.dropout
        self.theta = retention_rope_base(cfg)
        if (C // cfg.n_head) % 2:
            raise ValueError("Retention needs an even head size for RoPE")
        self.c_attn = nn.Linear(C, 3 * C, bias=False)
        self.g_proj = nn.Linear(C, C, bias=False)
        self.head_norm = _Weight(C, 1.0)
        self.c_proj = nn.Linear(C, C, bias=False)

    @staticmethod
    def gammas(H, dtype=torch.float64):
        return 1.0 - torch.pow(2.0, -5.0 - torch.arange(H, dtype=torch.float64)).to(dtype)

    def forward(self, x, ctx=None):
        B, T, C = x.shape
        H = self.n_head
        D = C // H
        q, k, v = self.c_attn(x).split(C, dim=-1)
        q, k, v = (t.reshape(B, T, H, D) for t in (q, k, v))
        pos = torch.arange(T)[:, None]                       # (T, 1) against (B, T, H)
        q, k = _rope(q, pos, self.theta), _rope(k, pos, self.theta)
        t = torch.arange(T)
        diff = (t[:, None] - t[None, :]).to(x.dtype)         # t − u
        gam = self.gammas(H, x.dtype)[:, None, None]
        decay = torch.where(diff >= 0, gam ** diff.clamp(min=0), torch.zeros((), dtype=x.dtype))
        s = torch.einsum("bthd,buhd->bhtu", q, k) / math.sqrt(D) * decay
        o = torch.einsum("bhtu,buhd->bthd", s, v)
        o = o / torch.sqrt(o.pow(2).mean(-1, keepdim=True) + self.eps)
        o = o * self.head_norm.weight.view(H, D)
        y = self.c_proj(F.silu(self.g_proj(x)) * o.reshape(B, T, C))
        return F.dropout(y, self.dropout_p, True) if (self.training and self.dropout_p > 0) else y


class Mamba(nn.Module):
    """Mamba-1 selective SSM (SPEC §10): [xs, z] = split(in_proj x); xc = silu(conv1d(xs))
    (depthwise, causal); [δ, Bm, Cm] = split(x_proj xc); Δ = softplus(dt_proj δ + bias);
    A = −exp(A_log); h_t = exp(Δ_t A) h_{t−1} + Δ_t xc_t Bm_t; y_t = h_t Cm_t + D xc_t;
    out = out_proj(y ⊙ silu(z))."""

    def __init__(self, cfg):
        super().__init__()
        C = cfg.n_embd
        self.d_in = cfg.mamba_expand * C
        self.N, self.K, self.R = cfg.mamba_d_state, cfg.mamba_d_conv, cfg.mamba_dt_rank
        self.dropout_p = cfg.dropout
        d = self.d_in
        self.in_proj = nn.Linear(C, 2 * d, bias=False)
        self.conv1d = nn.Conv1d(d, d, self.K, groups=d, bias=True)   # weight (d, 1, K)
        self.x_proj = nn.Linear(d, self.R + 2 * self.N, bias=False)
        self.dt_proj = nn.Linear(self.R, d, bias=True)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, self.N + 1, dtype=torch.float32))
                                  .repeat(d, 1))
        self.D = nn.Parameter(torch.ones(d))
        self.out_proj = nn.Linear(d, C, bias=False)

    @torch.no_grad()
    def init_ssm(self, g):
        """SPEC §10 init of the tensors that are not N(0, init_std) Linear weights."""
        def uniform(shape, bound):
            return (torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1) * bound

        self.conv1d.weight.copy_(uniform(self.conv1d.weight.shape, self.K ** -0.5))
        self.conv1d.bias.copy_(uniform(self.conv1d.bias.shape, self.K ** -0.5))
        self.dt_proj.weight.copy_(uniform(self.dt_proj.weight.shape, self.R ** -0.5))
        lo, hi = math.log(1e-3), math.log(0.1)
        dt = torch.exp(torch.rand(self.d_in, generator=g, dtype=torch.float64) * (hi - lo) + lo)
        dt = dt.clamp(min=1e-4)
        self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
        self.A_log.copy_(torch.log(torch.arange(1, self.N + 1, dtype=torch.float64))
                         .repeat(self.d_in, 1))
        self.D.fill_(1.0)

    def forward(self, x, ctx=None):
        B, T, C = x.shape
        d, N, K, R = self.d_in, self.N, self.K, self.R
        xs, z = self.in_proj(x).split(d, dim=-1)
        # conv1d(xs)_t[c] = b[c] + Σ_{j<K} w[c,0,j] · xs_{t−K+1+j}[c], zeros before 0
        xp = F.pad(xs.transpose(1, 2), (K - 1, 0))
        xc = F.silu(F.conv1d(xp, self.conv1d.weight, self.conv1d.bias, groups=d).transpose(1, 2))
        delta, Bm, Cm = self.x_proj(xc).split([R, N, N], dim=-1)
        delta = F.softplus(self.dt_proj(delta))                # (B, T, d)
        A = -torch.exp(self.A_log)                             # (d, N)
        h = x.new_zeros(B, d, N)
        ys = []
        for t in range(T):
            dt = delta[:, t, :, None]
            h = torch.exp(dt * A) * h + dt * xc[:, t, :, None] * Bm[:, t, None, :]
            ys.append((h * Cm[:, t, None, :]).sum(-1) + self.D * xc[:, t])
        y = torch.stack(ys, dim=1)
        out = self.out_proj(y * F.silu(z))
        return F.dropout(out, self.dropout_p, True) if (self.training and self.dropout_p > 0) \
            else out
