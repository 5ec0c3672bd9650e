#include "kernels/cpu/linear_cross_entropy.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "core/error.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/gemm_bf16.h"
#include "kernels/cpu/softmax.h"

namespace tinyr2::kernels::cpu {

namespace {
constexpr int64_t kParallelWork = 32768;  // chunk elements below which the row loop is serial
}  // namespace

int64_t linear_cross_entropy_chunk_rows(int64_t V) {
  const int64_t rows = kLinearCeChunkBytes / (std::max<int64_t>(V, 1) * int64_t{sizeof(float)});
  return std::max<int64_t>(16, rows / 16 * 16);
}

void cross_entropy_chunk(float* z, int64_t r0, int64_t R, int64_t V, const int32_t* targets,
                         int32_t ignore_index, float scale, bool grad, float* lse, double* row_loss,
                         uint16_t* g16, ScaledRoundRow round_scaled) {
  TINYR2_CHECK((g16 == nullptr) == (round_scaled == nullptr),
               "cross_entropy_chunk: a bf16 G needs both its buffer and its rounding");
#pragma omp parallel for schedule(static) if (R * V > kParallelWork)
  for (int64_t r = 0; r < R; ++r) {
    const int64_t n = r0 + r;
    float* x = z + r * V;
    const int32_t t = targets[n];
    const bool ignored = t == ignore_index;
    const float m = row_max(x, V);
    const float target_logit = ignored ? 0.f : x[t];
    double total;
    if (grad && !ignored) {
      // x becomes exp(x − m), then scale · softmax − scale · onehot.
      total = row_exp(x, x, V, m);
      const float f = static_cast<float>(scale / total);
      if (g16) {
        round_scaled(x, f, V, g16 + r * V);
        const float p = x[t] * f;
        g16[r * V + t] = to_bf16(p - scale);
      } else {
#pragma omp simd
        for (int64_t v = 0; v < V; ++v) x[v] *= f;
        x[t] -= scale;
      }
    } else {
      total = row_sum_exp(x, V, m);
      if (grad && g16)
        std::fill(g16 + r * V, g16 + (r + 1) * V, uint16_t{0});  // an ignored row has no gradient
      else if (grad)
        std::fill(x, x + V, 0.f);
    }
    const double l = m + std::log(total);
    if (lse) lse[n] = static_cast<float>(l);
    if (!ignored) row_loss[n] = l - target_logit;
  }
}

namespace {

// The work of one row chunk [r0, r0 + R), vocabulary block by vocabulary block (the header
// explains the phases). Buffers are sized for `rows` ≥ R rows and nblk blocks.
struct ChunkBuffers {
  float* z;        // (rows, V) logits, then exp(z − block max), then G
  float* bmax;     // (nblk, rows) block maxima
  double* bsum;    // (nblk, rows) Σ exp(z − block max) over the block
  float* factor;   // (nblk, rows) exp(block max − m) · scale / total (0: ignored row)
  float* tlogit;   // (rows) the target's logit
  float* dh_part;  // (nblk, rows, C) G_block · W_block, or null
  int64_t rows, nblk;
};

void chunk_blocks(const float* h, const float* W, const int32_t* targets, int64_t r0, int64_t R,
                  int64_t C, int64_t V, int32_t ignore_index, float scale, float* lse, float* dh,
                  float* dW, double* row_loss, const ChunkBuffers& b) {
  const bool grad = dh != nullptr || dW != nullptr;
  const float* hc = h + r0 * C;
  float* z = b.z;
  // Phase A: logits of the block, its max and Σ exp per row, the target logits it holds.
  auto phase_a = [&](int64_t k) {
    const int64_t v0 = k * kLinearCeVocabBlock, n = std::min(kLinearCeVocabBlock, V - v0);
    gemm(false, true, R, n, C, 1.f, hc, C, W + v0 * C, C, 0.f, z + v0, V);  // z = h · W_kᵀ
    for (int64_t r = 0; r < R; ++r) {
      float* x = z + r * V + v0;
      const int32_t t = targets[r0 + r];
      if (t >= v0 && t < v0 + n) b.tlogit[r] = x[t - v0];
      const float m = row_max(x, n);
      b.bmax[k * b.rows + r] = m;
      b.bsum[k * b.rows + r] = grad ? row_exp(x, x, n, m) : row_sum_exp(x, n, m);
    }
  };
  // The blocks' maxima and sums, combined in block order: lse, the loss, the G factors.
  auto combine = [&](int64_t r) {
    float m = -std::numeric_limits<float>::infinity();
    for (int64_t k = 0; k < b.nblk; ++k) m = std::max(m, b.bmax[k * b.rows + r]);
    double total = 0.0;
    for (int64_t k = 0; k < b.nblk; ++k)
      total += b.bsum[k * b.rows + r] * std::exp(static_cast<double>(b.bmax[k * b.rows + r]) - m);
    const double l = m + std::log(total);
    const int64_t n = r0 + r;
    const bool ignored = targets[n] == ignore_index;
    if (lse) lse[n] = static_cast<float>(l);
    if (!ignored) row_loss[n] = l - b.tlogit[r];
    if (grad)
      for (int64_t k = 0; k < b.nblk; ++k)
        b.factor[k * b.rows + r] =
            ignored
                ? 0.f
                : static_cast<float>(
                      scale * std::exp(static_cast<double>(b.bmax[k * b.rows + r]) - m) / total);
  };
  // Phase B: the block's G = scale · (softmax − onehot), then dW_k += G_kᵀ · h (dW's rows of
  // the block belong to this item alone) and the block's share of dh.
  auto phase_b = [&](int64_t k) {
    const int64_t v0 = k * kLinearCeVocabBlock, n = std::min(kLinearCeVocabBlock, V - v0);
    for (int64_t r = 0; r < R; ++r) {
      float* x = z + r * V + v0;
      const float f = b.factor[k * b.rows + r];
#pragma omp simd
      for (int64_t v = 0; v < n; ++v) x[v] *= f;
      const int32_t t = targets[r0 + r];
      if (t != ignore_index && t >= v0 && t < v0 + n) x[t - v0] -= scale;
    }
    if (dW) gemm(true, false, n, C, R, 1.f, z + v0, V, hc, C, r0 == 0 ? 0.f : 1.f, dW + v0 * C, C);
    if (dh)
      gemm(false, false, R, C, n, 1.f, z + v0, V, W + v0 * C, C, 0.f, b.dh_part + k * b.rows * C,
           C);
  };
  // dh of the chunk: the blocks' shares added in block order.
  auto sum_dh = [&](int64_t r) {
    float* d = dh + (r0 + r) * C;
    std::fill(d, d + C, 0.f);
    for (int64_t k = 0; k < b.nblk; ++k) {
      const float* p = b.dh_part + (k * b.rows + r) * C;
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) d[c] += p[c];
    }
  };

