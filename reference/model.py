"""PyTorch reference of the tinyr2 model (SPEC §2, §3). Clarity over speed.

    cfg = Config.from_file("config.json")
    model = Transformer(cfg); init_weights(model, seed)
    logits, out = model(idx, targets)    # out = {"loss", "ce", "bal"} when targets given
    save_model(model, dir); model = load_model(dir)

Every module keeps the exact SPEC §3 parameter names, so `model.state_dict()` is the
safetensors content. Any dtype works (the CLI and the gradchecks run in float64).
"""
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from config import Config

try:
    import safetensors_io
except ImportError:  # imported as a package module
    from . import safetensors_io  # type: ignore

try:
    from mixers_ssm import Mamba, Retention
except ImportError:  # imported as a package module
    from .mixers_ssm import Mamba, Retention  # type: ignore

SSM_MIXERS = {"Retention": Retention, "Mamba": Mamba}  # SPEC §10 (reference/mixers_ssm.py)

try:
    import ffn_variants
except ImportError:  # imported as a package module
    from . import ffn_variants  # type: ignore


# ------------------------------------------------------------------------------------
# Small pieces
# ------------------------------------------------------------------------------------

def Linear(n_in, n_out):
    return nn.Linear(n_in, n_out, bias=False)


class RMSNorm(nn.Module):
    """y = x / sqrt(mean(x^2) + eps) * weight."""

    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope(x, pos, theta):
    """Half-split RoPE on the last dim (even D) of x. `pos` holds integer positions and must
    broadcast against x.shape[:-1]. Angles p*f_i are computed in float64, then cos/sin are
    rounded to x's dtype."""
    D = x.shape[-1]
    half = D // 2
    i = torch.arange(half, dtype=torch.float64)
    f = float(theta) ** (-2.0 * i / D)
    ang = pos.to(torch.float64)[..., None] * f
    cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    a, b = x[..., :half], x[..., half:]
    return torch.cat([a * cos - b * sin, a * sin + b * cos], dim=-1)


def masked_attention(q, k, v, mask, scale):
    """q (B,T,H,D), k (B,N,H,D), v (B,N,H,Dv), mask bool broadcastable to (B,H,T,N)
    (True = visible). Softmax over visible keys; a query with no visible key gets 0.
    Returns (out (B,T,H,Dv), probs (B,H,T,N))."""
    s = torch.einsum("bthd,bnhd->bhtn", q, k) * scale
    mask = mask.expand(s.shape)
    has_key = mask.any(dim=-1, keepdim=True)
    s = s.masked_fill(~mask, float("-inf")).masked_fill(~has_key, 0.0)  # empty rows: finite
    p = torch.softmax(s, dim=-1).masked_fill(~has_key, 0.0)
    return torch.einsum("bhtn,bnhd->bthd", p, v), p


def dropout(x, p, training):
    return F.dropout(x, p, training) if (training and p > 0) else x


# ------------------------------------------------------------------------------------
# FULL attention (§2.1)
# ------------------------------------------------------------------------------------

class CausalSelfAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C = cfg.n_embd
        self.n_head, self.v_residual, self.dropout_p = cfg.n_head, cfg.v_residual, cfg.dropout
        self.cfg = cfg
        self.c_attn = Linear(C, 3 * C)
        self.c_proj = Linear(C, C)
        self.lamb1 = nn.Parameter(torch.tensor(0.5))
        self.lamb2 = nn.Parameter(torch.tensor(0.5))

    def forward(self, x, ctx):
        B, T, C = x.shape
        H = self.n_head
        D = C // H
        q, k, v = self.c_attn(x).split(C, dim=-1)
        q, k, v = (t.reshape(B, T, H, D) for t in (q, k, v))
        if self.v_residual:
            if ctx["v_first"] is None:
                ctx["v_first"] = v          # first FULL layer in depth order: raw v, unchanged
            else:
                v = self.lamb1 * v + self.lamb2 * ctx["v_first"]
        t = torch.arange(T)
        if self.cfg.pos_embedding == "rope":  # SPEC §10: RoPE on each head's q and k
            base = self.cfg.rope_base(D)
            q, k = rope(q, t[:, None], base), rope(k, t[:, None], base)
        causal = t[None, :] <= t[:, None]   # (T query, T key)
        y, _ = masked_attention(q, k, v, causal, 1.0 / math.sqrt(D))
        return dropout(self.c_proj(y.reshape(B, T, C)), self.dropout_p, self.training)


