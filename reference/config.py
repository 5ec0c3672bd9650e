"""tinyr2 model configuration (SPEC §1): defaults, validation, per-layer cycling.

    cfg = Config.from_dict(json.load(f))      # raises ConfigError naming the key
    cfg.attention_type(i), cfg.branches(i), cfg.ffn_type(i)   # layer i, cycled lists
    cfg.to_dict()                             # every key, resolved (moe_hidden, compress_hidden)

Rules (the C++ side implements the same):
  * unknown keys are errors; so are wrong JSON types. Integer keys need JSON integers
    (not 2.0, not true); float keys take integers or floats (not booleans); boolean keys
    need JSON true/false (not "true", not 0/1).
  * `moe_hidden` and `compress_hidden` default to 4*n_embd and n_embd; JSON null also means
    the default.
  * per-layer keys (`attention_types`, `attention_mode`, `types`) are non-empty lists cycled
    over layers (layer i uses list[i % len]); a bare string is accepted as a one-element list,
    and for `attention_mode` a bare [b1,b2,b3] of integers 0/1 is one explicit mode.
  * every constraint is checked whatever the layer types (e.g. the Sparse constraints are
    checked even for an all-FULL stack), so one rule set holds for every file.
"""
import json
import math

MODEL_DEFAULTS = {
    "vocab_size": 50257,
    "ctx_len": 256,
    "n_embd": 256,
    "n_head": 4,
    "n_layer": 4,
    "attention_types": ["FULL", "Sparse"],
    "attention_mode": ["NSA"],
    "types": ["mlp", "moe"],
    "n_experts": 8,
    "num_exp": 2,
    "moe_hidden": None,          # 4 * n_embd
    "gate_noise": 0.02,
    "expert_bias_rate": 1e-3,
    "moe_balance_coef": 0.01,
    "glu_hidden": None,          # SPEC §11: 4 * n_embd
    "glu_activation": "silu",
    "moe_expert": "mlp",
    "router": "deepseek",
    "moe_aux_coef": 0.01,
    "capacity_factor": 0.0,
    "q_lora_rank": 96,
    "kv_lora_rank": 32,
    "qk_nope_head_dim": 32,
    "qk_rope_head_dim": 64,
    "v_head_dim": 32,
    "block_size": 16,
    "block_stride": 16,
    "compress_hidden": None,     # n_embd
    "select_block_size": 32,
    "num_tokens_to_keep": 128,
    "select_init_blocks": 1,
    "select_local_blocks": 2,
    "window_size": 128,
    "branch_gate": "softmax",
    "rope_theta": 10000.0,
    "v_residual": False,
    "hc": True,
    "hc_num_streams": 4,
    "hc_num_fracs": 1,
    "mhc": True,
    "mhc_h_res_proj": "sinkhorn",
    "sinkhorn_iters": 10,
    "sinkhorn_tau": 0.05,
    "ns_steps": 5,
    "ns_eps": 1e-7,
    "ns_coeffs": [3.0, -3.2, 1.2],
    "dropout": 0.0,
    "norm_eps": 1e-6,
    "init_std": 0.02,
    "mamba_expand": 2,           # Mamba layers (SPEC §10): d_in = mamba_expand * n_embd
    "mamba_d_state": 16,
    "mamba_d_conv": 4,
    "mamba_dt_rank": None,       # ceil(n_embd / 16)
    "pos_embedding": "learned",  # SPEC §10: or "rope" (no position table)
    "rope_scaling": 1.0,         # SPEC §10: NTK base theta * s^(D/(D-2))
}

TRAIN_DEFAULTS = {
    "batch_size": 8,
    "grad_accum": 1,
    "max_iters": 200,
    "warmup_iters": 20,
    "lr": 1e-3,
    "min_lr": 1e-4,
    "muon_lr": 0.02,
    "muon_momentum": 0.95,
    "muon_weight_decay": 0.0,
    "weight_decay": 0.1,
    "betas": [0.9, 0.95],
    "eps": 1e-8,
    "max_grad_norm": 1.0,
    "eval_interval": 50,
    "eval_iters": 10,
    "checkpoint_interval": 50,
    "val_fraction": 0.05,
    "seed": 1337,
    "keep_checkpoints": 3,
}

MODES = {"NSA": (1, 1, 1), "SWA": (1, 0, 1), "DSA": (1, 1, 0)}


class ConfigError(ValueError):
    pass


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v):
    return (isinstance(v, (int, float)) and not isinstance(v, bool)
            and math.isfinite(float(v)))


