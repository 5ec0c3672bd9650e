#include "kernels/cpu/depthwise_conv.h"

#include <algorithm>
#include <vector>

namespace tinyr2::kernels::cpu {

void depthwise_conv1d_forward(const float* x, const float* w, const float* bias, float* y,
                              int64_t B, int64_t T, int64_t d, int64_t K) {
  std::vector<float> wt(static_cast<size_t>(K * d));  // (K, d): tap j of every channel
  for (int64_t c = 0; c < d; ++c)
    for (int64_t j = 0; j < K; ++j) wt[j * d + c] = w[c * K + j];
#pragma omp parallel for collapse(2) schedule(static) if (B * T * d * K > 65536)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) {
      float* yt = y + (b * T + t) * d;
      std::copy_n(bias, d, yt);
      for (int64_t j = 0; j < K; ++j) {
        const int64_t s = t - K + 1 + j;
        if (s < 0) continue;
        const float* xs = x + (b * T + s) * d;
        const float* wj = wt.data() + j * d;
        for (int64_t c = 0; c < d; ++c) yt[c] += wj[c] * xs[c];
      }
    }
}

void depthwise_conv1d_backward(const float* x, const float* w, const float* gy, float* dx,
                               float* dw, float* dbias, int64_t B, int64_t T, int64_t d,
                               int64_t K) {
  std::vector<float> wt(static_cast<size_t>(K * d));
  for (int64_t c = 0; c < d; ++c)
    for (int64_t j = 0; j < K; ++j) wt[j * d + c] = w[c * K + j];
#pragma omp parallel for collapse(2) schedule(static) if (B * T * d * K > 65536)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t s = 0; s < T; ++s) {
      float* dxs = dx + (b * T + s) * d;
      for (int64_t j = 0; j < K; ++j) {
        const int64_t t = s + K - 1 - j;
        if (t >= T) continue;
        const float* gt = gy + (b * T + t) * d;
        const float* wj = wt.data() + j * d;
        for (int64_t c = 0; c < d; ++c) dxs[c] += wj[c] * gt[c];
      }
    }
  constexpr int64_t kBlock = 64;
  const int64_t nblk = (d + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (nblk > 1 && B * T * d * K > 65536)
  for (int64_t blk = 0; blk < nblk; ++blk) {
    const int64_t c0 = blk * kBlock, cw = std::min(kBlock, d - c0);
    std::vector<float> acc(static_cast<size_t>((K + 1) * kBlock), 0.f);  // K taps, then bias
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T; ++t) {
        const float* gt = gy + (b * T + t) * d + c0;
        float* ab = acc.data() + K * kBlock;
        for (int64_t c = 0; c < cw; ++c) ab[c] += gt[c];
        for (int64_t j = 0; j < K; ++j) {
          const int64_t s = t - K + 1 + j;
          if (s < 0) continue;
          const float* xs = x + (b * T + s) * d + c0;
          float* aj = acc.data() + j * kBlock;
          for (int64_t c = 0; c < cw; ++c) aj[c] += gt[c] * xs[c];
        }
      }
    for (int64_t c = 0; c < cw; ++c) {
      dbias[c0 + c] += acc[K * kBlock + c];
      for (int64_t j = 0; j < K; ++j) dw[(c0 + c) * K + j] += acc[j * kBlock + c];
    }
  }
}

}  // namespace tinyr2::kernels::cpu
