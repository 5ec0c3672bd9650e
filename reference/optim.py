"""PyTorch reference optimizers for tinyr2 (SPEC §6): Muon, AdamW, the LR schedule and
global-norm gradient clipping. The C++ twins are src/optim/{muon,adamw,schedule,grad_clip}.

    muon = Muon([(name, p), ...], momentum=0.95, weight_decay=0.0)
    adamw = AdamW([(name, p), ...], betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    for step in range(max_iters):
        ...loss.backward()...
        norm = clip_grad_norm([p for _, p in params], max_grad_norm)
        m = lr_multiplier(step, lr, min_lr, warmup, max_iters)
        muon.step(muon_lr * m)
        adamw.step(lr_at(step, lr, min_lr, warmup, max_iters))

Both optimizers work in the parameters' dtype (float32 for training, float64 for the op
oracle), skip parameters whose .grad is None (like torch.optim), and expose state_dict() /
load_state_dict() with the same keys the C++ checkpoint uses:
    muon.<name>.momentum_buffer
    adamw.<name>.exp_avg, adamw.<name>.exp_avg_sq, adamw.<name>.step   (step: float32 [])

Under train.precision "bf16" (SPEC §13) Muon's Newton-Schulz products take operands rounded
to bfloat16 (precision.round_bf16) and multiply them in the working dtype; the momentum, the
norm, B = b A + c A A and the update a X + B X stay in the working dtype (the C++ twin is
src/kernels/cpu/newton_schulz_bf16.h).

Decisions (the C++ side documents the same):
  * Muon weight decay p <- p * (1 - lr * wd) is applied before the orthogonalised update
    (Keller Jordan's order), only when wd > 0.
  * AdamW weight decay applies to parameters with >= 2 dims only (adamw_decays).
  * clip_grad_norm does nothing when the norm is not finite or max_norm <= 0.
"""
import math

import torch

from precision import round_bf16

NS_COEFFS = (3.4445, -4.7750, 2.0315)
NS_EPS = 1e-7


def newton_schulz(G, steps=5, coeffs=NS_COEFFS, eps=NS_EPS, precision="fp32"):
    """NS_steps(G / (||G||_F + eps)) with G seen as (size(0), numel / size(0)); iterates on
    the transpose when rows > cols (so A = X X^T is the small side). Same shape as G. With
    precision "bf16" each product's operands are rounded to bfloat16 first."""
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"train.precision must be one of \"fp32\", \"bf16\", got {precision!r}")
    r = round_bf16 if precision == "bf16" else (lambda t: t)
    a, b, c = coeffs
    X = G.reshape(G.shape[0], -1)
    transposed = X.shape[0] > X.shape[1]
    if transposed:
        X = X.T
    X = X / (X.norm() + eps)
    for _ in range(steps):
        A = r(X) @ r(X).T
        B = b * A + c * (r(A) @ r(A))
        X = a * X + r(B) @ r(X)
    if transposed:
        X = X.T
    return X.reshape(G.shape)


def _check_names(named_params, who):
    named_params = list(named_params)
    names = [n for n, _ in named_params]
    if len(set(names)) != len(names):
        raise ValueError(f"{who}: duplicate parameter names")
    return named_params


def _load(state, mine, prefix, source):
    for k in state:
        if k.startswith(prefix) and k not in mine:
            raise ValueError(f"{source}: unexpected optimizer state {k!r}")
    for k, t in mine.items():
        if k not in state:
            raise ValueError(f"{source}: missing optimizer state {k!r}")
        if tuple(state[k].shape) != tuple(t.shape):
            raise ValueError(f"{source}: optimizer state {k!r} has shape "
                             f"{tuple(state[k].shape)}, expected {tuple(t.shape)}")
        t.copy_(state[k])


class Muon:
    """m <- beta m + (1-beta) g; u = (1-beta) g + beta m; X = NS5(u / (||u||_F + 1e-7));
    p <- p (1 - lr wd); p <- p - lr sqrt(max(1, rows/cols)) X."""

    def __init__(self, named_params, momentum=0.95, weight_decay=0.0, ns_steps=5,
                 precision="fp32"):
        self.params = _check_names(named_params, "Muon")
        for name, p in self.params:
            if p.dim() < 2:
                raise ValueError(f"Muon parameter {name} has shape {tuple(p.shape)}: needs >= 2 dims")
        self.momentum, self.weight_decay, self.ns_steps = momentum, weight_decay, ns_steps
        self.precision = precision  # of Newton-Schulz's products (train.precision)
        self.buffers = {name: torch.zeros_like(p) for name, p in self.params}

    @torch.no_grad()
    def step(self, lr):
        beta = self.momentum
        for name, p in self.params:
            if p.grad is None:
                continue
            g = p.grad
            m = self.buffers[name]
            m.mul_(beta).add_(g, alpha=1 - beta)
            u = (1 - beta) * g + beta * m
            X = newton_schulz(u, self.ns_steps, precision=self.precision)
            rows = p.shape[0]
            cols = p.numel() // rows
            scale = math.sqrt(max(1.0, rows / cols))
            if self.weight_decay > 0:
                p.mul_(1 - lr * self.weight_decay)
            p.add_(X, alpha=-lr * scale)

    def state_dict(self):
        return {f"muon.{n}.momentum_buffer": self.buffers[n] for n, _ in self.params}

    def load_state_dict(self, state, source="state"):
        _load(state, self.state_dict(), "muon.", source)


