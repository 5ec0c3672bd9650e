#include "kernels/cpu/selective_scan.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/fast_math.h"

namespace tinyr2::kernels::cpu {

namespace {

constexpr int64_t kW = kScanChannels;

float softplus(float x) {
  return x > 20.f ? x : std::log1p(std::exp(x));
}

float sigmoid(float x) {
  return 1.f / (1.f + std::exp(-x));
}

// One block's view: channels c0 … c0+cw−1, A (N, kW) = −exp(A_log) transposed.
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

// Δ and Δ·u of row t of batch b for the block's channels.
void deltas(const Block& bl, const float* u, const float* dt, const float* dt_bias, int64_t row,
            int64_t d, float* delta, float* du) {
  const float* ut = u + row * d + bl.c0;
  const float* dtt = dt + row * d + bl.c0;
  for (int64_t w = 0; w < bl.cw; ++w) {
    delta[w] = softplus(dtt[w] + dt_bias[bl.c0 + w]);
    du[w] = delta[w] * ut[w];
  }
}

// h ← exp(Δ·A)·h + Δu·Bm_t for one position (h (N, kW)).
void step(const Block& bl, float* h, const float* delta, const float* du, const float* Bt,
          int64_t N) {
  for (int64_t n = 0; n < N; ++n) {
    const float* An = bl.A.data() + n * kW;
    float* hn = h + n * kW;
    const float bn = Bt[n];
    for (int64_t w = 0; w < kW; ++w) hn[w] = fast_exp(delta[w] * An[w]) * hn[w] + du[w] * bn;
  }
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
    std::vector<float> h(N * kW, 0.f), delta(kW, 0.f), du(kW, 0.f), yw(kW);
    float* st = state ? state + b * d * N : nullptr;
    if (st)
      for (int64_t w = 0; w < bl.cw; ++w)
        for (int64_t n = 0; n < N; ++n) h[n * kW + w] = st[(bl.c0 + w) * N + n];
    for (int64_t t = 0; t < T; ++t) {
      const int64_t row = b * T + t;
      deltas(bl, u, dt, dt_bias, row, d, delta.data(), du.data());
      step(bl, h.data(), delta.data(), du.data(), Bm + row * N, N);
      const float* ut = u + row * d + bl.c0;
      for (int64_t w = 0; w < bl.cw; ++w) yw[w] = D[bl.c0 + w] * ut[w];
      const float* Ct = Cm + row * N;
      for (int64_t n = 0; n < N; ++n) {
        const float* hn = h.data() + n * kW;
        const float cn = Ct[n];
        for (int64_t w = 0; w < kW; ++w) yw[w] += hn[w] * cn;
      }
      std::copy_n(yw.data(), bl.cw, y + row * d + bl.c0);
    }
    if (st)
      for (int64_t w = 0; w < bl.cw; ++w)
        for (int64_t n = 0; n < N; ++n) st[(bl.c0 + w) * N + n] = h[n * kW + w];
  }
}

void selective_scan_backward(const float* u, const float* dt, const float* dt_bias,
                             const float* A_log, const float* Bm, const float* Cm, const float* D,
                             const float* gy, float* du_out, float* ddt, float* ddt_bias,
                             float* dA_log, float* dBm, float* dCm, float* dD, int64_t B, int64_t T,
                             int64_t d, int64_t N) {
  const int64_t nblk = (d + kW - 1) / kW;
  const int64_t nch = (T + kScanChunk - 1) / kScanChunk;
  // Per-block partial sums of dBm, dCm: (nblk, B, T, N) each.
  std::vector<float> partB(static_cast<size_t>(nblk * B * T * N), 0.f);
  std::vector<float> partC(partB.size(), 0.f);
#pragma omp parallel for schedule(static) if (nblk > 1 && B * T * d * N > 32768)
  for (int64_t blk = 0; blk < nblk; ++blk) {
    const Block bl = make_block(A_log, blk, d, N);
    const int64_t cw = bl.cw, c0 = bl.c0;
    std::vector<float> ck(nch * N * kW), hs(kScanChunk * N * kW), h(N * kW);
    std::vector<float> dh(N * kW), delta(kW, 0.f), dU(kW, 0.f), dd(kW), dui(kW), tmp(kW);
    std::vector<float> dA(N * kW, 0.f), dDl(kW, 0.f), dbias(kW, 0.f);
    for (int64_t b = 0; b < B; ++b) {
      float* pB = partB.data() + (blk * B + b) * T * N;
      float* pC = partC.data() + (blk * B + b) * T * N;
      // Pass 1: the checkpoints, h before each chunk.
      std::fill(h.begin(), h.end(), 0.f);
      for (int64_t t = 0; t < T; ++t) {
        if (t % kScanChunk == 0)
          std::copy(h.begin(), h.end(), ck.begin() + (t / kScanChunk) * N * kW);
        const int64_t row = b * T + t;
        deltas(bl, u, dt, dt_bias, row, d, delta.data(), dU.data());
        step(bl, h.data(), delta.data(), dU.data(), Bm + row * N, N);
      }
      // Pass 2: chunks last to first.
      std::fill(dh.begin(), dh.end(), 0.f);
      for (int64_t c = nch - 1; c >= 0; --c) {
        const int64_t t0 = c * kScanChunk, L = std::min(kScanChunk, T - t0);
        std::copy_n(ck.begin() + c * N * kW, N * kW, h.begin());
        for (int64_t i = 0; i < L; ++i) {
          const int64_t row = b * T + t0 + i;
          deltas(bl, u, dt, dt_bias, row, d, delta.data(), dU.data());
          step(bl, h.data(), delta.data(), dU.data(), Bm + row * N, N);
          std::copy(h.begin(), h.end(), hs.begin() + i * N * kW);
        }
        for (int64_t i = L - 1; i >= 0; --i) {
          const int64_t t = t0 + i, row = b * T + t;
          deltas(bl, u, dt, dt_bias, row, d, delta.data(), dU.data());
          const float* ut = u + row * d + c0;
          const float* gt = gy + row * d + c0;
          const float* hprev = i > 0 ? hs.data() + (i - 1) * N * kW : ck.data() + c * N * kW;
          const float* hcur = hs.data() + i * N * kW;
          const float* Bt = Bm + row * N;
          const float* Ct = Cm + row * N;
          float g[kW] = {}, uu[kW] = {};
          for (int64_t w = 0; w < cw; ++w) {
            g[w] = gt[w];
            uu[w] = ut[w];
            dDl[w] += g[w] * uu[w];
            dui[w] = D[c0 + w] * g[w];
            dd[w] = 0.f;
          }
          for (int64_t n = 0; n < N; ++n) {
            const float* An = bl.A.data() + n * kW;
            const float* hp = hprev + n * kW;
            const float* hc = hcur + n * kW;
            float* dhn = dh.data() + n * kW;
            float* dAn = dA.data() + n * kW;
            const float bn = Bt[n], cn = Ct[n];
            float sc = 0.f, sb = 0.f;
            for (int64_t w = 0; w < kW; ++w) {
              dhn[w] += g[w] * cn;
              tmp[w] = g[w] * hc[w];
            }
            for (int64_t w = 0; w < cw; ++w) sc += tmp[w];
            for (int64_t w = 0; w < kW; ++w) {
              const float a = fast_exp(delta[w] * An[w]);
              const float da = dhn[w] * hp[w] * a;  // ∂/∂(Δ·A) of exp(Δ·A)·h_{t−1}
              dd[w] += da * An[w] + dhn[w] * uu[w] * bn;
              dAn[w] += da * delta[w];
              dui[w] += dhn[w] * delta[w] * bn;
              tmp[w] = dhn[w] * dU[w];
              dhn[w] *= a;
            }
            for (int64_t w = 0; w < cw; ++w) sb += tmp[w];
            pB[t * N + n] += sb;
            pC[t * N + n] += sc;
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
      for (int64_t n = 0; n < N; ++n) dA_log[(c0 + w) * N + n] += dA[n * kW + w] * bl.A[n * kW + w];
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