# ------------------------------------------------------------------------------------
# Sparse attention: MLA + NSA (§2.3)
# ------------------------------------------------------------------------------------

def num_compressed_blocks(T, l, d):
    """Complete compression blocks [i*d, i*d+l) inside a length-T sequence."""
    return 0 if T < l else (T - l) // d + 1


def compressed_visibility(T, n_cmp, l, d):
    """(T, n_cmp) bool: block i visible to query t iff i*d + l - 1 <= t."""
    t = torch.arange(T)[:, None]
    i = torch.arange(n_cmp)[None, :]
    return i * d + l - 1 <= t


def overlap_weights(n_cmp, n_sel, l, d, ls, dtype=torch.float64):
    """(n_cmp, n_sel): w(i,j) = |[i*d, i*d+l) ∩ [j*ls, (j+1)*ls)| / d."""
    W = torch.zeros(n_cmp, n_sel, dtype=torch.float64)
    for i in range(n_cmp):
        for j in range(n_sel):
            lo, hi = max(i * d, j * ls), min(i * d + l, (j + 1) * ls)
            W[i, j] = max(0, hi - lo) / d
    return W.to(dtype)


def select_blocks(scores, ls, n, n_init, n_local):
    """scores (B,T,n_sel) -> selected (B,T,n_sel) bool, per SPEC §2.3 branch 2 step 3.
    Candidates j*ls <= t; forced: j < n_init and jt-n_local < j <= jt (jt = t // ls);
    the rest filled up to n blocks by descending score, ties to the lower j."""
    B, T, n_sel = scores.shape
    with torch.no_grad():
        t = torch.arange(T)[:, None]
        j = torch.arange(n_sel)[None, :]
        jt = t // ls
        cand = j * ls <= t
        forced = cand & ((j < n_init) | ((j > jt - n_local) & (j <= jt)))
        key = torch.where(forced, torch.full_like(scores, float("inf")),
                          torch.where(cand, scores, torch.full_like(scores, float("-inf"))))
        # stable descending sort keeps equal keys in index order: ties go to the lower j
        order = torch.sort(key, dim=-1, descending=True, stable=True).indices[..., :n]
        sel = torch.zeros(B, T, n_sel, dtype=torch.bool)
        sel.scatter_(-1, order, True)
        return sel & cand