def is_ssm_dynamics_param(name):
    """Mamba's A_log, D, conv1d.* and dt_proj.* (SPEC §10): AdamW without decay, never Muon."""
    return (name.endswith(".A_log") or name.endswith(".attn.D") or ".attn.conv1d." in name
            or ".attn.dt_proj." in name)


def adamw_decays(p, name=""):
    """AdamW's weight decay applies to >= 2-D parameters only (not Mamba's dynamics)."""
    return p.dim() >= 2 and not is_ssm_dynamics_param(name)


class AdamW:
    """torch.optim.AdamW's arithmetic (decoupled decay, bias-corrected moments), with weight
    decay only on >= 2-D parameters and a per-parameter step count."""

    def __init__(self, named_params, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1):
        self.params = _check_names(named_params, "AdamW")
        self.beta1, self.beta2 = betas
        self.eps, self.weight_decay = eps, weight_decay
        self.exp_avg = {n: torch.zeros_like(p) for n, p in self.params}
        self.exp_avg_sq = {n: torch.zeros_like(p) for n, p in self.params}
        self.steps = {n: torch.zeros((), dtype=torch.float32) for n, _ in self.params}

    @torch.no_grad()
    def step(self, lr):
        b1, b2 = self.beta1, self.beta2
        for name, p in self.params:
            if p.grad is None:
                continue
            g = p.grad
            self.steps[name] += 1
            t = float(self.steps[name])
            if adamw_decays(p, name):
                p.mul_(1 - lr * self.weight_decay)
            m, v = self.exp_avg[name], self.exp_avg_sq[name]
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            step_size = lr / (1 - b1 ** t)
            denom = v.sqrt() / math.sqrt(1 - b2 ** t) + self.eps
            p.addcdiv_(m, denom, value=-step_size)

    def state_dict(self):
        out = {}
        for n, _ in self.params:
            out[f"adamw.{n}.exp_avg"] = self.exp_avg[n]
            out[f"adamw.{n}.exp_avg_sq"] = self.exp_avg_sq[n]
            out[f"adamw.{n}.step"] = self.steps[n]
        return out

    def load_state_dict(self, state, source="state"):
        _load(state, self.state_dict(), "adamw.", source)


def lr_at(step, lr, min_lr, warmup, max_iters):
    """Linear warmup lr (e+1)/W for e < W, cosine from lr to min_lr over [W, N), min_lr after."""
    if step < warmup:
        return lr * (step + 1) / warmup
    if step >= max_iters:
        return min_lr
    progress = (step - warmup) / (max_iters - warmup)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (lr - min_lr)


def lr_multiplier(step, lr, min_lr, warmup, max_iters):
    """lr_at(...) / lr: Muon's rate is muon_lr times this (lr = 0: cosine to 0)."""
    if lr == 0:
        return lr_at(step, 1.0, 0.0, warmup, max_iters)
    return lr_at(step, lr, min_lr, warmup, max_iters) / lr


@torch.no_grad()
def clip_grad_norm(params, max_norm):
    """Global L2 norm of the gradients (float64 sum); scales them by max_norm / (norm + 1e-6)
    when norm > max_norm (and the norm is finite and max_norm > 0). Returns the pre-clip norm."""
    grads = [p.grad for p in params if p.grad is not None]
    norm = math.sqrt(sum(float(g.to(torch.float64).pow(2).sum()) for g in grads))
    if not math.isfinite(norm) or max_norm <= 0 or norm <= max_norm:
        return norm
    scale = max_norm / (norm + 1e-6)
    for g in grads:
        g.mul_(scale)
    return norm


def _self_test():
    """Our AdamW (with decay on every parameter) equals torch.optim.AdamW."""
    torch.manual_seed(0)
    ps = [torch.randn(5, 7, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)]
    qs = [p.clone().requires_grad_(True) for p in ps]
    ours = AdamW([(f"p{i}", p) for i, p in enumerate(ps)], betas=(0.9, 0.95), weight_decay=0.1)
    ref = torch.optim.AdamW(qs, lr=1e-2, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    for _ in range(4):
        for p, q in zip(ps, qs):
            g = torch.randn_like(p)
            p.grad, q.grad = g.clone(), g.clone()
        ours.step(1e-2)
        ref.step()
    err = max(float((p - q).abs().max()) for p, q in zip(ps, qs))
    assert err < 1e-12, err
    print(f"AdamW matches torch.optim.AdamW (max diff {err:.2e})")


if __name__ == "__main__":
    _self_test()
