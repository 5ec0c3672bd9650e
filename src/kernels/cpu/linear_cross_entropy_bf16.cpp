#include "kernels/cpu/linear_cross_entropy_bf16.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "kernels/cpu/gemm_bf16.h"
#include "kernels/cpu/gemm_bf16_onednn.h"
#include "kernels/cpu/linear_cross_entropy.h"

namespace tinyr2::kernels::cpu {

namespace {

constexpr double kOneDnnHeadVolume = 67108864.0;  // 2^26: rows·V·C of one chunk's logits

// The chunks on oneDNN's bf16 matmul (gemm_bf16_onednn.h): W rounded to bf16 once for both of
// its uses (Wᵀ for the logits, W for dh), each chunk's h and G rounded once for both of theirs
// (G as the softmax forms it: cross_entropy_chunk writes it to g16 in bf16).
// A product oneDNN refuses runs on gemm_bf16 from the fp32 operands instead.
void onednn_chunks(const float* h, const float* W, const int32_t* targets, int64_t N, int64_t C,
                   int64_t V, int32_t ignore_index, float scale, float* lse, float* dh, float* dW,
                   int64_t rows, float* z, double* row_loss) {
  const bool grad = dh != nullptr || dW != nullptr;
  std::vector<uint16_t> w16(static_cast<size_t>(V * C)), h16(static_cast<size_t>(rows * C)),
      g16(grad ? static_cast<size_t>(rows * V) : 0);
  to_bf16_rows(W, V, C, C, w16.data());
  for (int64_t r0 = 0; r0 < N; r0 += rows) {
    const int64_t R = std::min(rows, N - r0);
    const float* hc = h + r0 * C;
    to_bf16_rows(hc, R, C, C, h16.data());
    if (!matmul_bf16_onednn(false, true, R, V, C, 1.f, h16.data(), C, w16.data(), C, 0.f, z, V))
      gemm_bf16(true, false, true, R, V, C, 1.f, hc, C, W, C, 0.f, z, V);  // z = h_chunk · Wᵀ

    // G = scale · (softmax − onehot), rounded to bf16 straight into g16.
    cross_entropy_chunk(z, r0, R, V, targets, ignore_index, scale, grad, lse, row_loss,
                        grad ? g16.data() : nullptr, grad ? to_bf16_scaled_row : nullptr);
    if (!grad) continue;
    // A product oneDNN refuses takes G widened back into z (exact; gemm_bf16 rounds it again).
    auto g32 = [&] {
      for (int64_t i = 0; i < R * V; ++i) z[i] = from_bf16(g16[static_cast<size_t>(i)]);
      return z;
    };
    if (dh &&  // G · W
        !matmul_bf16_onednn(false, false, R, C, V, 1.f, g16.data(), V, w16.data(), C, 0.f,
                            dh + r0 * C, C))
      gemm_bf16(true, false, false, R, C, V, 1.f, g32(), V, W, C, 0.f, dh + r0 * C, C);
    const float beta = r0 == 0 ? 0.f : 1.f;
    if (dW &&  // Gᵀ · h
        !matmul_bf16_onednn(true, false, V, C, R, 1.f, g16.data(), V, h16.data(), C, beta, dW, C))
      gemm_bf16(true, true, false, V, C, R, 1.f, g32(), V, hc, C, beta, dW, C);
  }
}

// The chunks on gemm_bf16's own kernel (native) or its emulation.
void own_chunks(bool native, const float* h, const float* W, const int32_t* targets, int64_t N,
                int64_t C, int64_t V, int32_t ignore_index, float scale, float* lse, float* dh,
                float* dW, int64_t rows, float* z, double* row_loss) {
  const bool grad = dh != nullptr || dW != nullptr;
  std::vector<uint32_t> workspace;  // op(A) packs, reused by every chunk
  // W packed once: as Wᵀ (C, V) for the logits and, when dh is wanted, as W (V, C).
  PackedBf16B w_t, w, h_chunk;
  if (native) {
    pack_bf16_b(true, C, V, W, C, w_t);
    if (dh) pack_bf16_b(false, V, C, W, C, w);
  }
  for (int64_t r0 = 0; r0 < N; r0 += rows) {
    const int64_t R = std::min(rows, N - r0);
    const float* hc = h + r0 * C;
    if (native)
      gemm_bf16_packed(false, R, C, 1.f, hc, C, w_t, 0.f, z, V, &workspace);
    else
      gemm_bf16(false, false, true, R, V, C, 1.f, hc, C, W, C, 0.f, z, V);  // z = h_chunk · Wᵀ

    cross_entropy_chunk(z, r0, R, V, targets, ignore_index, scale, grad, lse, row_loss);

    if (dh) {  // G · W
      if (native)
        gemm_bf16_packed(false, R, V, 1.f, z, V, w, 0.f, dh + r0 * C, C, &workspace);
      else
        gemm_bf16(false, false, false, R, C, V, 1.f, z, V, W, C, 0.f, dh + r0 * C, C);
    }
    if (dW) {  // Gᵀ · h
      if (native) {
        pack_bf16_b(false, R, C, hc, C, h_chunk);
        gemm_bf16_packed(true, V, R, 1.f, z, V, h_chunk, r0 == 0 ? 0.f : 1.f, dW, C, &workspace);
      } else {
        gemm_bf16(false, true, false, V, C, R, 1.f, z, V, hc, C, r0 == 0 ? 0.f : 1.f, dW, C);
      }
    }
  }
}

}  // namespace

double linear_cross_entropy_bf16(bool native, const float* h, const float* W,
                                 const int32_t* targets, int64_t N, int64_t C, int64_t V,
                                 int32_t ignore_index, float scale, float* lse, float* dh,
                                 float* dW, int64_t chunk_rows) {
  return linear_cross_entropy_bf16_on(Bf16HeadRoute::Rule, native, h, W, targets, N, C, V,
                                      ignore_index, scale, lse, dh, dW, chunk_rows);
}

double linear_cross_entropy_bf16_on(Bf16HeadRoute route, bool native, const float* h,
                                    const float* W, const int32_t* targets, int64_t N, int64_t C,
                                    int64_t V, int32_t ignore_index, float scale, float* lse,
                                    float* dh, float* dW, int64_t chunk_rows) {
  if (N == 0) {
    if (dW) std::fill(dW, dW + V * C, 0.f);
    return 0.0;
  }
  // Default chunks: twice the fp32 head's logits buffer on the own kernel (the bf16 products
  // are fast enough that streaming W and dW once per chunk shows), in whole micro-kernel row
  // blocks; four times on oneDNN (its head keeps no packed copies of W: the memory goes to
  // halving the passes over W and dW, 8-10 % faster on 2 threads than twice).
  const int64_t fp32_rows = linear_cross_entropy_chunk_rows(V);
  // The rule (linear_cross_entropy_bf16.h): oneDNN for a large head, from the volume of one
  // chunk's logits at the own kernel's chunk size.
  const int64_t own_rows = std::max(kBf16Mr, 2 * fp32_rows / kBf16Mr * kBf16Mr);
  const double volume =
      static_cast<double>(std::min(N, own_rows)) * static_cast<double>(V) * static_cast<double>(C);
  const bool onednn = native && (route == Bf16HeadRoute::OneDnn ||
                                 (route == Bf16HeadRoute::Rule && volume >= kOneDnnHeadVolume));
  const int64_t rows = std::min(N, chunk_rows > 0 ? chunk_rows : onednn ? 4 * fp32_rows : own_rows);
  const std::unique_ptr<float[]> buffer(new float[static_cast<size_t>(rows * V)]);
  float* z = buffer.get();
  std::vector<double> row_loss(static_cast<size_t>(N), 0.0);
  if (onednn)
    onednn_chunks(h, W, targets, N, C, V, ignore_index, scale, lse, dh, dW, rows, z,
                  row_loss.data());
  else
    own_chunks(native, h, W, targets, N, C, V, ignore_index, scale, lse, dh, dW, rows, z,
               row_loss.data());

  double sum = 0.0;
  for (double l : row_loss) sum += l;
  return sum;
}

}  // namespace tinyr2::kernels::cpu
