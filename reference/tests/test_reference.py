"""Self-tests of the PyTorch reference (SPEC §1-§4).

    /usr/bin/python3 -m unittest discover -s /work/main/reference/tests
"""
import json
import math
import os
import sys
import tempfile
import unittest

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import cli  # noqa: E402
import safetensors_io  # noqa: E402
from config import Config, ConfigError  # noqa: E402
from model import (DSMoE, MHC, ModelFileError, Transformer,  # noqa: E402
                   init_weights, load_model, orthostochastic, overlap_weights, save_model,
                   select_blocks, sinkhorn)

torch.set_num_threads(2)

TINY = dict(vocab_size=37, ctx_len=48, n_embd=8, n_head=2, n_layer=2,
            q_lora_rank=6, kv_lora_rank=5, qk_nope_head_dim=3, qk_rope_head_dim=4, v_head_dim=3,
            block_size=4, block_stride=2, compress_hidden=7, select_block_size=4,
            num_tokens_to_keep=12, select_init_blocks=1, select_local_blocks=1, window_size=5,
            n_experts=4, num_exp=3, moe_hidden=6, hc_num_streams=3)


def tiny(**kw):
    d = dict(TINY)
    d.update(kw)
    return Config.from_dict(d)


def make(cfg, seed=0, std=None, dtype=torch.float64):
    if std is not None:
        cfg.init_std = std
    m = init_weights(Transformer(cfg), seed).to(dtype)
    return m


# ------------------------------------------------------------------------------------
# A per-query, loop-based Sparse attention used to check the vectorised one.
# ------------------------------------------------------------------------------------

def rope_vec(v, p, theta):
    D = v.shape[0]
    half = D // 2
    out = torch.empty_like(v)
    for i in range(half):
        f = theta ** (-2.0 * i / D)
        c, s = math.cos(p * f), math.sin(p * f)
        out[i] = v[i] * c - v[i + half] * s
        out[i + half] = v[i] * s + v[i + half] * c
    return out


def attend(q, keys, vals, scale, vd):
    if not keys:
        return torch.zeros(vd, dtype=q.dtype), []
    s = torch.stack([q @ k for k in keys]) * scale
    p = torch.softmax(s, 0)
    return sum(pi * v for pi, v in zip(p, vals)), list(p)