def _int(d, key, lo=None, hi=None, prefix=""):
    v = d[key]
    if not _is_int(v):
        raise ConfigError(f"{prefix}{key}: expected an integer, got {json.dumps(v)}")
    if lo is not None and v < lo:
        raise ConfigError(f"{prefix}{key}: must be >= {lo}, got {v}")
    if hi is not None and v > hi:
        raise ConfigError(f"{prefix}{key}: must be <= {hi}, got {v}")
    return v


def _num(d, key, lo=None, lo_open=False, hi=None, hi_open=False, prefix=""):
    v = d[key]
    if not _is_num(v):
        raise ConfigError(f"{prefix}{key}: expected a finite number, got {json.dumps(v)}")
    v = float(v)
    if lo is not None and (v < lo or (lo_open and v == lo)):
        raise ConfigError(f"{prefix}{key}: must be {'>' if lo_open else '>='} {lo}, got {v}")
    if hi is not None and (v > hi or (hi_open and v == hi)):
        raise ConfigError(f"{prefix}{key}: must be {'<' if hi_open else '<='} {hi}, got {v}")
    return v


def _bool(d, key):
    v = d[key]
    if not isinstance(v, bool):
        raise ConfigError(f"{key}: expected true or false, got {json.dumps(v)}")
    return v


def _choice(d, key, choices):
    v = d[key]
    if not isinstance(v, str) or v not in choices:
        raise ConfigError(f"{key}: expected one of {list(choices)}, got {json.dumps(v)}")
    return v


def _str_list(d, key, choices):
    v = d[key]
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not v:
        raise ConfigError(f"{key}: expected a non-empty list, got {json.dumps(v)}")
    for e in v:
        if not isinstance(e, str) or e not in choices:
            raise ConfigError(f"{key}: entries must be one of {list(choices)}, got {json.dumps(e)}")
    return list(v)


def _mode_entry(e):
    if isinstance(e, str):
        if e not in MODES:
            raise ConfigError(f"attention_mode: unknown mode {json.dumps(e)} "
                              f"(expected NSA, SWA, DSA or [b1,b2,b3])")
        return MODES[e]
    if (isinstance(e, list) and len(e) == 3 and all(_is_int(b) and b in (0, 1) for b in e)):
        if sum(e) == 0:
            raise ConfigError("attention_mode: an explicit mode needs at least one active branch")
        return tuple(e)
    raise ConfigError(f"attention_mode: expected NSA, SWA, DSA or [b1,b2,b3] of 0/1, "
                      f"got {json.dumps(e)}")


def _modes(v):
    if isinstance(v, str):
        v = [v]
    if isinstance(v, list) and len(v) == 3 and all(_is_int(b) for b in v):
        v = [v]  # a bare explicit mode
    if not isinstance(v, list) or not v:
        raise ConfigError(f"attention_mode: expected a non-empty list, got {json.dumps(v)}")
    return [_mode_entry(e) for e in v]


def validate_train(t):
    if not isinstance(t, dict):
        raise ConfigError("train: expected a JSON object")
    for k in t:
        if k not in TRAIN_DEFAULTS:
            raise ConfigError(f"train.{k}: unknown key")
    d = dict(TRAIN_DEFAULTS)
    d.update(t)
    p = "train."
    for k, lo in (("batch_size", 1), ("grad_accum", 1), ("max_iters", 1), ("warmup_iters", 0),
                  ("eval_interval", 1), ("eval_iters", 1), ("checkpoint_interval", 1),
                  ("seed", 0), ("keep_checkpoints", 1)):
        d[k] = _int(d, k, lo, prefix=p)
    for k in ("lr", "min_lr", "muon_lr", "muon_weight_decay", "weight_decay", "max_grad_norm"):
        d[k] = _num(d, k, 0.0, prefix=p)
    d["muon_momentum"] = _num(d, "muon_momentum", 0.0, hi=1.0, hi_open=True, prefix=p)
    d["eps"] = _num(d, "eps", 0.0, lo_open=True, prefix=p)
    d["val_fraction"] = _num(d, "val_fraction", 0.0, hi=1.0, hi_open=True, prefix=p)
    b = d["betas"]
    if not (isinstance(b, list) and len(b) == 2 and all(_is_num(x) and 0 <= x < 1 for x in b)):
        raise ConfigError(f"train.betas: expected [b1, b2] with 0 <= b < 1, got {json.dumps(b)}")
    d["betas"] = [float(x) for x in b]
    return d


