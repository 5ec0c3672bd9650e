#include "kernels/cpu/index_attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/fast_math.h"

namespace tinyr2::kernels::cpu {

namespace {

using namespace attention_detail;

constexpr int64_t kChunk = 32;  // keys per online-softmax step
constexpr double kParallelWork = 1 << 16;

// The non-padding entries of one idx row, in order, into out; returns how many.
int64_t valid_keys(const int32_t* row, int64_t n, int32_t* out) {
  int64_t nv = 0;
  for (int64_t i = 0; i < n; ++i)
    if (row[i] >= 0) out[nv++] = row[i];
  return nv;
}

// s[c] = a · x·y_c for the gathered rows y_c = base + keys[c]·ld, c < nc, four at a time.
void gathered_dots(const float* x, const float* base, int64_t ld, const int32_t* keys, int64_t nc,
                   int64_t D, float a, float* s) {
  int64_t c = 0;
  for (; c + 4 <= nc; c += 4)
    dot4(x, base + keys[c] * ld, base + keys[c + 1] * ld, base + keys[c + 2] * ld,
         base + keys[c + 3] * ld, D, a, s + c);
  if (c < nc) {  // tail: repeat the last key, keep the first nc − c results
    const float* y[4];
    for (int64_t i = 0; i < 4; ++i) y[i] = base + keys[std::min(c + i, nc - 1)] * ld;
    float tail[4];
    dot4(x, y[0], y[1], y[2], y[3], D, a, tail);
    for (int64_t i = 0; c + i < nc; ++i) s[c + i] = tail[i];
  }
}

// y += Σ_c w[c] · (base + keys[c]·ld), c < nc, four rows per pass over y.
void gathered_axpy(const float* w, const float* base, int64_t ld, const int32_t* keys, int64_t nc,
                   float* y, int64_t D) {
  int64_t c = 0;
  for (; c + 4 <= nc; c += 4)
    axpy4(w[c], base + keys[c] * ld, w[c + 1], base + keys[c + 1] * ld, w[c + 2],
          base + keys[c + 2] * ld, w[c + 3], base + keys[c + 3] * ld, y, D);
  for (; c < nc; ++c) axpy(w[c], base + keys[c] * ld, y, D);
}

}  // namespace

// Forward: one work item per query token (b, t), all heads (they share the key list, which
// is compacted once); items write disjoint rows of o and lse. Keys are visited kChunk at a
// time with an online softmax. Lists fill up with t (early tokens see fewer blocks), so
// the items are handed out dynamically.
void index_attention_forward(const float* q, const float* k, const float* v, const int32_t* idx,
                             float* o, float* lse, int64_t B, int64_t Tq, int64_t Tk, int64_t H,
                             int64_t Dk, int64_t Dv, int64_t n, float scale) {
  const int64_t ldk = H * Dk, ldv = H * Dv;
  const double work = double(B * Tq * H) * double(n) * double(Dk + Dv);
#pragma omp parallel if (work > kParallelWork)
  {
    std::vector<int32_t> keys(std::max<int64_t>(n, 1));
    std::vector<float> s(kChunk);
#pragma omp for collapse(2) schedule(dynamic, 16)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < Tq; ++t) {
        const int64_t nv = valid_keys(idx + (b * Tq + t) * n, n, keys.data());
        for (int64_t h = 0; h < H; ++h) {
          const float* kbh = k + b * Tk * ldk + h * Dk;  // key j at kbh + j·ldk
          const float* vbh = v + b * Tk * ldv + h * Dv;
          const float* qt = q + ((b * Tq + t) * H + h) * Dk;
          float* ot = o + ((b * Tq + t) * H + h) * Dv;
          std::fill(ot, ot + Dv, 0.f);
          float m = kNegInf, l = 0.f;
          for (int64_t c0 = 0; c0 < nv; c0 += kChunk) {
            const int64_t nc = std::min(kChunk, nv - c0);
            const int32_t* kc = keys.data() + c0;
            gathered_dots(qt, kbh, ldk, kc, nc, Dk, scale, s.data());
            float mx = m;
#pragma omp simd reduction(max : mx)
            for (int64_t c = 0; c < nc; ++c) mx = s[c] > mx ? s[c] : mx;
            const float alpha = fast_exp(m - mx);  // 0 on the first chunk (m = −inf)
            float sum = 0.f;
#pragma omp simd reduction(+ : sum)
            for (int64_t c = 0; c < nc; ++c) {
              const float p = fast_exp(s[c] - mx);
              s[c] = p;
              sum += p;
            }
            l = l * alpha + sum;
            m = mx;
            if (alpha != 1.f)
              for (int64_t c = 0; c < Dv; ++c) ot[c] *= alpha;
            gathered_axpy(s.data(), vbh, ldv, kc, nc, ot, Dv);
          }
          if (l > 0.f) {
            const float inv = 1.f / l;
            for (int64_t c = 0; c < Dv; ++c) ot[c] *= inv;
          }
          if (lse) lse[(b * Tq + t) * H + h] = l > 0.f ? m + std::log(l) : kNegInf;
        }
      }
  }
}

