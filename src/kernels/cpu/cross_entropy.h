// Fused log-softmax + cross-entropy over the last dimension of logits (N, V).
//
// Forward keeps only the per-row log-sum-exp (N floats), never an (N, V) probability tensor:
//   lse[n] = m_n + log Σ_v exp(x[n,v] − m_n),   m_n = max_v x[n,v]
//   loss   = (1/count) Σ_{n: t[n] ≠ ignore} (lse[n] − x[n, t[n]]),   count = #non-ignored rows
// Backward recomputes the softmax row by row straight into the logits gradient:
//   dx[n,v] += (exp(x[n,v] − lse[n]) − [v = t[n]]) · scale,   scale = dloss / count
// and leaves ignored rows untouched. Rows run in parallel; the exp is vectorised.
#pragma once

#include <cstdint>

namespace tinyr2::kernels::cpu {

// Writes lse (N) and returns Σ over non-ignored rows of (lse[n] − x[n, t[n]]), in double.
// The targets must already be checked to lie in [0, V) or equal ignore_index.
double cross_entropy_forward(const float* logits, const int32_t* targets, float* lse, int64_t N,
                             int64_t V, int32_t ignore_index);

void cross_entropy_backward(const float* logits, const int32_t* targets, const float* lse,
                            float scale, float* dlogits, int64_t N, int64_t V,
                            int32_t ignore_index);

}  // namespace tinyr2::kernels::cpu
