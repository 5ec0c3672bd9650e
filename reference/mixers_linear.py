"""Reference sequence mixers of SPEC §10 beyond Tiny-R2: "Linear" (causal linear attention)
and "LFA" (Yuan 2.0 localized filtering attention). Literal formulas, any dtype; the
model (reference/model.py) builds them for attention_types "Linear" and "LFA".

Linear:  q,k,v = split(c_attn x); phi(u) = elu(u) + 1;
         o_t = phi(q_t)^T S_t / (phi(q_t) . z_t + 1e-6),  S_t = sum_{u<=t} phi(k_u) v_u^T,
         z_t = sum_{u<=t} phi(k_u)  (computed here as the literal cumulative sums).
LFA:     f = lf.norm(conv2(conv1(x)) + x), causal convs of kernel 2 (u_{-1} = 0);
         q,k = split(c_qk f), v = c_v x; causal softmax attention (RoPE on q, k when
         pos_embedding is "rope"); y = c_proj(merge).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

try:
    from model import Linear, RMSNorm, rope, masked_attention, dropout
except ImportError:  # imported as a package module
    from .model import Linear, RMSNorm, rope, masked_attention, dropout  # type: ignore


class LinearAttention(nn.Module):
    """SPEC §10 "Linear": names c_attn (3C,C), c_proj (C,C); no RoPE."""

    def __init__(self, cfg):
        super().__init__()
        C = cfg.n_embd
        self.n_head, self.dropout_p = cfg.n_head, cfg.dropout
        self.c_attn = Linear(C, 3 * C)
        self.c_proj = Linear(C, C)

    def forward(self, x, ctx=None):
        B, T, C = x.shape
        H = self.n_head
        D = C // H
        q, k, v = self.c_attn(x).split(C, dim=-1)
        q, k, v = (t.reshape(B, T, H, D) for t in (q, k, v))
        fq, fk = F.elu(q) + 1, F.elu(k) + 1
        S = torch.cumsum(torch.einsum("bthd,bthe->bthde", fk, v), dim=1)  # (B,T,H,D,D)
        z = torch.cumsum(fk, dim=1)                                       # (B,T,H,D)
        num = torch.einsum("bthd,bthde->bthe", fq, S)
        den = (fq * z).sum(-1, keepdim=True) + 1e-6
        y = num / den
        return dropout(self.c_proj(y.reshape(B, T, C)), self.dropout_p, self.training)


class CausalConv2(nn.Module):
    """Causal 1-D convolution of kernel 2 with bias, PyTorch Conv1d weight layout
    (out, in, 2): out_t = W[:,:,0] u_{t-1} + W[:,:,1] u_t + b, u_{-1} = 0."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_out, n_in, 2))
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, u):  # (B,T,n_in)
        prev = F.pad(u, (0, 0, 1, 0))[:, :-1]
        return prev @ self.weight[:, :, 0].t() + u @ self.weight[:, :, 1].t() + self.bias


class LocalizedFiltering(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C = cfg.n_embd
        self.conv1 = CausalConv2(C, C // 2)
        self.conv2 = CausalConv2(C // 2, C)
        self.norm = RMSNorm(C, cfg.norm_eps)

    def forward(self, x):
        return self.norm(self.conv2(self.conv1(x)) + x)


class LFAttention(nn.Module):
    """SPEC §10 "LFA": names lf.conv1.{weight,bias}, lf.conv2.{weight,bias}, lf.norm.weight,
    c_qk (2C,C), c_v (C,C), c_proj (C,C)."""

    def __init__(self, cfg):
        super().__init__()
        C = cfg.n_embd
        self.cfg = cfg
        self.n_head, self.dropout_p = cfg.n_head, cfg.dropout
        self.lf = LocalizedFiltering(cfg)
        self.c_qk = Linear(C, 2 * C)
        self.c_v = Linear(C, C)
        self.c_proj = Linear(C, C)

    def forward(self, x, ctx=None):
        B, T, C = x.shape
        H = self.n_head
        D = C // H
        f = self.lf(x)
        q, k = self.c_qk(f).split(C, dim=-1)
        q, k = q.reshape(B, T, H, D), k.reshape(B, T, H, D)
        v = self.c_v(x).reshape(B, T, H, D)
        t = torch.arange(T)
        if self.cfg.pos_embedding == "rope":
            base = self.cfg.rope_base(D)
            q, k = rope(q, t[:, None], base), rope(k, t[:, None], base)
        causal = t[None, :] <= t[:, None]
        y, _ = masked_attention(q, k, v, causal, 1.0 / math.sqrt(D))
        return dropout(self.c_proj(y.reshape(B, T, C)), self.dropout_p, self.training)


# attention_types name -> constructor (model.py's Block uses it).
MIXERS = {"Linear": LinearAttention, "LFA": LFAttention}


@torch.no_grad()
def init_conv(module, g, std):
    """SPEC §10: LFA conv weights N(0, init_std), biases 0."""
    for m in module.modules():
        if isinstance(m, CausalConv2):
            m.weight.copy_(torch.randn(m.weight.shape, generator=g,
                                       dtype=torch.float32).to(m.weight.dtype) * std)
            m.bias.zero_()