class SparseAttention(nn.Module):
    """MLA query + the three NSA branches (compression, selection, sliding window)."""

    def __init__(self, cfg, layer):
        super().__init__()
        C, H = cfg.n_embd, cfg.n_head
        self.cfg = cfg
        self.H, self.nope, self.rdim, self.vd = (H, cfg.qk_nope_head_dim, cfg.qk_rope_head_dim,
                                                 cfg.v_head_dim)
        self.b1, self.b2, self.b3 = cfg.branches(layer)
        self.n_active = self.b1 + self.b2 + self.b3
        self.dropout_p = cfg.dropout
        self.l, self.d, self.ls = cfg.block_size, cfg.block_stride, cfg.select_block_size
        dqk = self.nope + self.rdim
        self.compress_q_linear = Linear(C, cfg.q_lora_rank)
        self.q_norm = RMSNorm(cfg.q_lora_rank, cfg.norm_eps)
        self.decompress_q_nope = Linear(cfg.q_lora_rank, H * self.nope)
        self.decompress_q_rope = Linear(cfg.q_lora_rank, H * self.rdim)
        if self.b1 or self.b2:
            self.block_compressor = nn.Sequential(Linear(self.l * C, cfg.compress_hidden),
                                                  nn.GELU(),
                                                  Linear(cfg.compress_hidden, C))
            self.intra_block_pos_encoding = nn.Parameter(torch.zeros(self.l, C))
            self.compress_kv_linear = Linear(C, cfg.kv_lora_rank)
            self.kv_norm = RMSNorm(cfg.kv_lora_rank, cfg.norm_eps)
            self.decompress_k_nope = Linear(cfg.kv_lora_rank, H * self.nope)
            self.decompress_v_linear = Linear(cfg.kv_lora_rank, H * self.vd)
            self.k_rope_linear = Linear(C, self.rdim)
        if self.b2:
            self.selection_k = Linear(C, H * dqk)
            self.selection_v = Linear(C, H * self.vd)
        if self.b3:
            self.window_k = Linear(C, H * dqk)
            self.window_v = Linear(C, H * self.vd)
        n_gate = self.n_active if cfg.branch_gate == "softmax" else H * self.n_active
        self.branch_gate = Linear(C, n_gate)
        self.proj = Linear(H * self.vd, C)
        self.last_selection = None  # (B,T,n_sel) bool of the last forward (branch 2)

    def _rope_keys(self, k, pos):
        """k (B,N,H,nope+rope): RoPE on each head's rope part at positions pos (N,)."""
        base = self.cfg.rope_base(self.rdim)
        return torch.cat([k[..., :self.nope], rope(k[..., self.nope:], pos[:, None], base)],
                         dim=-1)

    def forward(self, x, ctx=None):
        cfg = self.cfg
        B, T, C = x.shape
        H, nope, rdim, vd = self.H, self.nope, self.rdim, self.vd
        scale = 1.0 / math.sqrt(nope + rdim)
        pos = torch.arange(T)
        u_le_t = pos[None, :] <= pos[:, None]               # (T query, T key)

        # Query (MLA), shared by every branch.
        c_q = self.q_norm(self.compress_q_linear(x))
        q_nope = self.decompress_q_nope(c_q).reshape(B, T, H, nope)
        q_rope = rope(self.decompress_q_rope(c_q).reshape(B, T, H, rdim), pos[:, None],
                      cfg.rope_base(rdim))
        q = torch.cat([q_nope, q_rope], dim=-1)             # (B,T,H,nope+rope)

        outs = []
        # Branch 1: compressed blocks (also needed for branch 2's importance scores).
        if self.b1 or self.b2:
            l, d = self.l, self.d
            n_cmp = num_compressed_blocks(T, l, d)
            if n_cmp > 0:
                blocks = torch.stack([x[:, i * d:i * d + l] for i in range(n_cmp)], dim=1)
                blocks = blocks + self.intra_block_pos_encoding          # (B,n_cmp,l,C)
                xt = self.block_compressor(blocks.reshape(B, n_cmp, l * C))  # token-major
                c_kv = self.kv_norm(self.compress_kv_linear(xt))
                k_nope = self.decompress_k_nope(c_kv).reshape(B, n_cmp, H, nope)
                v1 = self.decompress_v_linear(c_kv).reshape(B, n_cmp, H, vd)
                k_pos = torch.arange(n_cmp) * d + l - 1
                k_r = rope(self.k_rope_linear(xt), k_pos, cfg.rope_base(rdim))
                k1 = torch.cat([k_nope, k_r[:, :, None, :].expand(B, n_cmp, H, rdim)], dim=-1)
                o1, p1 = masked_attention(q, k1, v1, compressed_visibility(T, n_cmp, l, d),
                                          scale)
            else:
                o1 = q.new_zeros(B, T, H, vd)
                p1 = q.new_zeros(B, H, T, 0)
            if self.b1:
                outs.append(o1)

        # Branch 2: top-n selection blocks per query.
        if self.b2:
            ls = self.ls
            n_sel = (T + ls - 1) // ls
            W = overlap_weights(p1.shape[-1], n_sel, self.l, self.d, ls, dtype=x.dtype)
            with torch.no_grad():
                s = torch.einsum("bhti,ij->btj", p1.detach(), W)       # sum over heads and i
            sel = select_blocks(s, ls, cfg.n_select, cfg.select_init_blocks,
                                cfg.select_local_blocks)
            self.last_selection = sel
            key_block = pos // ls                                       # block of key u
            mask2 = sel[:, :, key_block] & u_le_t[None]                 # (B,T,T)
            k2 = self._rope_keys(self.selection_k(x).reshape(B, T, H, nope + rdim), pos)
            v2 = self.selection_v(x).reshape(B, T, H, vd)
            o2, _ = masked_attention(q, k2, v2, mask2[:, None], scale)
            outs.append(o2)

        # Branch 3: sliding window t - w < u <= t.
        if self.b3:
            mask3 = u_le_t & (pos[None, :] > pos[:, None] - cfg.window_size)
            k3 = self._rope_keys(self.window_k(x).reshape(B, T, H, nope + rdim), pos)
            v3 = self.window_v(x).reshape(B, T, H, vd)
            o3, _ = masked_attention(q, k3, v3, mask3, scale)
            outs.append(o3)

        # Gate over the active branches (branch order 1, 2, 3).
        g = self.branch_gate(x)
        if cfg.branch_gate == "softmax":
            g = torch.softmax(g, dim=-1)                                # (B,T,n_active)
            o = sum(g[:, :, c, None, None] * oc for c, oc in enumerate(outs))
        else:
            g = torch.sigmoid(g).reshape(B, T, H, self.n_active)        # row h*n_active + c
            o = sum(g[:, :, :, c, None] * oc for c, oc in enumerate(outs))
        y = self.proj(o.reshape(B, T, H * vd))
        return dropout(y, self.dropout_p, self.training)


