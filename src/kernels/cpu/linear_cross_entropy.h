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
// Rows run in chunks of `chunk_rows` (the chunk's logits live in a reused (chunk_rows, V)
// buffer; only lse, dh and dW outlive a chunk), and a chunk runs in fixed vocabulary blocks
// of kLinearCeVocabBlock rows of W, each a work item whose sgemms run single-threaded on its
// thread (issue 20: ~100 items for the GPT-2 vocabulary, enough for 16+ threads, and no
// threaded sgemm with its duplicated packing or split-K reduction):
//   A  (per block k)  z_k = h_chunk · W_kᵀ; per row the block max m_k, s_k = Σ exp(z_k − m_k)
//                     (z_k becomes exp(z_k − m_k) when gradients are wanted), the target logit;
//   combine (per row) m = max_k m_k, total = Σ_k s_k · exp(m_k − m) in block order,
//                     lse = m + log total, the row's loss;
//   B  (per block k)  G_k = scale · (exp(z_k − m_k) · exp(m_k − m) / total − onehot) in place,
//                     dW_k (+)= G_kᵀ · h_chunk (dW's rows of block k: this item's alone),
//                     dh_k = G_k · W_k (R, C);
//   dh (per row)      dh_chunk = Σ_k dh_k in block order.
// The exp is fast_exp (fast_math.h), the block sums are float runs added in double. Every
// sum has a fixed order over fixed items, so the results are bit-identical for any number of
// threads. cross_entropy_chunk below is the row-at-a-time form the bf16 head uses.
#pragma once

#include <cstdint>

namespace tinyr2::kernels::cpu {

// Rows per chunk when the caller passes chunk_rows ≤ 0: about kLinearCeChunkBytes of logits
// (≥ 16 rows; 128 rows for the GPT-2 vocabulary), and never more than N.
inline constexpr int64_t kLinearCeChunkBytes = int64_t{24} << 20;
// Rows of W per work item of a chunk (the last block of the vocabulary may be shorter).
inline constexpr int64_t kLinearCeVocabBlock = 512;
// The loss of rows [r0, r0 + R) from their logits z (R, V), shared by the fp32 and bf16 heads:
// row_loss[n] = lse − z[target] (ignored rows untouched), lse[n] when lse is given, and with
// grad z becomes G = scale · (softmax − onehot), 0 on ignored rows. With g16 (R, V) and
// round_scaled given (the bf16 head on oneDNN), G goes to g16 in bf16 instead, each row's
// scale · softmax rounded by round_scaled(e, f, V, out) as it is formed (out = bf16(f · e)),
// so z is not written back and read again; the target entry, scale · softmax − scale, is
// rounded to nearest even too.
using ScaledRoundRow = void (*)(const float* e, float f, int64_t n, uint16_t* out);
void cross_entropy_chunk(float* z, int64_t r0, int64_t R, int64_t V, const int32_t* targets,
                         int32_t ignore_index, float scale, bool grad, float* lse, double* row_loss,
                         uint16_t* g16 = nullptr, ScaledRoundRow round_scaled = nullptr);

int64_t linear_cross_entropy_chunk_rows(int64_t V);

// Writes lse (N, may be null) and, when dh / dW are not null, OVERWRITES dh (N, C) and dW
// (V, C) with the gradients above (either may be null to skip it). Returns sum. Targets must
// already be checked to lie in [0, V) or equal ignore_index.
double linear_cross_entropy(const float* h, const float* W, const int32_t* targets, int64_t N,
                            int64_t C, int64_t V, int32_t ignore_index, float scale, float* lse,
                            float* dh, float* dW, int64_t chunk_rows = 0);

}  // namespace tinyr2::kernels::cpu
