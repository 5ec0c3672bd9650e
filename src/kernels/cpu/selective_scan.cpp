#include "kernels/cpu/selective_scan.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/fast_math.h"

namespace tinyr2::kernels::cpu {

namespace {

constexpr int64_t kW = kScanChannels;
constexpr int64_t kL = kScanChunk;

// softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^{−|x|}), with log1p(y) = 2·atanh(s),
// s = y/(2 + y) ∈ [0, 1/3], by its odd series to s¹⁵ (the next term is < 2e-9 of the sum):
// branch-free float arithmetic, so the loops over a block's channels vectorise (glibc's
// log1pf / expf do not). A few ulp from the exact value; +inf → +inf, NaN → NaN.
inline float softplus(float x) {
  const float e = fast_exp(x < 0.f ? x : -x);
  const float s = e / (2.f + e), s2 = s * s;
  float p = 1.f / 15.f;
  p = p * s2 + 1.f / 13.f;
  p = p * s2 + 1.f / 11.f;
  p = p * s2 + 1.f / 9.f;
  p = p * s2 + 1.f / 7.f;
  p = p * s2 + 1.f / 5.f;
  p = p * s2 + 1.f / 3.f;
  p = p * s2 + 1.f;
  return (x > 0.f ? x : 0.f) + 2.f * s * p;
}

inline float sigmoid(float x) {
  return 1.f / (1.f + fast_exp(-x));
}

// Σ_w x[w] over the kW = 64 lanes in one fixed tree order (vectorised; lanes past a partial
// block's width hold zeros).
inline float sum_lanes(const float* x) {
  static_assert(kW == 64, "sum_lanes adds 4 rows of 16 lanes");
  float s[16];
  for (int l = 0; l < 16; ++l) s[l] = (x[l] + x[l + 16]) + (x[l + 32] + x[l + 48]);
  for (int l = 0; l < 8; ++l) s[l] += s[l + 8];
  for (int l = 0; l < 4; ++l) s[l] += s[l + 4];
  return (s[0] + s[2]) + (s[1] + s[3]);
}

// One block's view: channels c0 … c0+cw−1, A (N, kW) = −exp(A_log) transposed (0 in the
// lanes past cw, whose Δ, Δu and so h stay 0).
struct Block {
  int64_t c0, cw;
  std::vector<float> A;
};

Block make_block(const float* A_log, int64_t blk, int64_t d, int64_t N) {
  Block bl{blk * kW, std::min(kW, d - blk * kW), std::vector<float>(N * kW, 0.f)};
  for (int64_t w = 0; w < bl.cw; ++w)
    for (int64_t n = 0; n < N; ++n) bl.A[n * kW + w] = -std::exp(A_log[(bl.c0 + w) * N + n]);
  return bl;
}

// Δ and Δ·u of one row (pointers at the block's first channel) for the block's channels.
inline void deltas(int64_t cw, const float* ut, const float* dtt, const float* bias, float* delta,
                   float* du) {
  for (int64_t w = 0; w < cw; ++w) {
    delta[w] = softplus(dtt[w] + bias[w]);
    du[w] = delta[w] * ut[w];
  }
}

// h ← a·h + Δu·Bm_t for one position (h (N, kW)) with a = exp(Δ·A), kept in `a` when
// non-null (N, kW).
inline void step(const float* A, float* h, const float* delta, const float* du, const float* Bt,
                 int64_t N, float* a) {
  for (int64_t n = 0; n < N; ++n) {
    const float* An = A + n * kW;
    float* hn = h + n * kW;
    const float bn = Bt[n];
    if (a) {
      float* an = a + n * kW;
      for (int64_t w = 0; w < kW; ++w) {
        an[w] = fast_exp(delta[w] * An[w]);
        hn[w] = an[w] * hn[w] + du[w] * bn;
      }
    } else {
      for (int64_t w = 0; w < kW; ++w) hn[w] = fast_exp(delta[w] * An[w]) * hn[w] + du[w] * bn;
    }
  }
}

// h (N, kW) ↔ rows c0 … c0+cw−1 of a (d, N) matrix.
void load_h(const float* src, int64_t c0, int64_t cw, int64_t N, float* h) {
  std::fill_n(h, N * kW, 0.f);
  for (int64_t w = 0; w < cw; ++w)
    for (int64_t n = 0; n < N; ++n) h[n * kW + w] = src[(c0 + w) * N + n];
}

void store_h(const float* h, int64_t c0, int64_t cw, int64_t N, float* dst) {
  for (int64_t w = 0; w < cw; ++w)
    for (int64_t n = 0; n < N; ++n) dst[(c0 + w) * N + n] = h[n * kW + w];
}

}  // namespace

void selective_scan_forward(const float* u, const float* dt, const float* dt_bias,
                            const float* A_log, const float* Bm, const float* Cm, const float* D,
                            float* y, float* state, int64_t B, int64_t T, int64_t d, int64_t N) {
  const int64_t nblk = (d + kW - 1) / kW;
#pragma omp parallel for schedule(static) if (B * nblk > 1 && B * T * d * N > 32768)
  for (int64_t item = 0; item < B * nblk; ++item) {
    const int64_t b = item / nblk;
    const Block bl = make_block(A_log, item % nblk, d, N);
    const int64_t c0 = bl.c0, cw = bl.cw;
    std::vector<float> h(N * kW, 0.f), delta(kW, 0.f), du(kW, 0.f), yw(kW);
    float* st = state ? state + b * d * N : nullptr;
    if (st) load_h(st, c0, cw, N, h.data());
    for (int64_t t = 0; t < T; ++t) {
      const int64_t row = b * T + t;
      const float* ut = u + row * d + c0;
      deltas(cw, ut, dt + row * d + c0, dt_bias + c0, delta.data(), du.data());
      step(bl.A.data(), h.data(), delta.data(), du.data(), Bm + row * N, N, nullptr);
      for (int64_t w = 0; w < cw; ++w) yw[w] = D[c0 + w] * ut[w];
      const float* Ct = Cm + row * N;
      for (int64_t n = 0; n < N; ++n) {
        const float* hn = h.data() + n * kW;
        const float cn = Ct[n];
        for (int64_t w = 0; w < kW; ++w) yw[w] += hn[w] * cn;
      }
      std::copy_n(yw.data(), cw, y + row * d + c0);
    }
    if (st) store_h(h.data(), c0, cw, N, st);
  }
}

void selective_scan_backward(const float* u, const float* dt, const float* dt_bias,
                             const float* A_log, const float* Bm, const float* Cm, const float* D,
                             const float* gy, float* du_out, float* ddt, float* ddt_bias,
                             float* dA_log, float* dBm, float* dCm, float* dD, int64_t B, int64_t T,
                             int64_t d, int64_t N) {
  const int64_t nblk = (d + kW - 1) / kW;
  const int64_t nch = (T + kL - 1) / kL;
  const int64_t NW = N * kW;
  // Per-block partial sums of dBm, dCm: (nblk, B, T, N) each.
  std::vector<float> partB(static_cast<size_t>(nblk * B * T * N), 0.f);
  std::vector<float> partC(partB.size(), 0.f);
#pragma omp parallel for schedule(static) if (nblk > 1 && B * T * d * N > 32768)
  for (int64_t blk = 0; blk < nblk; ++blk) {
    const Block bl = make_block(A_log, blk, d, N);
    const float* A = bl.A.data();
    const int64_t cw = bl.cw, c0 = bl.c0;
    // The checkpoints (nch, N, kW); one chunk's h_t, a_t = exp(Δ_t A) (L, N, kW), Δ_t and
    // Δ_t u_t (L, kW).
    std::vector<float> ck(nch * NW), hs(kL * NW), as(kL * NW), dls(kL * kW, 0.f), dus(kL * kW, 0.f);
    std::vector<float> h(NW), dh(NW), dd(kW), dui(kW), tmp(kW), g(kW, 0.f), uu(kW, 0.f);
    std::vector<float> dA(NW, 0.f), dDl(kW, 0.f), dbias(kW, 0.f);
    for (int64_t b = 0; b < B; ++b) {
      float* pB = partB.data() + (blk * B + b) * T * N;
      float* pC = partC.data() + (blk * B + b) * T * N;
      // Pass 1: the checkpoints, h before each chunk (Δ into the first row of dls, unused).
      std::fill(h.begin(), h.end(), 0.f);
      for (int64_t t = 0; t < T; ++t) {
        if (t % kL == 0) std::copy(h.begin(), h.end(), ck.begin() + (t / kL) * NW);
        const int64_t row = b * T + t;
        deltas(cw, u + row * d + c0, dt + row * d + c0, dt_bias + c0, dls.data(), dus.data());
        step(A, h.data(), dls.data(), dus.data(), Bm + row * N, N, nullptr);
      }
      // Pass 2, chunks last to first: each chunk's h from its checkpoint, then back over its
      // rows with dh_t = dy_t·Cm_t + a_{t+1}·dh_{t+1}.
      std::fill(dh.begin(), dh.end(), 0.f);
      for (int64_t c = nch - 1; c >= 0; --c) {
        const int64_t t0 = c * kL, L = std::min(kL, T - t0);
        const float* h0 = ck.data() + c * NW;
        const float* hp = h0;
        for (int64_t i = 0; i < L; ++i) {
          const int64_t row = b * T + t0 + i;
          float* hc = hs.data() + i * NW;
          std::copy_n(hp, NW, hc);
          deltas(cw, u + row * d + c0, dt + row * d + c0, dt_bias + c0, dls.data() + i * kW,
                 dus.data() + i * kW);
          step(A, hc, dls.data() + i * kW, dus.data() + i * kW, Bm + row * N, N,
               as.data() + i * NW);
          hp = hc;
        }
        for (int64_t i = L - 1; i >= 0; --i) {
          const int64_t t = t0 + i, row = b * T + t;
          const float* delta = dls.data() + i * kW;
          const float* dU = dus.data() + i * kW;
          const float* ut = u + row * d + c0;
          const float* gt = gy + row * d + c0;
          const float* hprev = i > 0 ? hs.data() + (i - 1) * NW : h0;
          const float* hcur = hs.data() + i * NW;
          const float* ai = as.data() + i * NW;
          const float* Bt = Bm + row * N;
          const float* Ct = Cm + row * N;
          for (int64_t w = 0; w < cw; ++w) {
            g[w] = gt[w];
            uu[w] = ut[w];
            dDl[w] += g[w] * uu[w];
            dui[w] = D[c0 + w] * g[w];
          }
          std::fill(dd.begin(), dd.end(), 0.f);
          for (int64_t n = 0; n < N; ++n) {
            const float* An = A + n * kW;
            const float* hpn = hprev + n * kW;
            const float* hcn = hcur + n * kW;
            const float* an = ai + n * kW;
            float* dhn = dh.data() + n * kW;
            float* dAn = dA.data() + n * kW;
            const float bn = Bt[n], cn = Ct[n];
            for (int64_t w = 0; w < kW; ++w) {
              dhn[w] += g[w] * cn;
              tmp[w] = g[w] * hcn[w];
            }
            pC[t * N + n] += sum_lanes(tmp.data());
            for (int64_t w = 0; w < kW; ++w) {
              const float da = dhn[w] * hpn[w] * an[w];  // ∂/∂(Δ·A) of a·h_{t−1}
              dd[w] += da * An[w] + dhn[w] * uu[w] * bn;
              dAn[w] += da * delta[w];
              dui[w] += dhn[w] * delta[w] * bn;
              tmp[w] = dhn[w] * dU[w];
              dhn[w] *= an[w];
            }
            pB[t * N + n] += sum_lanes(tmp.data());
          }
          const float* dtt = dt + row * d + c0;
          for (int64_t w = 0; w < cw; ++w) {
            const float s = dd[w] * sigmoid(dtt[w] + dt_bias[c0 + w]);
            ddt[row * d + c0 + w] += s;
            dbias[w] += s;
            du_out[row * d + c0 + w] += dui[w];
          }
        }
      }
    }
    for (int64_t w = 0; w < cw; ++w) {
      dD[c0 + w] += dDl[w];
      ddt_bias[c0 + w] += dbias[w];
      for (int64_t n = 0; n < N; ++n) dA_log[(c0 + w) * N + n] += dA[n * kW + w] * A[n * kW + w];
    }
  }
  // Partial sums in block order.
#pragma omp parallel for schedule(static) if (B * T * N * nblk > 32768)
  for (int64_t r = 0; r < B * T; ++r)
    for (int64_t blk = 0; blk < nblk; ++blk)
      for (int64_t n = 0; n < N; ++n) {
        dBm[r * N + n] += partB[(blk * B * T + r) * N + n];
        dCm[r * N + n] += partC[(blk * B * T + r) * N + n];
      }
}

}  // namespace tinyr2::kernels::cpu