// Backward: one work item per (b, h) pair, which owns dq[b,:,h,:], dk[b,:,h,:] and
// dv[b,:,h,:] outright: the scattered dk/dv updates of different queries never race and
// need no atomics (and duplicate indices simply accumulate twice). Every (b, h) has the same
// key lists per b, so the static schedule is balanced when B·H is a multiple of the thread
// count (training shapes have B·H ≥ threads).
void index_attention_backward(const float* q, const float* k, const float* v, const int32_t* idx,
                              const float* o, const float* lse, const float* dout, float* dq,
                              float* dk, float* dv, int64_t B, int64_t Tq, int64_t Tk, int64_t H,
                              int64_t Dk, int64_t Dv, int64_t n, float scale) {
  if (!dq && !dk && !dv) return;
  const int64_t ldk = H * Dk, ldv = H * Dv;
  const double work = double(B * Tq * H) * double(n) * double(Dk + Dv);
#pragma omp parallel if (work > kParallelWork)
  {
    std::vector<int32_t> keys(std::max<int64_t>(n, 1));
    std::vector<float> s(kChunk), dp(kChunk);
#pragma omp for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h) {
        const float* kbh = k + b * Tk * ldk + h * Dk;  // key j at kbh + j·ldk
        const float* vbh = v + b * Tk * ldv + h * Dv;
        for (int64_t t = 0; t < Tq; ++t) {
          const int64_t nv = valid_keys(idx + (b * Tq + t) * n, n, keys.data());
          if (nv == 0) continue;
          const int64_t row = (b * Tq + t) * H + h;
          const float *qt = q + row * Dk, *ot = o + row * Dv, *gt = dout + row * Dv;
          const float lse_t = lse[row];
          float delta = 0.f;  // D_t = dO_t · o_t
#pragma omp simd reduction(+ : delta)
          for (int64_t c = 0; c < Dv; ++c) delta += gt[c] * ot[c];
          for (int64_t c0 = 0; c0 < nv; c0 += kChunk) {
            const int64_t nc = std::min(kChunk, nv - c0);
            const int32_t* kc = keys.data() + c0;
            gathered_dots(qt, kbh, ldk, kc, nc, Dk, scale, s.data());  // S
            gathered_dots(gt, vbh, ldv, kc, nc, Dv, 1.f, dp.data());   // dP
                                                                       // s ← P, dp ← scale·dS
#pragma omp simd
            for (int64_t c = 0; c < nc; ++c) {
              const float p = fast_exp(s[c] - lse_t);
              s[c] = p;
              dp[c] = scale * p * (dp[c] - delta);
            }
            if (dq) gathered_axpy(dp.data(), kbh, ldk, kc, nc, dq + row * Dk, Dk);
            for (int64_t c = 0; c < nc; ++c) {
              if (dk) axpy(dp[c], qt, dk + (b * Tk + kc[c]) * ldk + h * Dk, Dk);
              if (dv) axpy(s[c], gt, dv + (b * Tk + kc[c]) * ldv + h * Dv, Dv);
            }
          }
        }
      }
  }
}

}  // namespace tinyr2::kernels::cpu