# ------------------------------------------------------------------------------------
# FFN: MLP and DSMoE (§2.4)
# ------------------------------------------------------------------------------------

class MLP(nn.Module):
    def __init__(self, C, hidden, p):
        super().__init__()
        self.dropout_p = p
        self.c_fc = Linear(C, hidden)
        self.c_proj = Linear(hidden, C)

    def forward(self, x, ctx=None):
        return dropout(self.c_proj(F.relu(self.c_fc(x)).square()), self.dropout_p,
                       self.training)


class DSMoE(nn.Module):
    """Shared expert 0 + top-(k-1) of E-1 routed experts; only chosen experts run."""

    def __init__(self, cfg):
        super().__init__()
        C, E = cfg.n_embd, cfg.n_experts
        self.E, self.k = E, cfg.num_exp
        self.gate_noise, self.bias_rate = cfg.gate_noise, cfg.expert_bias_rate
        self.capacity_factor = cfg.capacity_factor      # SPEC §11 (training only)
        self.noise_enabled = True
        self.gate = Linear(C, E - 1)                       # row i routes to experts.{i+1}
        self.experts = nn.ModuleList([ffn_variants.make_expert(cfg, MLP) for _ in range(E)])
        self.register_buffer("expert_bias", torch.zeros(E - 1))
        self.last_counts = torch.zeros(E - 1, dtype=torch.int64)   # last forward
        self.step_counts = torch.zeros(E - 1, dtype=torch.int64)   # summed in training mode
        self.last_router_weights = None                            # R[:, 1:] of last forward

    def route(self, x2):
        """x2 (N,C) -> chosen (N,k-1) routed-expert indices 0..E-2 (gate columns), their
        weights ghat (N,k-1) and p (N,E-1)."""
        z = self.gate(x2)
        if self.training and self.noise_enabled and self.gate_noise > 0:
            s = self.gate_noise
            z = z * (1 - s / 2 + s * torch.rand_like(z))
        p = torch.softmax(z, dim=-1)
        kr = self.k - 1
        with torch.no_grad():  # the bias only chooses; stable sort: ties to the lower index
            chosen = torch.sort(p + self.expert_bias.to(p.dtype), dim=-1, descending=True,
                                stable=True).indices[:, :kr]
        pc = torch.gather(p, 1, chosen)
        ghat = pc / pc.sum(dim=-1, keepdim=True) if kr >= 2 else pc
        return chosen, ghat, p

    def forward(self, x, ctx=None):
        shape = x.shape
        x2 = x.reshape(-1, shape[-1])
        N, E, k = x2.shape[0], self.E, self.k
        chosen, ghat, _ = self.route(x2)
        routed = torch.zeros_like(x2)
        counts = torch.zeros(E - 1, dtype=torch.int64)
        keep = torch.ones_like(chosen, dtype=torch.bool)
        if self.training and self.capacity_factor > 0:  # SPEC §11: position-major admission
            B, T = (shape[0], shape[1]) if x.dim() == 3 else (1, N)
            cap = ffn_variants.capacity(self.capacity_factor, N, k - 1, E - 1)
            keep = ffn_variants.admit_position_major(chosen, B, T, E - 1, cap)
            if ctx is not None:
                ctx["dropped"].append(float((~keep).sum()) / chosen.numel())
        for e in range(1, E):
            tok, slot = (chosen == e - 1).nonzero(as_tuple=True)
            counts[e - 1] = tok.numel()
            kept = keep[tok, slot]
            tok, slot = tok[kept], slot[kept]
            if tok.numel() == 0:
                continue
            ye = self.experts[e](x2.index_select(0, tok))
            routed = routed.index_add(0, tok, ghat[tok, slot][:, None] * ye)
        y = self.experts[0](x2) / k + (k - 1) / k * routed

        # Router weights of the routed columns and the load-balance loss.
        R = torch.zeros(N, E - 1, dtype=x2.dtype).scatter(1, chosen, (k - 1) / k * ghat)
        col = R.sum(dim=0)
        load = col / col.sum()
        bal = (E - 1) * ((load - 1.0 / (E - 1)) ** 2).sum()
        self.last_router_weights = R
        self.last_counts = counts
        if self.training:
            self.step_counts = self.step_counts + counts
        if ctx is not None:
            ctx["bal"].append(bal)
        return y.reshape(shape)

    @torch.no_grad()
    def update_expert_bias(self, counts):
        """§2.4 step 6: bias_i += rate * sign(mean(c) - c_i), c = tokens routed per expert
        over the whole optimizer step."""
        c = torch.as_tensor(counts).to(torch.float64).reshape(self.E - 1)
        step = self.bias_rate * torch.sign(c.mean() - c)
        self.expert_bias.add_(step.to(self.expert_bias.dtype))