@torch.no_grad()
def brute_sparse(att, x):
    cfg = att.cfg
    B, T, C = x.shape
    H, nope, rd, vd = att.H, att.nope, att.rdim, att.vd
    l, d, ls, w = cfg.block_size, cfg.block_stride, cfg.select_block_size, cfg.window_size
    th = cfg.rope_theta
    scale = 1.0 / math.sqrt(nope + rd)
    out = torch.zeros(B, T, C, dtype=x.dtype)
    for b in range(B):
        cmp = []  # (i, k per head, v per head) for complete blocks
        if att.b1 or att.b2:
            i = 0
            while i * d + l <= T:
                xt = att.block_compressor((x[b, i * d:i * d + l] + att.intra_block_pos_encoding)
                                          .reshape(-1))
                c = att.kv_norm(att.compress_kv_linear(xt))
                kn = att.decompress_k_nope(c).reshape(H, nope)
                v = att.decompress_v_linear(c).reshape(H, vd)
                kr = rope_vec(att.k_rope_linear(xt), i * d + l - 1, th)
                cmp.append((i, [torch.cat([kn[h], kr]) for h in range(H)], [v[h] for h in range(H)]))
                i += 1
        kv_sel = kv_win = None
        if att.b2:
            kv_sel = (att.selection_k(x[b]).reshape(T, H, nope + rd), att.selection_v(x[b]).reshape(T, H, vd))
        if att.b3:
            kv_win = (att.window_k(x[b]).reshape(T, H, nope + rd), att.window_v(x[b]).reshape(T, H, vd))

        def key(kv, u, h):
            k = kv[0][u, h]
            return torch.cat([k[:nope], rope_vec(k[nope:], u, th)])

        for t in range(T):
            cq = att.q_norm(att.compress_q_linear(x[b, t]))
            qn = att.decompress_q_nope(cq).reshape(H, nope)
            qr = att.decompress_q_rope(cq).reshape(H, rd)
            qs = [torch.cat([qn[h], rope_vec(qr[h], t, th)]) for h in range(H)]
            branch_out = []
            vis = [e for e in cmp if e[0] * d + l - 1 <= t]
            o1, p1 = [], []
            for h in range(H):
                o, p = attend(qs[h], [e[1][h] for e in vis], [e[2][h] for e in vis], scale, vd)
                o1.append(o)
                p1.append(p)
            if att.b1:
                branch_out.append(o1)
            if att.b2:
                cands = [j for j in range(T) if j * ls <= t]
                score = {}
                for j in cands:
                    s = 0.0
                    for h in range(H):
                        for e, p in zip(vis, p1[h]):
                            i = e[0]
                            ov = max(0, min(i * d + l, (j + 1) * ls) - max(i * d, j * ls))
                            s += ov / d * float(p)
                    score[j] = s
                jt = t // ls
                forced = [j for j in cands if j < cfg.select_init_blocks
                          or jt - cfg.select_local_blocks < j <= jt]
                rest = sorted([j for j in cands if j not in forced], key=lambda j: (-score[j], j))
                chosen = set(forced + rest[:cfg.n_select - len(forced)])
                keys_u = [u for u in range(t + 1) if u // ls in chosen]
                branch_out.append([attend(qs[h], [key(kv_sel, u, h) for u in keys_u],
                                          [kv_sel[1][u, h] for u in keys_u], scale, vd)[0]
                                   for h in range(H)])
            if att.b3:
                keys_u = [u for u in range(t + 1) if u > t - w]
                branch_out.append([attend(qs[h], [key(kv_win, u, h) for u in keys_u],
                                          [kv_win[1][u, h] for u in keys_u], scale, vd)[0]
                                   for h in range(H)])
            z = att.branch_gate(x[b, t])
            na = len(branch_out)
            heads = []
            for h in range(H):
                if cfg.branch_gate == "softmax":
                    g = torch.softmax(z, 0)
                    heads.append(sum(g[c] * branch_out[c][h] for c in range(na)))
                else:
                    g = torch.sigmoid(z)
                    heads.append(sum(g[h * na + c] * branch_out[c][h] for c in range(na)))
            out[b, t] = att.proj(torch.cat(heads))
    return out


def brute_select(scores, ls, n, n_init, n_local):
    B, T, n_sel = scores.shape
    sel = torch.zeros(B, T, n_sel, dtype=torch.bool)
    for b in range(B):
        for t in range(T):
            cands = [j for j in range(n_sel) if j * ls <= t]
            jt = t // ls
            forced = [j for j in cands if j < n_init or jt - n_local < j <= jt]
            rest = sorted([j for j in cands if j not in forced],
                          key=lambda j: (-float(scores[b, t, j]), j))
            for j in forced + rest[:n - len(forced)]:
                sel[b, t, j] = True
    return sel


SPARSE_MODES = [("NSA", "softmax"), ("SWA", "sigmoid"), ("DSA", "softmax"), ([1, 0, 0], "sigmoid"),
                ([0, 1, 0], "softmax"), ([0, 0, 1], "softmax"), ([0, 1, 1], "sigmoid"),
                ([1, 1, 1], "sigmoid")]


class TestConfig(unittest.TestCase):
    def test_defaults_and_cycling(self):
        c = Config.from_dict({})
        self.assertEqual(c.moe_hidden, 4 * 256)
        self.assertEqual(c.compress_hidden, 256)
        self.assertEqual([c.attention_type(i) for i in range(4)], ["FULL", "Sparse"] * 2)
        self.assertEqual([c.ffn_type(i) for i in range(3)], ["mlp", "moe", "mlp"])
        c = Config.from_dict({"attention_mode": ["SWA", [0, 1, 1], "DSA"]})
        self.assertEqual([c.branches(i) for i in range(4)],
                         [(1, 0, 1), (0, 1, 1), (1, 1, 0), (1, 0, 1)])
        self.assertEqual(Config.from_dict({"attention_mode": [1, 0, 0]}).branches(5), (1, 0, 0))
        d = c.to_dict()
        self.assertEqual(d["attention_mode"], ["SWA", [0, 1, 1], "DSA"])
        self.assertEqual(Config.from_dict(json.loads(json.dumps(d))).to_dict(), d)

    def test_errors_name_the_key(self):
        bad = [({"nope": 1}, "nope"), ({"hc": "true"}, "hc"), ({"n_head": 0}, "n_head"),
               ({"n_embd": 2.0}, "n_embd"), ({"hc_num_fracs": 2}, "hc_num_fracs"),
               ({"num_exp": 9}, "num_exp"), ({"num_exp": 1}, "num_exp"),
               ({"attention_types": ["FULL", "Spares"]}, "attention_types"),
               ({"attention_mode": [[0, 0, 0]]}, "attention_mode"),
               ({"attention_mode": ["XYZ"]}, "attention_mode"),
               ({"types": []}, "types"), ({"block_stride": 5}, "block_stride"),
               ({"num_tokens_to_keep": 100}, "num_tokens_to_keep"),
               ({"select_init_blocks": 3, "select_local_blocks": 2}, "select_local_blocks"),
               ({"mhc_h_res_proj": "qr"}, "mhc_h_res_proj"), ({"dropout": 1.0}, "dropout"),
               ({"branch_gate": "tanh"}, "branch_gate"), ({"qk_rope_head_dim": 5}, "qk_rope_head_dim"),
               ({"ns_coeffs": [1, 2]}, "ns_coeffs"), ({"train": {"lrr": 1}}, "train.lrr"),
               ({"train": {"batch_size": 0}}, "train.batch_size")]
        for d, key in bad:
            with self.assertRaises(ConfigError, msg=str(d)) as cm:
                Config.from_dict(d)
            self.assertIn(key, str(cm.exception))
        Config.from_dict({"train": {"lr": 3e-4, "betas": [0.9, 0.99]}, "hc": False})


class TestSparseAttention(unittest.TestCase):
    def test_overlap_weights(self):
        W = overlap_weights(8, 2, 32, 16, 64)
        self.assertEqual(W[3:8, 1].tolist(), [1, 2, 2, 2, 1])
        self.assertEqual(W[:3, 1].tolist(), [0, 0, 0])
        self.assertEqual(W[0:4, 0].tolist(), [2, 2, 2, 1])

    def test_select_blocks_matches_brute_force(self):
        g = torch.Generator().manual_seed(3)
        for (T, ls, n, ni, nl) in [(23, 4, 3, 1, 1), (40, 4, 4, 0, 2), (17, 2, 5, 2, 2),
                                   (30, 3, 2, 0, 0)]:
            n_sel = (T + ls - 1) // ls
            s = torch.randint(0, 4, (2, T, n_sel), generator=g).double()  # many ties
            sel = select_blocks(s, ls, n, ni, nl)
            self.assertTrue(torch.equal(sel, brute_select(s, ls, n, ni, nl)), (T, ls, n, ni, nl))

    def test_forced_blocks_and_no_future_block(self):
        cfg = tiny(attention_types=["Sparse"], n_layer=1, ctx_len=64, select_block_size=4,
                   num_tokens_to_keep=16, select_init_blocks=1, select_local_blocks=2)
        m = make(cfg, std=0.5)
        idx = torch.randint(0, cfg.vocab_size, (2, 61), generator=torch.Generator().manual_seed(1))
        m.eval()(idx)
        sel = m.blocks[0].attn.last_selection
        ls, n = 4, 4
        for t in range(61):
            jt = t // ls
            chosen = sel[:, t].nonzero()[:, 1].tolist()
            self.assertTrue(all(j * ls <= t for j in chosen))
            for b in range(2):
                js = sel[b, t].nonzero().flatten().tolist()
                self.assertIn(0, js)
                for j in range(max(0, jt - 1), jt + 1):
                    self.assertIn(j, js)
                self.assertEqual(len(js), min(n, jt + 1))

    def test_vectorised_equals_loop_reference(self):
        g = torch.Generator().manual_seed(5)
        geoms = [dict(), dict(block_size=2, block_stride=2, select_block_size=6,
                              num_tokens_to_keep=12, select_init_blocks=0, select_local_blocks=1,
                              window_size=3)]
        for gi, geom in enumerate(geoms):
            for mode, gate in SPARSE_MODES[:(8 if gi == 0 else 3)]:
                cfg = tiny(attention_types=["Sparse"], attention_mode=[mode], branch_gate=gate,
                           n_layer=1, **geom)
                m = make(cfg, seed=gi, std=0.5)
                att = m.blocks[0].attn
                x = torch.randn(2, 19, cfg.n_embd, generator=g, dtype=torch.float64)
                with torch.no_grad():
                    y = att(x)
                yb = brute_sparse(att, x)
                self.assertLess((y - yb).abs().max().item(), 1e-12, (mode, gate, geom))

    def test_query_without_keys_gets_zero(self):
        cfg = tiny(attention_types=["Sparse"], attention_mode=[[1, 0, 0]], n_layer=1)
        m = make(cfg, std=0.5)
        att = m.blocks[0].attn
        x = torch.randn(1, 9, cfg.n_embd, dtype=torch.float64)
        with torch.no_grad():
            y = att(x)
        # block 0 ([0,4)) is first visible at t = 3; before that the only branch gives 0
        self.assertEqual(y[0, :3].abs().max().item(), 0.0)
        self.assertGreater(y[0, 3:].abs().max().item(), 0.0)
        # shorter than one block: no compressed token at all
        with torch.no_grad():
            self.assertEqual(att(x[:, :2]).abs().max().item(), 0.0)


class TestCausality(unittest.TestCase):
    def check(self, cfg, T=40, seed=0):
        m = make(cfg, seed=seed, std=0.4).eval()
        g = torch.Generator().manual_seed(seed + 100)
        idx = torch.randint(0, cfg.vocab_size, (2, T), generator=g)
        with torch.no_grad():
            ref, _ = m(idx)
            for p in (1, 6, 17, 31, T - 1):
                pert = idx.clone()
                pert[:, p:] = torch.randint(0, cfg.vocab_size, (2, T - p), generator=g)
                out, _ = m(pert)
                self.assertLess((out[:, :p] - ref[:, :p]).abs().max().item(), 1e-6, p)
                self.assertGreater((out[:, p:] - ref[:, p:]).abs().max().item(), 1e-6, p)

    def test_full(self):
        self.check(tiny(attention_types=["FULL"], v_residual=True, types=["mlp", "moe"]))

    def test_sparse_modes(self):
        for i, (mode, gate) in enumerate(SPARSE_MODES):
            with self.subTest(mode=mode, gate=gate):
                hc = [dict(hc=False), dict(mhc=True), dict(mhc=False),
                      dict(mhc_h_res_proj="orthostochastic")][i % 4]
                self.check(tiny(attention_types=["Sparse", "FULL"], attention_mode=[mode],
                                branch_gate=gate, types=["moe"], **hc), seed=i)


class TestHyperConnections(unittest.TestCase):
    def test_sinkhorn(self):
        cfg = tiny(hc_num_streams=4)
        for li in range(4):
            h = MHC(cfg, li).double()
            H = h.h_res()
            self.assertLess((H - torch.eye(4, dtype=torch.float64)).abs().max().item(), 1e-6)
            self.assertEqual(int(torch.softmax(h.H_pre_logits, 0).argmax()), li % 4)
        L = torch.randn(4, 4, dtype=torch.float64)
        for tau in (0.05, 1.0):
            H = sinkhorn(L, tau, 10)
            self.assertLess((H.sum(0) - 1).abs().max().item(), 1e-12)
            self.assertTrue(bool((H >= 0).all()))

    def test_orthostochastic(self):
        L = torch.eye(4, dtype=torch.float64) + 0.1 * torch.randn(4, 4, dtype=torch.float64)
        H = orthostochastic(L, 5, 1e-7, [3.0, -3.2, 1.2])
        self.assertTrue(bool((H >= 0).all()))
        cfg = tiny(hc_num_streams=4, mhc_h_res_proj="orthostochastic")
        self.assertTrue(torch.equal(MHC(cfg, 0).H_res_logits.data, torch.eye(4)))

    def test_mhc_forward_formula(self):
        cfg = tiny(hc_num_streams=3)
        h = MHC(cfg, 1).double()
        with torch.no_grad():
            for p in h.parameters():
                p.normal_()
        R = torch.randn(2, 5, 3, 8, dtype=torch.float64)
        W = torch.randn(8, 8, dtype=torch.float64)
        out = h(R, lambda u: torch.tanh(u @ W))
        Hp, Hq, Hr = torch.softmax(h.H_pre_logits, 0), torch.softmax(h.H_post_logits, 0), h.h_res()
        u = sum(Hp[s] * R[:, :, s] for s in range(3))
        hb = torch.tanh(u @ W)
        for t in range(3):
            exp = sum(Hr[s, t] * R[:, :, s] for s in range(3)) + Hq[t] * hb
            self.assertLess((out[:, :, t] - exp).abs().max().item(), 1e-12)


class TestMoE(unittest.TestCase):
    def dense(self, moe, x2):
        chosen, ghat, p = moe.route(x2)
        k, E = moe.k, moe.E
        R = torch.zeros(x2.shape[0], E - 1, dtype=x2.dtype).scatter(1, chosen, (k - 1) / k * ghat)
        y = moe.experts[0](x2) / k
        for e in range(1, E):
            y = y + R[:, e - 1:e] * moe.experts[e](x2)
        return y, R

    def test_sparse_dispatch_equals_dense(self):
        g = torch.Generator().manual_seed(7)
        for E, k in [(4, 2), (4, 3), (6, 4), (3, 3)]:
            cfg = tiny(n_experts=E, num_exp=k, types=["moe"])
            m = make(cfg, std=0.5).eval()
            moe = m.blocks[0].ffn
            moe.expert_bias.copy_(torch.randn(E - 1, generator=g) * 0.05)
            x = torch.randn(3, 7, cfg.n_embd, generator=g, dtype=torch.float64)
            ctx = {"bal": []}
            with torch.no_grad():
                y = moe(x, ctx)
                yd, R = self.dense(moe, x.reshape(-1, cfg.n_embd))
            self.assertLess((y.reshape(-1, cfg.n_embd) - yd).abs().max().item(), 1e-12)
            load = R.sum(0) / R.sum()
            bal = (E - 1) * ((load - 1 / (E - 1)) ** 2).sum()
            self.assertLess(abs(ctx["bal"][0].item() - bal.item()), 1e-12)
            self.assertEqual(int(moe.last_counts.sum()), 21 * (k - 1))

    def test_routing_rules(self):
        cfg = tiny(n_experts=5, num_exp=3, types=["moe"])
        moe = DSMoE(cfg).double().eval()
        with torch.no_grad():
            moe.gate.weight.zero_()                     # uniform p: ties -> lower index
            x = torch.randn(4, cfg.n_embd, dtype=torch.float64)
            chosen, ghat, p = moe.route(x)
            self.assertEqual(chosen.tolist(), [[0, 1]] * 4)
            self.assertTrue(torch.allclose(ghat, torch.full_like(ghat, 0.5)))
            moe.expert_bias.copy_(torch.tensor([0.0, 0.0, 0.0, 0.1]))   # bias only chooses
            chosen, ghat, p = moe.route(x)
            self.assertEqual(chosen.tolist(), [[3, 0]] * 4)
            self.assertTrue(torch.allclose(ghat, torch.full_like(ghat, 0.5)))
        cfg1 = tiny(n_experts=5, num_exp=2, types=["moe"])
        moe1 = DSMoE(cfg1).double()
        x = torch.randn(4, cfg.n_embd, dtype=torch.float64)
        _, ghat1, p1 = moe1.route(x)
        self.assertTrue(torch.allclose(ghat1[:, 0], p1.max(1).values))   # k-1 = 1: raw p
        moe1.update_expert_bias(torch.tensor([5, 1, 3, 3]))
        self.assertTrue(torch.allclose(moe1.expert_bias.double(),
                                       torch.tensor([-1e-3, 1e-3, 0.0, 0.0], dtype=torch.float64)))

    def test_noise_only_in_training(self):
        cfg = tiny(types=["moe"], gate_noise=0.5)
        m = make(cfg, std=0.5)
        idx = torch.randint(0, cfg.vocab_size, (2, 12))
        with torch.no_grad():
            a, b = m.eval()(idx)[0], m.eval()(idx)[0]
            self.assertTrue(torch.equal(a, b))
            m.train()
            m.set_gate_noise(False)
            self.assertTrue(torch.equal(m(idx)[0], a))
            m.set_gate_noise(True)
            self.assertFalse(torch.equal(m(idx)[0], a))

    def test_loss_composition(self):
        cfg = tiny(types=["moe", "moe", "mlp"], n_layer=3, moe_balance_coef=0.7)
        m = make(cfg, std=0.3).eval()
        idx = torch.randint(0, cfg.vocab_size, (2, 11))
        logits, out = m(idx[:, :-1], idx[:, 1:])
        bals = [m.blocks[i].ffn for i in (0, 1)]
        ce = F.cross_entropy(logits.reshape(-1, cfg.vocab_size), idx[:, 1:].reshape(-1))
        self.assertAlmostEqual(out["ce"].item(), ce.item(), places=12)
        self.assertAlmostEqual(out["loss"].item(), ce.item() + 0.7 * out["bal"].item(), places=12)
        self.assertEqual(len(bals), 2)


EXPECTED_FULL_MLP = """rm1.weight rm2.weight attn.c_attn.weight attn.c_proj.weight attn.lamb1 attn.lamb2
ffn.c_fc.weight ffn.c_proj.weight hc_attn.H_res_logits hc_attn.H_pre_logits hc_attn.H_post_logits
hc_ffn.H_res_logits hc_ffn.H_pre_logits hc_ffn.H_post_logits"""
EXPECTED_NSA_MOE = """rm1.weight rm2.weight attn.compress_q_linear.weight attn.q_norm.weight
attn.decompress_q_nope.weight attn.decompress_q_rope.weight attn.block_compressor.0.weight
attn.block_compressor.2.weight attn.intra_block_pos_encoding attn.compress_kv_linear.weight
attn.kv_norm.weight attn.decompress_k_nope.weight attn.decompress_v_linear.weight
attn.k_rope_linear.weight attn.selection_k.weight attn.selection_v.weight attn.window_k.weight
attn.window_v.weight attn.branch_gate.weight attn.proj.weight ffn.gate.weight ffn.expert_bias
ffn.experts.0.c_fc.weight ffn.experts.0.c_proj.weight ffn.experts.1.c_fc.weight
ffn.experts.1.c_proj.weight ffn.experts.2.c_fc.weight ffn.experts.2.c_proj.weight
ffn.experts.3.c_fc.weight ffn.experts.3.c_proj.weight
hc_attn.static_alpha hc_attn.dynamic_alpha_fn hc_attn.dynamic_alpha_scale hc_attn.static_beta
hc_attn.dynamic_beta_fn hc_attn.dynamic_beta_scale hc_attn.norm.gamma
hc_ffn.static_alpha hc_ffn.dynamic_alpha_fn hc_ffn.dynamic_alpha_scale hc_ffn.static_beta
hc_ffn.dynamic_beta_fn hc_ffn.dynamic_beta_scale hc_ffn.norm.gamma"""


class TestNamesAndFiles(unittest.TestCase):
    def names(self, sd, i):
        p = f"blocks.{i}."
        return sorted(k[len(p):] for k in sd if k.startswith(p))

    def test_state_dict_names(self):
        C, V, S = 8, 37, 3
        cfg = tiny(n_layer=4, attention_types=["FULL", "Sparse"],
                   attention_mode=["NSA", "NSA", "NSA", "SWA"], types=["mlp", "moe", "mlp", "moe"])
        sd = Transformer(cfg).state_dict()
        self.assertEqual(self.names(sd, 0), sorted(EXPECTED_FULL_MLP.split()))
        self.assertEqual(sd["token_embedding_table.weight"].shape, (V, C))
        self.assertEqual(sd["position_embedding_table.weight"].shape, (48, C))
        self.assertEqual(sd["rm_f.weight"].shape, (C,))
        self.assertNotIn("lm_head.weight", sd)
        shapes = {"attn.c_attn.weight": (3 * C, C), "attn.lamb1": (), "hc_attn.H_res_logits": (S, S),
                  "hc_attn.H_pre_logits": (S,), "ffn.c_fc.weight": (4 * C, C)}
        for k, s in shapes.items():
            self.assertEqual(tuple(sd["blocks.0." + k].shape), s, k)
        self.assertNotIn("blocks.3.attn.selection_k.weight", sd)   # SWA
        self.assertIn("blocks.3.attn.window_k.weight", sd)
        self.assertEqual(tuple(sd["blocks.3.attn.branch_gate.weight"].shape), (2, C))

        cfg = tiny(n_layer=2, attention_types=["Sparse"], mhc=False, branch_gate="sigmoid")
        sd = Transformer(cfg).state_dict()
        self.assertEqual(self.names(sd, 1), sorted(EXPECTED_NSA_MOE.split()))
        H, nope, rd, vd, l = 2, 3, 4, 3, 4
        shapes = {"attn.compress_q_linear.weight": (6, C), "attn.decompress_q_nope.weight": (H * nope, 6),
                  "attn.decompress_q_rope.weight": (H * rd, 6), "attn.block_compressor.0.weight": (7, l * C),
                  "attn.block_compressor.2.weight": (C, 7), "attn.intra_block_pos_encoding": (l, C),
                  "attn.compress_kv_linear.weight": (5, C), "attn.kv_norm.weight": (5,),
                  "attn.decompress_k_nope.weight": (H * nope, 5), "attn.decompress_v_linear.weight": (H * vd, 5),
                  "attn.k_rope_linear.weight": (rd, C), "attn.selection_k.weight": (H * (nope + rd), C),
                  "attn.selection_v.weight": (H * vd, C), "attn.branch_gate.weight": (H * 3, C),
                  "attn.proj.weight": (C, H * vd), "ffn.gate.weight": (3, C), "ffn.expert_bias": (3,),
                  "ffn.experts.2.c_fc.weight": (6, C), "ffn.experts.2.c_proj.weight": (C, 6),
                  "hc_attn.static_alpha": (S, S + 1), "hc_attn.dynamic_alpha_fn": (C, S + 1),
                  "hc_attn.dynamic_alpha_scale": (), "hc_ffn.static_beta": (S,),
                  "hc_ffn.dynamic_beta_fn": (C,), "hc_ffn.norm.gamma": (C,)}
        for k, s in shapes.items():
            self.assertEqual(tuple(sd["blocks.1." + k].shape), s, k)
        sa = sd["blocks.1.hc_ffn.static_alpha"]   # layer_index 3, r = 0
        self.assertTrue(torch.equal(sa, torch.tensor([[1., 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])))
        sd = Transformer(tiny(n_layer=2, attention_types=["Sparse"], attention_mode=["DSA"])).state_dict()
        self.assertNotIn("blocks.0.attn.window_k.weight", sd)
        self.assertIn("blocks.0.attn.selection_v.weight", sd)
        sd = Transformer(tiny(n_layer=1, attention_types=["Sparse"], attention_mode=[[0, 0, 1]])).state_dict()
        self.assertNotIn("blocks.0.attn.compress_kv_linear.weight", sd)
        sd = Transformer(tiny(n_layer=1, attention_types=["Sparse"], attention_mode=[[0, 1, 0]])).state_dict()
        self.assertIn("blocks.0.attn.compress_kv_linear.weight", sd)
        for kw in (dict(hc=False), dict(hc_num_streams=1)):
            sd = Transformer(tiny(**kw)).state_dict()
            self.assertFalse(any(".hc_" in k for k in sd), kw)

    def test_save_load_round_trip(self):
        cfg = tiny(n_layer=3, types=["mlp", "moe"], v_residual=True)
        m = init_weights(Transformer(cfg), 11)
        m.blocks[1].ffn.expert_bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
        idx = torch.randint(0, cfg.vocab_size, (1, 20))
        with tempfile.TemporaryDirectory() as d:
            save_model(m, d)
            m2 = load_model(d)
            self.assertTrue(torch.equal(m2.blocks[1].ffn.expert_bias, m.blocks[1].ffn.expert_bias))
            with torch.no_grad():
                self.assertTrue(torch.equal(m.eval()(idx)[0], m2.eval()(idx)[0]))
            t, _ = safetensors_io.load(os.path.join(d, "model.safetensors"))
            del t["blocks.1.attn.proj.weight"]
            safetensors_io.save(os.path.join(d, "model.safetensors"), t)
            with self.assertRaisesRegex(ModelFileError, "blocks.1.attn.proj.weight"):
                load_model(d)
            t["blocks.1.attn.proj.weight"] = torch.zeros(3, 3)
            safetensors_io.save(os.path.join(d, "model.safetensors"), t)
            with self.assertRaisesRegex(ModelFileError, "shape"):
                load_model(d)

    def test_init_values(self):
        cfg = tiny(n_layer=2, init_std=0.02)
        m = init_weights(Transformer(cfg), 1)
        w = m.token_embedding_table.weight
        self.assertLess(abs(w.std().item() - 0.02), 0.004)
        self.assertTrue(torch.equal(m.blocks[0].rm1.weight, torch.ones(8)))
        self.assertEqual(m.blocks[0].attn.lamb1.item(), 0.5)
        self.assertTrue(torch.equal(m.blocks[1].ffn.expert_bias, torch.zeros(3)))
        pre = m.blocks[1].hc_attn.H_pre_logits   # layer_index 2, S = 3 -> r = 2
        self.assertEqual(pre.tolist(), [-8.0, -8.0, 0.0])
        self.assertTrue(torch.equal(m.blocks[1].hc_attn.H_post_logits, torch.zeros(3)))

    def test_cli(self):
        with tempfile.TemporaryDirectory() as d:
            cfgp = os.path.join(d, "c.json")
            with open(cfgp, "w") as f:
                json.dump(dict(TINY, types=["moe"]), f)
            md = os.path.join(d, "m")
            self.assertEqual(cli.main(["init", "--config", cfgp, "--out", md, "-s", "3"]), 0)
            lo = os.path.join(d, "l.safetensors")
            self.assertEqual(cli.main(["logits", "-m", md, "--ids", "1,2,3,4,5", "--out", lo]), 0)
            logits = safetensors_io.load(lo)[0]["logits"]
            self.assertEqual(tuple(logits.shape), (5, 37))
            m = load_model(md, torch.float64).eval()
            with torch.no_grad():
                ref = m(torch.tensor([[1, 2, 3, 4, 5]]))[0][0]
            self.assertLess((logits.double() - ref).abs().max().item(), 1e-6)
            ids = torch.randint(0, 37, (2, 13))
            idp = os.path.join(d, "ids.safetensors")
            safetensors_io.save(idp, {"ids": ids})
            gp = os.path.join(d, "g.safetensors")
            self.assertEqual(cli.main(["grads", "-m", md, "--ids-file", idp, "--out", gp,
                                       "--train-noise-off"]), 0)
            g = safetensors_io.load(gp)[0]
            names = {n for n, _ in m.named_parameters()}
            self.assertEqual({k[5:] for k in g if k.startswith("grad.")}, names)
            m.train()
            m.set_gate_noise(False)
            _, out = m(ids[:, :-1], ids[:, 1:])
            out["loss"].backward()
            self.assertAlmostEqual(g["loss"].item(), out["loss"].item(), places=5)
            for n, p in m.named_parameters():
                ref = p.grad if p.grad is not None else torch.zeros_like(p)
                self.assertLess((g["grad." + n].double() - ref).abs().max().item(), 1e-6, n)
            self.assertIn("counts.blocks.0.ffn", g)
            with open(cfgp, "w") as f:
                json.dump({"bogus": 1}, f)
            self.assertEqual(cli.main(["init", "--config", cfgp, "--out", md]), 1)


class TestGradcheck(unittest.TestCase):
    def run_check(self, cfg, names, T=13, seed=0, rows=3):
        m = make(cfg, seed=seed, std=0.4)
        m.train()
        m.set_gate_noise(False)
        idx = torch.randint(0, cfg.vocab_size, (2, T + 1), generator=torch.Generator().manual_seed(seed))
        params = dict(m.named_parameters())
        with torch.no_grad():   # move HC / gate parameters off their symmetric init
            for n, p in params.items():
                if "H_res_logits" in n:
                    p.copy_(0.5 * torch.randn_like(p))
                elif ".hc_" in n or "lamb" in n or "norm" in n:
                    p.add_(0.3 * torch.randn_like(p))
        # check the leading rows of each parameter (keeps the number of perturbed entries small)
        def split(p):
            if p.dim() == 0:
                return p.detach().clone(), None
            r = rows if p.dim() > 1 else 2 * rows
            return p.detach()[:r].clone(), p.detach()[r:]

        parts = [split(params[n]) for n in names]
        leaves = tuple(a.requires_grad_(True) for a, _ in parts)

        def f(*ps):
            over = {n: (a if rest is None else torch.cat([a, rest]))
                    for n, a, (_, rest) in zip(names, ps, parts)}
            _, out = torch.nn.utils.stateless.functional_call(m, over, (idx[:, :-1], idx[:, 1:]))
            return out["loss"]

        grads = torch.autograd.grad(f(*leaves), leaves)
        for n, g in zip(names, grads):   # every checked parameter really gets a gradient
            self.assertGreater(g.abs().max().item(), 1e-8, n)
        self.assertTrue(torch.autograd.gradcheck(f, leaves, eps=1e-6, atol=1e-7, rtol=1e-5))

    def test_sparse(self):
        cfg = tiny(n_layer=1, attention_types=["Sparse"], attention_mode=["NSA"], types=["mlp"],
                   hc=False, branch_gate="sigmoid", select_init_blocks=0)
        self.run_check(cfg, ["blocks.0.attn.q_norm.weight", "blocks.0.attn.k_rope_linear.weight",
                             "blocks.0.attn.intra_block_pos_encoding",
                             "blocks.0.attn.decompress_v_linear.weight",
                             "blocks.0.attn.selection_k.weight", "blocks.0.attn.window_v.weight",
                             "blocks.0.attn.branch_gate.weight", "blocks.0.attn.kv_norm.weight"],
                       rows=7)

    def test_moe_mhc(self):
        cfg = tiny(n_layer=2, attention_types=["FULL", "Sparse"], attention_mode=["SWA"],
                   types=["moe"], v_residual=True, moe_balance_coef=0.5, n_experts=4, num_exp=3,
                   sinkhorn_tau=0.5)
        self.run_check(cfg, ["blocks.0.ffn.gate.weight", "blocks.1.ffn.experts.2.c_proj.weight",
                             "blocks.1.hc_attn.H_res_logits", "blocks.1.hc_ffn.H_pre_logits",
                             "blocks.0.hc_ffn.H_post_logits",
                             "blocks.0.rm2.weight"])

    def test_moe_k2_dynamic_hc_and_full(self):
        cfg = tiny(n_layer=2, attention_types=["FULL"], types=["moe", "mlp"], v_residual=True,
                   moe_balance_coef=0.5, n_experts=4, num_exp=2, mhc=False)
        self.run_check(cfg, ["blocks.0.ffn.gate.weight", "blocks.1.attn.lamb1",
                             "blocks.1.attn.lamb2", "blocks.0.hc_attn.static_alpha",
                             "blocks.0.hc_attn.dynamic_alpha_fn", "blocks.1.hc_ffn.dynamic_beta_scale",
                             "blocks.1.hc_ffn.norm.gamma", "position_embedding_table.weight"], T=6)

    def test_orthostochastic(self):
        cfg = tiny(n_layer=1, attention_types=["Sparse"], attention_mode=["DSA"], types=["mlp"],
                   mhc_h_res_proj="orthostochastic")
        self.run_check(cfg, ["blocks.0.hc_attn.H_res_logits", "blocks.0.hc_ffn.H_res_logits",
                             "rm_f.weight", "blocks.0.attn.selection_v.weight"], T=10)


if __name__ == "__main__":
    unittest.main()
