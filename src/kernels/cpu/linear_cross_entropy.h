// Fused linear + cross-entropy: the mean cross-entropy of the logits h · Wᵀ without ever
// holding the (N, V) logits or their gradient (the tied LM head, SPEC §2).
//
//   h (N, C), W (V, C), targets t (N) with an ignore rule (rows whose target equals
//   ignore_index contribute neither loss nor gradient), z = h · Wᵀ (N, V):
//     lse[n]  = m_n + log Σ_v exp(z[n,v] − m_n),   m_n = max_v z[n,v]
//     sum     = Σ_{n: t[n] ≠ ignore} (lse[n] − z[n, t[n]])          (returned, in double)
//   with gradients of `scale · sum` (the caller passes scale = 1/count for the mean):
//     G[n,v]  = scale · (exp(z[n,v] − lse[n]) − [v = t[n]])          (0 on ignored rows)
//     dh      = G · W   (N, C)          dW = Gᵀ · h   (V, C)
//
// Rows run in chunks of `chunk_rows`: one sgemm makes the chunk's logits in a reused
// (chunk_rows, V) buffer, an OpenMP loop over its rows takes the max, the log-sum-exp and
// the target logit and — when gradients are wanted — turns the row into G in place, then
// dh_chunk = G · W (sgemm) and dW += Gᵀ · h_chunk (sgemm, beta = 1 after the first chunk).
// Only lse, dh and dW outlive a chunk. The exp is fast_exp (fast_math.h), the row sums are
// float blocks added in double (as in the unfused cross_entropy kernel). The result does not
// depend on the number of threads except through OpenBLAS's own summation order.
#pragma once

#include <cstdint>

namespace tinyr2::kernels::cpu {

// Rows per chunk when the caller passes chunk_rows ≤ 0: about kLinearCeChunkBytes of logits
// (≥ 16 rows; 128 rows for the GPT-2 vocabulary), and never more than N.
inline constexpr int64_t kLinearCeChunkBytes = int64_t{24} << 20;
// The loss of rows [r0, r0 + R) from their logits z (R, V), shared by the fp32 and bf16 heads:
// row_loss[n] = lse − z[target] (ignored rows untouched), lse[n] when lse is given, and with
// grad z becomes G = scale · (softmax − onehot), 0 on ignored rows.
void cross_entropy_chunk(float* z, int64_t r0, int64_t R, int64_t V, const int32_t* targets,
                         int32_t ignore_index, float scale, bool grad, float* lse,
                         double* row_loss);

int64_t linear_cross_entropy_chunk_rows(int64_t V);

// Writes lse (N, may be null) and, when dh / dW are not null, OVERWRITES dh (N, C) and dW
// (V, C) with the gradients above (either may be null to skip it). Returns sum. Targets must
// already be checked to lie in [0, V) or equal ignore_index.
double linear_cross_entropy(const float* h, const float* W, const int32_t* targets, int64_t N,
                            int64_t C, int64_t V, int32_t ignore_index, float scale, float* lse,
                            float* dh, float* dW, int64_t chunk_rows = 0);

}  // namespace tinyr2::kernels::cpu