# ------------------------------------------------------------------------------------
# Hyper-connections (§2.5)
# ------------------------------------------------------------------------------------

def sinkhorn(logits, tau, iters):
    Z = logits / tau
    S = Z.shape[0]
    m = -math.log(S)
    u = Z.new_zeros(S)
    v = Z.new_zeros(S)
    for _ in range(iters):
        u = m - torch.logsumexp(Z + v[None, :], dim=1)
        v = m - torch.logsumexp(Z + u[:, None], dim=0)
    return S * torch.exp(Z + u[:, None] + v[None, :])


def orthostochastic(logits, steps, eps, coeffs):
    a, b, c = coeffs
    X = logits / (torch.linalg.norm(logits) + eps)
    for _ in range(steps):
        A = X @ X.t()
        X = a * X + (b * A + c * A @ A) @ X
    return X * X


class MHC(nn.Module):
    """Static manifold-constrained hyper-connection. R (B,T,S,C)."""

    def __init__(self, cfg, layer_index):
        super().__init__()
        S = cfg.hc_num_streams
        r = layer_index % S
        self.cfg = cfg
        if cfg.mhc_h_res_proj == "sinkhorn":
            res = torch.full((S, S), -8.0)
            res.fill_diagonal_(0.0)
        else:
            res = torch.eye(S)
        pre = torch.full((S,), -8.0)
        pre[r] = 0.0
        self.H_res_logits = nn.Parameter(res)
        self.H_pre_logits = nn.Parameter(pre)
        self.H_post_logits = nn.Parameter(torch.zeros(S))

    def h_res(self):
        cfg = self.cfg
        if cfg.mhc_h_res_proj == "sinkhorn":
            return sinkhorn(self.H_res_logits, cfg.sinkhorn_tau, cfg.sinkhorn_iters)
        return orthostochastic(self.H_res_logits, cfg.ns_steps, cfg.ns_eps, cfg.ns_coeffs)

    def forward(self, R, branch):
        H_pre = torch.softmax(self.H_pre_logits, dim=0)
        H_post = torch.softmax(self.H_post_logits, dim=0)
        H_res = self.h_res()
        u = torch.einsum("s,btsc->btc", H_pre, R)
        h = branch(u)
        return torch.einsum("su,btsc->btuc", H_res, R) + H_post[:, None] * h[:, :, None, :]


class HCNorm(nn.Module):
    def __init__(self, C):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(C))


