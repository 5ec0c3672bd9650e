#include "nn/sparse_attention.h"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "autograd/ops.h"
#include "core/error.h"
#include "nn/quantized.h"
#include "nn/rope_positions.h"

namespace tinyr2::nn {

namespace {

std::vector<int32_t> iota_positions(int64_t T) {
  std::vector<int32_t> v(static_cast<size_t>(T));
  for (int64_t i = 0; i < T; ++i) v[i] = static_cast<int32_t>(i);
  return v;
}

}  // namespace

SparseAttention::SparseAttention(Parameters& p, const std::string& prefix, const ModelConfig& cfg,
                                 BranchSet branches)
    : SequenceMixer(p, prefix),
      compress_q_linear(p.add(prefix + "compress_q_linear.weight", {cfg.q_lora_rank, cfg.n_embd},
                              Init::normal(static_cast<float>(cfg.init_std)))),
      decompress_q_nope(p.add(prefix + "decompress_q_nope.weight",
                              {cfg.n_head * cfg.qk_nope_head_dim, cfg.q_lora_rank},
                              Init::normal(static_cast<float>(cfg.init_std)))),
      decompress_q_rope(p.add(prefix + "decompress_q_rope.weight",
                              {cfg.n_head * cfg.qk_rope_head_dim, cfg.q_lora_rank},
                              Init::normal(static_cast<float>(cfg.init_std)))),
      q_norm(p, prefix + "q_norm.", cfg.q_lora_rank, cfg.norm_eps),
      cfg_(cfg),
      branches_(branches) {
  const float std = static_cast<float>(cfg.init_std);
  const int64_t C = cfg.n_embd, H = cfg.n_head, nope = cfg.qk_nope_head_dim,
                rope = cfg.qk_rope_head_dim, vd = cfg.v_head_dim, l = cfg.block_size;
  n_active_ = branches[0] + branches[1] + branches[2];
  TINYR2_CHECK(n_active_ >= 1, "Sparse layer with no active branch");
  need_compressed_ = branches[0] || branches[1];
  if (need_compressed_) {
    block_compressor_0 = p.add(prefix + "block_compressor.0.weight",
                               {cfg.compress_hidden_size(), l * C}, Init::normal(std));
    block_compressor_2 = p.add(prefix + "block_compressor.2.weight",
                               {C, cfg.compress_hidden_size()}, Init::normal(std));
    intra_block_pos_encoding =
        p.add(prefix + "intra_block_pos_encoding", {l, C}, Init::normal(std));
    compress_kv_linear =
        p.add(prefix + "compress_kv_linear.weight", {cfg.kv_lora_rank, C}, Init::normal(std));
    kv_norm.emplace(p, prefix + "kv_norm.", cfg.kv_lora_rank, cfg.norm_eps);
    decompress_k_nope =
        p.add(prefix + "decompress_k_nope.weight", {H * nope, cfg.kv_lora_rank}, Init::normal(std));
    decompress_v_linear =
        p.add(prefix + "decompress_v_linear.weight", {H * vd, cfg.kv_lora_rank}, Init::normal(std));
    k_rope_linear = p.add(prefix + "k_rope_linear.weight", {rope, C}, Init::normal(std));
  }
  if (branches[1]) {
    selection_k = p.add(prefix + "selection_k.weight", {H * (nope + rope), C}, Init::normal(std));
    selection_v = p.add(prefix + "selection_v.weight", {H * vd, C}, Init::normal(std));
  }
  if (branches[2]) {
    window_k = p.add(prefix + "window_k.weight", {H * (nope + rope), C}, Init::normal(std));
    window_v = p.add(prefix + "window_v.weight", {H * vd, C}, Init::normal(std));
  }
  const int64_t gate_out = cfg.branch_gate == BranchGate::Softmax ? n_active_ : H * n_active_;
  branch_gate = p.add(prefix + "branch_gate.weight", {gate_out, C}, Init::normal(std));
  proj = p.add(prefix + "proj.weight", {C, H * vd}, Init::normal(std));
}

SparseAttention::Projections SparseAttention::project(ForwardContext& ctx, const Tensor& x,
                                                      const std::vector<int32_t>& positions) const {
  Tape& t = ctx.tape;
  const int64_t B = x.size(0), T = x.size(1), H = cfg_.n_head;
  const int64_t nope = cfg_.qk_nope_head_dim, rope = cfg_.qk_rope_head_dim, Dk = nope + rope,
                vd = cfg_.v_head_dim;
  const auto table =
      ops::make_rope_table(positions, rope, static_cast<float>(rope_base(cfg_, rope)));
  auto all_rows = [](const Tensor& w) { return ops::WeightRows{w, 0, w.size(0)}; };
  // x's projections, one GEMM; keys come out as [k_nope ‖ RoPE(k_rope)] per head.
  std::vector<ops::StackedOutput> outputs = {{{all_rows(compress_q_linear)}}};
  if (branches_[1]) {
    outputs.push_back({{all_rows(selection_k)}, H, rope});
    outputs.push_back({{all_rows(selection_v)}});
  }
  if (branches_[2]) {
    outputs.push_back({{all_rows(window_k)}, H, rope});
    outputs.push_back({{all_rows(window_v)}});
  }
  outputs.push_back({{all_rows(branch_gate)}});
  const std::vector<Tensor> y = stacked_linear(ctx, x, outputs, table);
  Projections p;
  size_t i = 1;
  if (branches_[1]) {
    p.k_sel = ops::reshape(t, y[i++], {B, T, H, Dk});
    p.v_sel = ops::reshape(t, y[i++], {B, T, H, vd});
  }
  if (branches_[2]) {
    p.k_win = ops::reshape(t, y[i++], {B, T, H, Dk});
    p.v_win = ops::reshape(t, y[i++], {B, T, H, vd});
  }
  p.gate_logits = y[i];
  // MLA query: c_q = q_norm(compress_q_linear x); head h of q is [decompress_q_nope rows of
  // h ‖ RoPE(decompress_q_rope rows of h)] of c_q — both decompressions in one GEMM.
  const Tensor c_q = q_norm.forward(ctx, y[0]);
  ops::StackedOutput query{{}, H, rope};
  for (int64_t h = 0; h < H; ++h) {
    query.parts.push_back({decompress_q_nope, h * nope, (h + 1) * nope});
    query.parts.push_back({decompress_q_rope, h * rope, (h + 1) * rope});
  }
  p.q = ops::reshape(t, stacked_linear(ctx, c_q, {query}, table)[0], {B, T, H, Dk});
  return p;
}

std::pair<Tensor, Tensor> SparseAttention::compress(ForwardContext& ctx, const Tensor& blocks,
                                                    int64_t B, int64_t nb,
                                                    int64_t first_block) const {
  Tape& t = ctx.tape;
  const int64_t C = cfg_.n_embd, H = cfg_.n_head, l = cfg_.block_size, d = cfg_.block_stride;
  const int64_t nope = cfg_.qk_nope_head_dim, rope = cfg_.qk_rope_head_dim, vd = cfg_.v_head_dim;
  // x̃_i = block_compressor(flatten(x[i·d : i·d+l] + intra_block_pos_encoding))
  const Tensor with_pos = ops::reshape(
      t, ops::add(t, ops::reshape(t, blocks, {B * nb, l, C}), intra_block_pos_encoding),
      {B * nb, l * C});
  // (B·nb rows, few at T = 512, and l·C long: gemm() computes that product transposed,
  // kernels/cpu/gemm_paths.h.)
  const Tensor hidden = linear(ctx, with_pos, block_compressor_0);
  const Tensor x_cmp =
      ops::reshape(t, linear(ctx, ops::gelu(t, hidden), block_compressor_2), {B, nb, C});
  // MLA on the compressed tokens; one rope key per block, at its last token, shared by heads.
  const Tensor c_kv = kv_norm->forward(ctx, linear(ctx, x_cmp, compress_kv_linear));
  const Tensor k_nope = ops::reshape(t, linear(ctx, c_kv, decompress_k_nope), {B, nb, H, nope});
  const Tensor v_cmp = ops::reshape(t, linear(ctx, c_kv, decompress_v_linear), {B, nb, H, vd});
  std::vector<int32_t> block_pos(static_cast<size_t>(nb));
  for (int64_t i = 0; i < nb; ++i)
    block_pos[i] = static_cast<int32_t>((first_block + i) * d + l - 1);
  const Tensor k_rope =
      ops::expand(t,
                  ops::reshape(t,
                               ops::rope(t, linear(ctx, x_cmp, k_rope_linear), block_pos,
                                         static_cast<float>(rope_base(cfg_, rope))),
                               {B, nb, 1, rope}),
                  {B, nb, H, rope});
  return {ops::concat(t, {k_nope, k_rope}, -1), v_cmp};  // (B,nb,H,Dk), (B,nb,H,vd)
}

ops::NsaSelectParams SparseAttention::select_params() const {
  return {cfg_.block_size,          cfg_.block_stride,       cfg_.select_block_size,
          cfg_.num_select_blocks(), cfg_.select_init_blocks, cfg_.select_local_blocks};
}

Tensor SparseAttention::combine(ForwardContext& ctx, const Tensor& gate_logits,
                                const std::vector<Tensor>& outs) const {
  Tape& t = ctx.tape;
  const int64_t B = gate_logits.size(0), T = gate_logits.size(1), H = cfg_.n_head,
                vd = cfg_.v_head_dim;
  // softmax: one weight per token and branch, shared by heads; sigmoid: per head, row
  // h·n_active + c.
  const Tensor gates = cfg_.branch_gate == BranchGate::Softmax
                           ? ops::reshape(t, ops::softmax(t, gate_logits), {B, T, 1, n_active_})
                           : ops::reshape(t, ops::sigmoid(t, gate_logits), {B, T, H, n_active_});
  const Tensor mixed = ops::gated_sum(t, outs, gates);
  Tensor y = linear(ctx, ops::reshape(t, mixed, {B, T, H * vd}), proj);
  if (ctx.training && cfg_.dropout > 0)
    y = ops::dropout(t, y, static_cast<float>(cfg_.dropout), *ctx.rng);
  return y;
}

Tensor SparseAttention::forward(ForwardContext& ctx, const Tensor& x) const {
  Tape& t = ctx.tape;
  const int64_t B = x.size(0), T = x.size(1), C = cfg_.n_embd, H = cfg_.n_head;
  const int64_t Dk = cfg_.qk_nope_head_dim + cfg_.qk_rope_head_dim, vd = cfg_.v_head_dim;
  const int64_t l = cfg_.block_size, d = cfg_.block_stride;
  const float scale = 1.f / std::sqrt(static_cast<float>(Dk));
  const std::vector<int32_t> positions = iota_positions(T);

  // ---- Per-token projections; the MLA query q = [q_nope ‖ RoPE(q_rope)] per head is shared
  // by all branches.
  const Projections pr = project(ctx, x, positions);
  const Tensor& q = pr.q;
  std::vector<Tensor> outs;  // active branch outputs, (B,T,H,vd), in branch order

  // ---- Branch 1: compressed blocks [i·d, i·d+l), visible to t iff i·d+l−1 ≤ t. Its
  // attention probabilities also choose branch 2's blocks (one fused op).
  const int64_t nb = T >= l ? (T - l) / d + 1 : 0;
  IndexTensor sel_blocks;
  if (need_compressed_) {
    Tensor k_cmp, v_cmp;
    if (nb > 0) {
      std::vector<int32_t> rows(static_cast<size_t>(B * nb * l));
      for (int64_t b = 0; b < B; ++b)
        for (int64_t i = 0; i < nb; ++i)
          for (int64_t u = 0; u < l; ++u)
            rows[(b * nb + i) * l + u] = static_cast<int32_t>(b * T + i * d + u);
      const Tensor blocks = ops::gather_rows(t, ops::reshape(t, x, {B * T, C}),
                                             IndexTensor({B * nb * l}, rows));  // (B·nb·l, C)
      std::tie(k_cmp, v_cmp) = compress(ctx, blocks, B, nb, 0);
    }
    const Tensor o1 =
        ops::compressed_attention(t, q, k_cmp, v_cmp, scale, select_params(), 0,
                                  branches_[0] && nb > 0, branches_[1] ? &sel_blocks : nullptr);
    if (branches_[0])
      outs.push_back(nb > 0 ? o1 : Tensor::zeros({B, T, H, vd}));  // none visible yet: 0
  }

  // ---- Branch 2: attend over the tokens of the blocks selected for each query.
  if (branches_[1])
    outs.push_back(
        ops::block_attention(t, q, pr.k_sel, pr.v_sel, sel_blocks, cfg_.select_block_size, scale));

  // ---- Branch 3: sliding window t − w < u ≤ t.
  if (branches_[2])
    outs.push_back(ops::window_attention(t, q, pr.k_win, pr.v_win, scale, cfg_.window_size));

  // ---- Gate and output projection.
  return combine(ctx, pr.gate_logits, outs);
}

void SparseAttentionState::clear() {
  k_cmp.clear();
  v_cmp.clear();
  raw.clear();
  raw_start = 0;
  k_sel.clear();
  v_sel.clear();
  k_win.clear();
  v_win.clear();
}

int64_t SparseAttentionState::bytes() const {
  return k_cmp.bytes() + v_cmp.bytes() + raw.bytes() + k_sel.bytes() + v_sel.bytes() +
         k_win.bytes() + v_win.bytes();
}

int64_t SparseAttentionState::allocated_bytes() const {
  return k_cmp.allocated_bytes() + v_cmp.allocated_bytes() + raw.allocated_bytes() +
         k_sel.allocated_bytes() + v_sel.allocated_bytes() + k_win.allocated_bytes() +
         v_win.allocated_bytes();
}

std::unique_ptr<MixerState> SparseAttention::new_state() const {
  const int64_t T = cfg_.ctx_len, H = cfg_.n_head, C = cfg_.n_embd;
  const int64_t Dk = cfg_.qk_nope_head_dim + cfg_.qk_rope_head_dim, Dv = cfg_.v_head_dim;
  auto s = std::make_unique<SparseAttentionState>();
  if (need_compressed_) {
    const int64_t max_blocks =
        T >= cfg_.block_size ? (T - cfg_.block_size) / cfg_.block_stride + 1 : 0;
    s->k_cmp = RowBuffer({H, Dk}, max_blocks);
    s->v_cmp = RowBuffer({H, Dv}, max_blocks);
    s->raw = RowBuffer({C}, T);
  }
  if (branches_[1]) {
    s->k_sel = RowBuffer({H, Dk}, T);
    s->v_sel = RowBuffer({H, Dv}, T);
  }
  if (branches_[2]) {
    s->k_win = RingBuffer({H, Dk}, cfg_.window_size);
    s->v_win = RingBuffer({H, Dv}, cfg_.window_size);
  }
  return s;
}

Tensor SparseAttention::forward_cached(ForwardContext& ctx, const Tensor& x, MixerState& state,
                                       int64_t pos0) const {
  TINYR2_CHECK(x.dim() == 3 && x.size(0) == 1, "cached Sparse attention: x {} must be (1,T,C)",
               shape_str(x.shape()));
  const int64_t Tn = x.size(1);
  std::vector<int32_t> positions(static_cast<size_t>(Tn));
  for (int64_t i = 0; i < Tn; ++i) positions[i] = static_cast<int32_t>(pos0 + i);
  const Projections pr = project(ctx, x, positions);
  return combine(ctx, pr.gate_logits, attend_cached(ctx, x, pr, state, pos0));
}

std::vector<Tensor> SparseAttention::attend_cached(ForwardContext& ctx, const Tensor& x,
                                                   const Projections& pr, MixerState& state,
                                                   int64_t pos0) const {
  Tape& t = ctx.tape;
  SparseAttentionState& cache = state_as<SparseAttentionState>(state);
  const int64_t Tn = x.size(1), H = cfg_.n_head;
  const int64_t Dk = cfg_.qk_nope_head_dim + cfg_.qk_rope_head_dim, vd = cfg_.v_head_dim;
  const int64_t l = cfg_.block_size, d = cfg_.block_stride, w = cfg_.window_size;
  const float scale = 1.f / std::sqrt(static_cast<float>(Dk));
  const Tensor& q = pr.q;
  std::vector<Tensor> outs;

  // ---- Branch 1: compress the blocks completed by the new rows (their raw rows are the
  // cached tail followed by the new rows), then attend over every cached compressed key.
  int64_t nb = 0;
  IndexTensor sel_blocks;
  if (need_compressed_) {
    TINYR2_CHECK(cache.raw_start + cache.raw.rows() == pos0,
                 "Sparse cache holds rows up to {}, not {}", cache.raw_start + cache.raw.rows(),
                 pos0);
    cache.raw.append(x);  // rows [raw_start, pos0 + Tn)
    const int64_t end = pos0 + Tn, nb_old = cache.k_cmp.rows();
    nb = end >= l ? (end - l) / d + 1 : 0;
    if (nb > nb_old) {
      std::vector<int32_t> rows(static_cast<size_t>((nb - nb_old) * l));
      for (int64_t i = nb_old; i < nb; ++i)
        for (int64_t u = 0; u < l; ++u)
          rows[(i - nb_old) * l + u] = static_cast<int32_t>(i * d + u - cache.raw_start);
      const Tensor blocks =
          ops::gather_rows(t, cache.raw.matrix(), IndexTensor({(nb - nb_old) * l}, rows));
      const auto [k_new, v_new] = compress(ctx, blocks, 1, nb - nb_old, nb_old);
      cache.k_cmp.append(k_new);
      cache.v_cmp.append(v_new);
      cache.raw.drop_front(nb * d - cache.raw_start);  // the next block starts at nb·d
      cache.raw_start = nb * d;
    }
    const bool any = nb > 0;
    const Tensor o1 = ops::compressed_attention(
        t, q, any ? cache.k_cmp.view() : Tensor(), any ? cache.v_cmp.view() : Tensor(), scale,
        select_params(), pos0, branches_[0] && any, branches_[1] ? &sel_blocks : nullptr);
    if (branches_[0]) outs.push_back(any ? o1 : Tensor::zeros({1, Tn, H, vd}));
  }

  // ---- Branch 2: selection rows of every position are cached; the chosen blocks index them.
  if (branches_[1]) {
    TINYR2_CHECK(cache.k_sel.rows() == pos0, "Sparse selection cache holds {} rows, not {}",
                 cache.k_sel.rows(), pos0);
    cache.k_sel.append(pr.k_sel);
    cache.v_sel.append(pr.v_sel);
    outs.push_back(ops::block_attention(t, q, cache.k_sel.view(), cache.v_sel.view(), sel_blocks,
                                        cfg_.select_block_size, scale, pos0));
  }

  // ---- Branch 3: the ring holds the last w keys. One new token sees the whole ring (slot
  // order does not matter to a softmax); a chunk attends over the earlier w − 1 keys in
  // order followed by its own.
  if (branches_[2]) {
    const Tensor &k_win = pr.k_win, &v_win = pr.v_win;
    TINYR2_CHECK(cache.k_win.total() == pos0, "Sparse window cache holds {} rows, not {}",
                 cache.k_win.total(), pos0);
    if (Tn == 1) {
      cache.k_win.push(k_win);
      cache.v_win.push(v_win);
      const std::vector<int32_t> lo = {0}, hi = {static_cast<int32_t>(cache.k_win.size())};
      outs.push_back(
          ops::range_attention(t, q, cache.k_win.slots(), cache.v_win.slots(), scale, lo, hi));
    } else {
      const int64_t P = std::min(w - 1, pos0);  // earlier keys a new query can still see
      const Tensor keys = P > 0 ? ops::concat(t, {cache.k_win.last(P), k_win}, 1) : k_win;
      const Tensor vals = P > 0 ? ops::concat(t, {cache.v_win.last(P), v_win}, 1) : v_win;
      outs.push_back(ops::causal_attention(t, q, keys, vals, scale, w, P));
      cache.k_win.push(k_win);
      cache.v_win.push(v_win);
    }
  }
  return outs;
}

double SparseAttention::flops_per_token(int64_t T) const {
  const double H = static_cast<double>(cfg_.n_head),
               Dk = static_cast<double>(cfg_.qk_nope_head_dim + cfg_.qk_rope_head_dim),
               vd = static_cast<double>(cfg_.v_head_dim);
  const int64_t l = cfg_.block_size, d = cfg_.block_stride,
                selected = cfg_.num_select_blocks() * cfg_.select_block_size;
  double keys_trained = 0, blocks_scored_only = 0;  // summed over t
  for (int64_t t = 0; t < T; ++t) {
    const int64_t visible_blocks = t + 1 >= l ? (t + 1 - l) / d + 1 : 0;
    if (branches_[0]) keys_trained += static_cast<double>(visible_blocks);
    if (branches_[1] && !branches_[0]) blocks_scored_only += static_cast<double>(visible_blocks);
    if (branches_[1]) keys_trained += static_cast<double>(std::min(selected, t + 1));
    if (branches_[2]) keys_trained += static_cast<double>(std::min(cfg_.window_size, t + 1));
  }
  const double total = 6.0 * H * (Dk + vd) * keys_trained + 2.0 * H * Dk * blocks_scored_only;
  return T > 0 ? total / static_cast<double>(T) : 0.0;
}

}  // namespace tinyr2::nn
