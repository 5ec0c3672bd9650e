// Batched decoding of the sequence mixers (SPEC §14 continuous batching): one new position of
// each of B sequences, x (1,B,C), row b at position pos[b] of the sequence in states[b]. Every
// per-token product (projections, gate, output) runs once over the B rows; only the attention
// itself is per row, against that row's own decode state (SPEC §7). Row b's output equals
// forward_cached on that row alone.
#include <cmath>

#include "autograd/ops.h"
#include "core/error.h"
#include "nn/full_attention.h"
#include "nn/sparse_attention.h"

namespace tinyr2::nn {

namespace {

void check_batch(const std::string& prefix, const Tensor& x, size_t n_states, size_t n_pos) {
  TINYR2_CHECK(x.dim() == 3 && x.size(0) == 1, "{}: batched decode x {} must be (1,B,C)", prefix,
               shape_str(x.shape()));
  TINYR2_CHECK(static_cast<size_t>(x.size(1)) == n_states && n_states == n_pos,
               "{}: batched decode of {} rows with {} states and {} positions", prefix, x.size(1),
               n_states, n_pos);
}

Tensor row(Tape& t, const Tensor& x, int64_t b) {
  return x.size(1) == 1 ? x : ops::slice(t, x, 1, b, b + 1);
}

// The B rows as one sequence of B tokens, each at its own position (RoPE per row).
std::vector<int32_t> row_positions(const std::vector<int64_t>& pos) {
  return std::vector<int32_t>(pos.begin(), pos.end());
}

Tensor rows_concat(Tape& t, const std::vector<Tensor>& rows) {
  return rows.size() == 1 ? rows[0] : ops::concat(t, rows, 1);
}

}  // namespace

Tensor SequenceMixer::forward_cached_batch(ForwardContext& ctx, const Tensor& x,
                                           const std::vector<MixerState*>& states,
                                           const std::vector<int64_t>& pos) const {
  check_batch(prefix_, x, states.size(), pos.size());
  std::vector<Tensor> out;
  for (size_t b = 0; b < states.size(); ++b)
    out.push_back(
        forward_cached(ctx, row(ctx.tape, x, static_cast<int64_t>(b)), *states[b], pos[b]));
  return rows_concat(ctx.tape, out);
}

Tensor FullAttention::forward_cached_batch(ForwardContext& ctx, const Tensor& x,
                                           const std::vector<MixerState*>& states,
                                           const std::vector<int64_t>& pos) const {
  Tape& t = ctx.tape;
  check_batch(prefix(), x, states.size(), pos.size());
  const auto [q, k, v] = qkv(ctx, x, row_positions(pos));  // (1,B,H,D): one GEMM for all rows
  const float scale = 1.f / std::sqrt(static_cast<float>(C_ / H_));
  std::vector<Tensor> ys;
  for (size_t i = 0; i < states.size(); ++i) {
    const auto b = static_cast<int64_t>(i);
    FullAttentionState& s = state_as<FullAttentionState>(*states[i]);
    TINYR2_CHECK(s.k.rows() == pos[i], "{}: cache holds {} positions, not {}", prefix(), s.k.rows(),
                 pos[i]);
    s.k.append(row(t, k, b));
    s.v.append(row(t, v, b));
    ys.push_back(ops::causal_attention(t, row(t, q, b), s.k.view(), s.v.view(), scale, 0, pos[i]));
  }
  return output(ctx, rows_concat(t, ys));
}

Tensor SparseAttention::forward_cached_batch(ForwardContext& ctx, const Tensor& x,
                                             const std::vector<MixerState*>& states,
                                             const std::vector<int64_t>& pos) const {
  Tape& t = ctx.tape;
  check_batch(prefix(), x, states.size(), pos.size());
  const Projections all = project(ctx, x, row_positions(pos));
  std::vector<std::vector<Tensor>> branch_rows;  // [branch][row]
  for (size_t i = 0; i < states.size(); ++i) {
    const auto b = static_cast<int64_t>(i);
    auto pick = [&](const Tensor& y) { return y.defined() ? row(t, y, b) : Tensor(); };
    const Projections pr{pick(all.q),     pick(all.k_sel), pick(all.v_sel),
                         pick(all.k_win), pick(all.v_win), pick(all.gate_logits)};
    const std::vector<Tensor> outs = attend_cached(ctx, row(t, x, b), pr, *states[i], pos[i]);
    branch_rows.resize(outs.size());
    for (size_t c = 0; c < outs.size(); ++c) branch_rows[c].push_back(outs[c]);
  }
  std::vector<Tensor> outs;
  for (const auto& rows : branch_rows) outs.push_back(rows_concat(t, rows));
  return combine(ctx, all.gate_logits, outs);
}

}  // namespace tinyr2::nn
