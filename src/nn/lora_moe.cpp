#include "nn/lora_moe.h"

#include "autograd/ops.h"
#include "nn/lora.h"

namespace tinyr2::nn {

bool any_lora(const ForwardContext& ctx, const std::vector<Tensor>& weights) {
  if (!ctx.lora) return false;
  for (const Tensor& w : weights)
    if (lora_of(ctx, w)) return true;
  return false;
}

Tensor routed_experts_each(ForwardContext& ctx, const Tensor& xf, const Tensor& w,
                           const IndexTensor& chosen, int64_t R, const ExpertForward& expert) {
  Tape& t = ctx.tape;
  const int64_t N = xf.size(0), K = chosen.size(1);
  const Tensor w_flat = ops::reshape(t, w, {N * K, 1});
  std::vector<Tensor> parts;  // ĝ · expert_e(x[rows of e]), experts in order
  std::vector<int32_t> all_rows;
  for (int64_t e = 0; e < R; ++e) {
    std::vector<int32_t> rows, slots;  // tokens routed to e, in token order, and their (n,k)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k)
        if (chosen.data[static_cast<size_t>(n * K + k)] == static_cast<int32_t>(e)) {
          rows.push_back(static_cast<int32_t>(n));
          slots.push_back(static_cast<int32_t>(n * K + k));
        }
    if (rows.empty()) continue;  // an unchosen expert does no work
    const int64_t M = static_cast<int64_t>(rows.size());
    const Tensor ye = expert(ctx, e, ops::gather_rows(t, xf, IndexTensor({M}, rows)));
    const Tensor g = ops::gather_rows(t, w_flat, IndexTensor({M}, slots));  // (M,1)
    parts.push_back(ops::mul(t, ye, g));
    all_rows.insert(all_rows.end(), rows.begin(), rows.end());
  }
  if (parts.empty()) return Tensor::zeros({N, xf.size(1)});
  // One scatter of every expert's rows: no (N,C) sum per expert.
  const Tensor stacked = parts.size() == 1 ? parts[0] : ops::concat(t, parts, 0);
  const int64_t rows_total = static_cast<int64_t>(all_rows.size());
  return ops::scatter_add_rows(t, stacked, IndexTensor({rows_total}, all_rows), N);
}

}  // namespace tinyr2::nn