class DynamicHC(nn.Module):
    """Dynamic hyper-connection (mhc: false). R (B,T,S,C)."""

    def __init__(self, cfg, layer_index):
        super().__init__()
        S, C = cfg.hc_num_streams, cfg.n_embd
        r = layer_index % S
        sa = torch.zeros(S, S + 1)
        sa[r, 0] = 1.0
        sa[:, 1:] = torch.eye(S)
        self.static_alpha = nn.Parameter(sa)
        self.dynamic_alpha_fn = nn.Parameter(torch.zeros(C, S + 1))
        self.dynamic_alpha_scale = nn.Parameter(torch.tensor(0.01))
        self.static_beta = nn.Parameter(torch.ones(S))
        self.dynamic_beta_fn = nn.Parameter(torch.zeros(C))
        self.dynamic_beta_scale = nn.Parameter(torch.tensor(0.01))
        self.norm = HCNorm(C)

    def forward(self, R, branch):
        C = R.shape[-1]
        nrm = torch.linalg.vector_norm(R, dim=-1, keepdim=True).clamp_min(1e-12)
        N = R / nrm * math.sqrt(C) * (self.norm.gamma + 1)                 # (B,T,S,C)
        alpha = torch.tanh(N @ self.dynamic_alpha_fn) * self.dynamic_alpha_scale \
            + self.static_alpha                                              # (B,T,S,S+1)
        mix = torch.einsum("btsj,btsc->btjc", alpha, R)                      # (B,T,S+1,C)
        h = branch(mix[:, :, 0])
        beta = torch.tanh(N @ self.dynamic_beta_fn) * self.dynamic_beta_scale \
            + self.static_beta                                               # (B,T,S)
        return mix[:, :, 1:] + beta[..., None] * h[:, :, None, :]


# ------------------------------------------------------------------------------------
# Block and model
# ------------------------------------------------------------------------------------

def _linear_mixers():
    """reference/mixers_linear.py (SPEC §10 Linear, LFA), imported late: it imports us."""
    try:
        import mixers_linear
    except ImportError:  # imported as a package module
        from . import mixers_linear  # type: ignore
    return mixers_linear


class Block(nn.Module):
    def __init__(self, cfg, i):
        super().__init__()
        C = cfg.n_embd
        self.rm1 = RMSNorm(C, cfg.norm_eps)
        self.rm2 = RMSNorm(C, cfg.norm_eps)
        kind = cfg.attention_type(i)
        if kind == "FULL":
            self.attn = CausalSelfAttention(cfg)
        elif kind == "Sparse":
            self.attn = SparseAttention(cfg, i)
        elif kind in ("Linear", "LFA"):
            self.attn = _linear_mixers().MIXERS[kind](cfg)
        else:
            self.attn = SSM_MIXERS[kind](cfg)
        kind = cfg.ffn_type(i)
        if kind == "mlp":
            self.ffn = MLP(C, 4 * C, cfg.dropout)
        elif kind == "glu":  # SPEC §11 (reference/ffn_variants.py)
            self.ffn = ffn_variants.GLU(C, cfg.glu_hidden, cfg.glu_activation, cfg.dropout)
        elif cfg.router == "deepseek":
            self.ffn = DSMoE(cfg)
        else:
            self.ffn = ffn_variants.RoutedMoE(cfg, MLP)
        self.use_hc = cfg.hc_active
        if self.use_hc:
            HC = MHC if cfg.mhc else DynamicHC
            self.hc_attn = HC(cfg, 2 * i)
            self.hc_ffn = HC(cfg, 2 * i + 1)

    def forward(self, x, ctx):
        def attn_branch(u):
            return self.attn(self.rm1(u), ctx)

        def ffn_branch(u):
            return self.ffn(self.rm2(u), ctx)

        if self.use_hc:
            x = self.hc_attn(x, attn_branch)
            return self.hc_ffn(x, ffn_branch)
        x = x + attn_branch(x)
        return x + ffn_branch(x)