class Config:
    """Validated model configuration. Attribute per SPEC key; `train` holds the train
    section (resolved) or None when the file had none."""

    def __init__(self, d, train=None):
        self.__dict__.update(d)
        self.train = train

    # ---- construction -------------------------------------------------------------
    @classmethod
    def from_dict(cls, raw):
        if not isinstance(raw, dict):
            raise ConfigError("config: expected a JSON object")
        for k in raw:
            if k != "train" and k not in MODEL_DEFAULTS:
                raise ConfigError(f"{k}: unknown key")
        d = dict(MODEL_DEFAULTS)
        d.update({k: v for k, v in raw.items() if k != "train"})
        train = validate_train(raw["train"]) if "train" in raw else None

        for k in ("vocab_size", "ctx_len", "n_embd", "n_head", "n_layer"):
            d[k] = _int(d, k, 1)
        if d["n_embd"] % d["n_head"]:
            raise ConfigError(f"n_head: must divide n_embd ({d['n_embd']}), got {d['n_head']}")
        d["attention_types"] = _str_list(d, "attention_types",
                                         ("FULL", "Sparse", "Retention", "Mamba", "LFA", "Linear"))
        d["attention_mode"] = _modes(d["attention_mode"])
        d["types"] = _str_list(d, "types", ("mlp", "moe", "glu"))

        d["n_experts"] = _int(d, "n_experts", 2)
        d["router"] = _choice(d, "router", ("deepseek", "topk", "attention", "expert_choice"))
        d["num_exp"] = _int(d, "num_exp", 2 if d["router"] == "deepseek" else 1, d["n_experts"])
        if d["glu_hidden"] is None:
            d["glu_hidden"] = 4 * d["n_embd"]
        d["glu_hidden"] = _int(d, "glu_hidden", 1)
        d["glu_activation"] = _choice(d, "glu_activation",
                                      ("silu", "gelu", "relu", "sigmoid", "bilinear"))
        d["moe_expert"] = _choice(d, "moe_expert", ("mlp", "glu"))
        d["moe_aux_coef"] = _num(d, "moe_aux_coef", 0.0)
        d["capacity_factor"] = _num(d, "capacity_factor", 0.0)
        if d["router"] == "expert_choice" and not d["capacity_factor"] > 0:
            raise ConfigError("capacity_factor: must be > 0 with router \"expert_choice\", got "
                              f"{d['capacity_factor']}")
        if d["moe_hidden"] is None:
            d["moe_hidden"] = 4 * d["n_embd"]
        d["moe_hidden"] = _int(d, "moe_hidden", 1)
        d["gate_noise"] = _num(d, "gate_noise", 0.0)
        d["expert_bias_rate"] = _num(d, "expert_bias_rate", 0.0)
        d["moe_balance_coef"] = _num(d, "moe_balance_coef", 0.0)

        for k in ("q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "v_head_dim"):
            d[k] = _int(d, k, 1)
        d["qk_rope_head_dim"] = _int(d, "qk_rope_head_dim", 2)
        if d["qk_rope_head_dim"] % 2:
            raise ConfigError(f"qk_rope_head_dim: must be even, got {d['qk_rope_head_dim']}")

        for k in ("block_size", "block_stride", "select_block_size", "num_tokens_to_keep",
                  "window_size"):
            d[k] = _int(d, k, 1)
        if d["compress_hidden"] is None:
            d["compress_hidden"] = d["n_embd"]
        d["compress_hidden"] = _int(d, "compress_hidden", 1)
        l, st, ls = d["block_size"], d["block_stride"], d["select_block_size"]
        if l % st or ls % st:
            raise ConfigError(f"block_stride: must divide block_size ({l}) and "
                              f"select_block_size ({ls}), got {st}")
        if d["num_tokens_to_keep"] % ls:
            raise ConfigError(f"num_tokens_to_keep: must be a multiple of select_block_size "
                              f"({ls}), got {d['num_tokens_to_keep']}")
        n_sel = d["num_tokens_to_keep"] // ls
        d["select_init_blocks"] = _int(d, "select_init_blocks", 0)
        d["select_local_blocks"] = _int(d, "select_local_blocks", 0)
        if d["select_init_blocks"] + d["select_local_blocks"] > n_sel:
            raise ConfigError(f"select_local_blocks: select_init_blocks + select_local_blocks "
                              f"must be <= num_tokens_to_keep / select_block_size ({n_sel})")
        d["branch_gate"] = _choice(d, "branch_gate", ("softmax", "sigmoid"))
        d["rope_theta"] = _num(d, "rope_theta", 0.0, lo_open=True)

        d["v_residual"] = _bool(d, "v_residual")
        d["hc"] = _bool(d, "hc")
        d["hc_num_streams"] = _int(d, "hc_num_streams", 1)
        d["hc_num_fracs"] = _int(d, "hc_num_fracs")
        if d["hc_num_fracs"] != 1:
            raise ConfigError(f"hc_num_fracs: only 1 is supported, got {d['hc_num_fracs']}")
        d["mhc"] = _bool(d, "mhc")
        d["mhc_h_res_proj"] = _choice(d, "mhc_h_res_proj", ("sinkhorn", "orthostochastic"))
        d["sinkhorn_iters"] = _int(d, "sinkhorn_iters", 0)
        d["sinkhorn_tau"] = _num(d, "sinkhorn_tau", 0.0, lo_open=True)
        d["ns_steps"] = _int(d, "ns_steps", 0)
        d["ns_eps"] = _num(d, "ns_eps", 0.0)
        c = d["ns_coeffs"]
        if not (isinstance(c, list) and len(c) == 3 and all(_is_num(x) for x in c)):
            raise ConfigError(f"ns_coeffs: expected 3 numbers, got {json.dumps(c)}")
        d["ns_coeffs"] = [float(x) for x in c]
        d["dropout"] = _num(d, "dropout", 0.0, hi=1.0, hi_open=True)
        d["norm_eps"] = _num(d, "norm_eps", 0.0, lo_open=True)
        d["init_std"] = _num(d, "init_std", 0.0)
        d["mamba_expand"] = _int(d, "mamba_expand", 1)
        d["mamba_d_state"] = _int(d, "mamba_d_state", 1)
        d["mamba_d_conv"] = _int(d, "mamba_d_conv", 1)
        if d["mamba_dt_rank"] is None:
            d["mamba_dt_rank"] = -(-d["n_embd"] // 16)
        d["mamba_dt_rank"] = _int(d, "mamba_dt_rank", 1)
        d["pos_embedding"] = _choice(d, "pos_embedding", ("learned", "rope"))
        d["rope_scaling"] = _num(d, "rope_scaling", 1.0)
        hd = d["n_embd"] // d["n_head"]
        if d["pos_embedding"] == "rope" and hd % 2:
            raise ConfigError(f"pos_embedding: \"rope\" needs an even head size, got {hd}")
        if d["rope_scaling"] > 1.0 and (d["qk_rope_head_dim"] <= 2 or
                                        (d["pos_embedding"] == "rope" and hd <= 2)):
            raise ConfigError("rope_scaling: > 1 needs RoPE sizes > 2")
        return cls(d, train)

    @classmethod
    def from_file(cls, path):
        with open(path) as f:
            try:
                raw = json.load(f)
            except json.JSONDecodeError as e:
                raise ConfigError(f"{path}: invalid JSON: {e}") from None
        return cls.from_dict(raw)

    def to_dict(self):
        out = {}
        for k in MODEL_DEFAULTS:
            v = getattr(self, k)
            if k == "attention_mode":
                inv = {m: s for s, m in MODES.items()}
                v = [inv.get(tuple(m), list(m)) for m in v]
            out[k] = v
        if self.train is not None:
            out["train"] = dict(self.train)
        return out

    def save(self, path):
        with open(path, "w") as f:
            json.dump(self.to_dict(), f, indent=2)
            f.write("\n")

    # ---- per-layer views ------------------------------------------------------------
    def attention_type(self, i):
        return self.attention_types[i % len(self.attention_types)]

    def branches(self, i):
        """(b1, b2, b3) of layer i (only meaningful for Sparse layers)."""
        return tuple(self.attention_mode[i % len(self.attention_mode)])

    def rope_base(self, D):
        """NTK-aware RoPE base for vectors of size D (SPEC §10): theta * s^(D/(D-2))."""
        if self.rope_scaling == 1.0:
            return self.rope_theta
        return self.rope_theta * self.rope_scaling ** (D / (D - 2))

    def ffn_type(self, i):
        return self.types[i % len(self.types)]

    @property
    def n_select(self):
        return self.num_tokens_to_keep // self.select_block_size

    @property
    def hc_active(self):
        """Hyper-connections with more than one stream; otherwise plain residual."""
        return self.hc and self.hc_num_streams > 1