  // One parallel region per chunk; every loop is over fixed items (blocks or rows) and each
  // item's GEMMs run single-threaded on its thread (OpenBLAS and oneDNN do inside a parallel
  // region; no `if` clause, which would let a small chunk's GEMMs thread), so no result
  // depends on the number of threads.
#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (int64_t k = 0; k < b.nblk; ++k) phase_a(k);
#pragma omp for schedule(static)
    for (int64_t r = 0; r < R; ++r) combine(r);
    if (grad) {
#pragma omp for schedule(static)
      for (int64_t k = 0; k < b.nblk; ++k) phase_b(k);
    }
    if (dh) {
#pragma omp for schedule(static)
      for (int64_t r = 0; r < R; ++r) sum_dh(r);
    }
  }
}

}  // namespace

double linear_cross_entropy(const float* h, const float* W, const int32_t* targets, int64_t N,
                            int64_t C, int64_t V, int32_t ignore_index, float scale, float* lse,
                            float* dh, float* dW, int64_t chunk_rows) {
  if (N == 0) {
    if (dW) std::fill(dW, dW + V * C, 0.f);
    return 0.0;
  }
  const int64_t rows =
      std::min(N, chunk_rows > 0 ? chunk_rows : linear_cross_entropy_chunk_rows(V));
  const int64_t nblk = (V + kLinearCeVocabBlock - 1) / kLinearCeVocabBlock;
  // One chunk's logits, then its G (uninitialised: the GEMMs write it all), and the per-block
  // row statistics and dh shares, all reused chunk after chunk.
  const std::unique_ptr<float[]> buffer(new float[static_cast<size_t>(rows * V)]);
  std::vector<float> bmax(static_cast<size_t>(nblk * rows)), factor(bmax.size()),
      tlogit(static_cast<size_t>(rows));
  std::vector<double> bsum(bmax.size());
  std::vector<float> dh_part(dh ? static_cast<size_t>(nblk * rows * C) : 0);
  const ChunkBuffers b{buffer.get(),  bmax.data(),    bsum.data(), factor.data(),
                       tlogit.data(), dh_part.data(), rows,        nblk};
  // Per-row losses summed serially at the end: the sum does not depend on the threads.
  std::vector<double> row_loss(static_cast<size_t>(N), 0.0);
  for (int64_t r0 = 0; r0 < N; r0 += rows)
    chunk_blocks(h, W, targets, r0, std::min(rows, N - r0), C, V, ignore_index, scale, lse, dh, dW,
                 row_loss.data(), b);

  double sum = 0.0;
  for (double l : row_loss) sum += l;
  return sum;
}

}  // namespace tinyr2::kernels::cpu