class Transformer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        C = cfg.n_embd
        self.token_embedding_table = nn.Embedding(cfg.vocab_size, C)
        if cfg.pos_embedding == "learned":  # SPEC §10: "rope" has no position table
            self.position_embedding_table = nn.Embedding(cfg.ctx_len, C)
        self.blocks = nn.ModuleList([Block(cfg, i) for i in range(cfg.n_layer)])
        self.rm_f = RMSNorm(C, cfg.norm_eps)

    def moe_layers(self):
        return [(f"blocks.{i}.ffn", b.ffn) for i, b in enumerate(self.blocks)
                if isinstance(b.ffn, DSMoE)]

    def set_gate_noise(self, on):
        for m in self.modules():
            if isinstance(m, (DSMoE, ffn_variants.RoutedMoE)):
                m.noise_enabled = bool(on)

    def set_dropout(self, p):
        for m in self.modules():
            if hasattr(m, "dropout_p"):
                m.dropout_p = p

    def forward(self, idx, targets=None):
        cfg = self.cfg
        B, T = idx.shape
        if T > cfg.ctx_len:
            raise ValueError(f"sequence length {T} exceeds ctx_len {cfg.ctx_len}")
        x = self.token_embedding_table(idx)
        if cfg.pos_embedding == "learned":
            x = x + self.position_embedding_table(torch.arange(T))
        ctx = {"v_first": None, "bal": [], "aux": [], "dropped": []}
        if cfg.hc_active:
            x = x[:, :, None, :].expand(B, T, cfg.hc_num_streams, cfg.n_embd)  # expand
        for blk in self.blocks:
            x = blk(x, ctx)
        if cfg.hc_active:
            x = x.sum(dim=2)                                                 # reduce
        h = self.rm_f(x)
        logits = h @ self.token_embedding_table.weight.t()                   # tied head
        out = {}
        # L_bal of DSMoE layers (§2.4) or L_aux of topk / attention layers (§11): one router
        # per model, so one of the lists is empty.
        losses = ctx["bal"] + ctx["aux"]
        bal = torch.stack(losses).mean() if losses else logits.new_zeros(())
        coef = cfg.moe_balance_coef if cfg.router == "deepseek" else cfg.moe_aux_coef
        out["bal"] = bal
        out["dropped"] = ctx["dropped"]
        if targets is not None:
            ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
            out["ce"] = ce
            out["loss"] = ce + coef * bal
        return logits, out

    # ---- expert-bias balancing (§2.4 step 6) ------------------------------------------
    def moe_step_counts(self):
        return {name: m.step_counts.clone() for name, m in self.moe_layers()}

    def update_expert_biases(self, counts=None):
        """Apply step 6 to every MoE layer with `counts` ({layer name: (E-1,)}) or, by
        default, the counts summed over training forwards since the last update; resets
        those sums."""
        for name, m in self.moe_layers():
            m.update_expert_bias(counts[name] if counts is not None else m.step_counts)
            m.step_counts = torch.zeros_like(m.step_counts)


# ------------------------------------------------------------------------------------
# Initialisation, save and load
# ------------------------------------------------------------------------------------

@torch.no_grad()
def init_weights(model, seed=1337):
    """Linear / Embedding weights and intra_block_pos_encoding ~ N(0, init_std) drawn from
    one generator in state-dict order; everything else keeps its constructor value
    (norms 1, lamb 0.5, HC inits per §2.5, expert_bias 0)."""
    g = torch.Generator().manual_seed(seed)
    std = model.cfg.init_std
    for name, p in model.named_parameters():
        leaf = name.rsplit(".", 1)
        owner = model.get_submodule(leaf[0]) if len(leaf) == 2 else model
        if isinstance(owner, (nn.Linear, nn.Embedding)) or leaf[-1] == "intra_block_pos_encoding":
            s = getattr(owner, "init_std", std)  # SPEC §11: GLU Xavier / Kaiming
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float32).to(p.dtype) * s)
    for m in model.modules():  # Mamba's SPEC §10 init (after the Linear weights)
        if hasattr(m, "init_ssm"):
            m.init_ssm(g)
    _linear_mixers().init_conv(model, g, std)
    return model


def save_model(model, directory, metadata=None):
    os.makedirs(directory, exist_ok=True)
    model.cfg.save(os.path.join(directory, "config.json"))
    sd = {k: v.detach().to(torch.float32) for k, v in model.state_dict().items()}
    meta = {"format": "pt"}
    meta.update(metadata or {})
    safetensors_io.save(os.path.join(directory, "model.safetensors"), sd, meta)


class ModelFileError(ValueError):
    pass


def load_model(directory, dtype=torch.float32):
    cfg = Config.from_file(os.path.join(directory, "config.json"))
    model = Transformer(cfg)
    path = os.path.join(directory, "model.safetensors")
    tensors, _ = safetensors_io.load(path)
    expected = model.state_dict()
    for name, t in expected.items():
        if name not in tensors:
            raise ModelFileError(f"{path}: missing tensor '{name}' (expected shape "
                                 f"{list(t.shape)})")
        if tuple(tensors[name].shape) != tuple(t.shape):
            raise ModelFileError(f"{path}: tensor '{name}' has shape "
                                 f"{list(tensors[name].shape)}, expected {list(t.shape)}")
    for name in tensors:
        if name not in expected:
            raise ModelFileError(f"{path}: unexpected tensor '{name}' for this config")
    model.load_state_dict({k: v.to(torch.float32) for k, v in tensors.items()})
    return model.to(dtype)
