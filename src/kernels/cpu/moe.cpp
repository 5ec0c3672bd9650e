#include "kernels/cpu/moe.h"

#include <cstddef>
#include <vector>

namespace tinyr2::kernels::cpu {

void moe_route_weights_forward(const float* p, const int32_t* idx, float* w, int64_t N, int64_t E,
                               int64_t K, bool normalize) {
#pragma omp parallel for schedule(static) if (N > 4096)
  for (int64_t n = 0; n < N; ++n) {
    float s = 0.f;
    for (int64_t k = 0; k < K; ++k)
      if (idx[n * K + k] >= 0) s += p[n * E + idx[n * K + k]];
    const float inv = normalize ? 1.f / s : 1.f;
    for (int64_t k = 0; k < K; ++k)
      w[n * K + k] = idx[n * K + k] >= 0 ? p[n * E + idx[n * K + k]] * inv : 0.f;
  }
}

void moe_route_weights_backward(const float* p, const int32_t* idx, const float* dw, float* dp,
                                int64_t N, int64_t E, int64_t K, bool normalize) {
#pragma omp parallel for schedule(static) if (N > 4096)
  for (int64_t n = 0; n < N; ++n) {
    const int32_t* ix = idx + n * K;
    if (!normalize) {
      for (int64_t k = 0; k < K; ++k)
        if (ix[k] >= 0) dp[n * E + ix[k]] += dw[n * K + k];
      continue;
    }
    // w_k = p_k / s:  dp_k = dw_k / s − Σ_j dw_j p_j / s²
    float s = 0.f, dot = 0.f;
    for (int64_t k = 0; k < K; ++k) s += p[n * E + ix[k]];
    for (int64_t k = 0; k < K; ++k) dot += dw[n * K + k] * p[n * E + ix[k]];
    for (int64_t k = 0; k < K; ++k) dp[n * E + ix[k]] += dw[n * K + k] / s - dot / (s * s);
  }
}

namespace {
std::vector<double> column_sums(const float* w, const int32_t* idx, int64_t N, int64_t E, int64_t K,
                                float c) {
  std::vector<double> col(static_cast<std::size_t>(E), 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) col[idx[n * K + k]] += static_cast<double>(c) * w[n * K + k];
  return col;
}
}  // namespace

float moe_balance_loss_forward(const float* w, const int32_t* idx, int64_t N, int64_t E, int64_t K,
                               float c) {
  const std::vector<double> col = column_sums(w, idx, N, E, K, c);
  double total = 0;
  for (double x : col) total += x;
  double loss = 0;
  for (double x : col) {
    const double d = x / total - 1.0 / E;
    loss += d * d;
  }
  return static_cast<float>(E * loss);
}

void moe_balance_loss_backward(const float* w, const int32_t* idx, float dloss, float* dw,
                               int64_t N, int64_t E, int64_t K, float c) {
  const std::vector<double> col = column_sums(w, idx, N, E, K, c);
  double total = 0;
  for (double x : col) total += x;
  // dL/dload_e = 2E(load_e − 1/E); dL/dcol_j = (dL/dload_j − Σ_e dL/dload_e load_e) / total.
  std::vector<double> dload(static_cast<std::size_t>(E)), dcol(static_cast<std::size_t>(E));
  double dot = 0;
  for (int64_t e = 0; e < E; ++e) {
    const double load = col[e] / total;
    dload[e] = 2.0 * E * (load - 1.0 / E);
    dot += dload[e] * load;
  }
  for (int64_t e = 0; e < E; ++e) dcol[e] = (dload[e] - dot) / total * dloss;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) dw[n * K + k] += static_cast<float>(c * dcol[idx[n * K + k]]);
}

void moe_update_bias(float* bias, const int64_t* counts, int64_t E, float rate) {
  double mean = 0;
  for (int64_t e = 0; e < E; ++e) mean += static_cast<double>(counts[e]);
  mean /= static_cast<double>(E);
  for (int64_t e = 0; e < E; ++e) {
    const double d = mean - static_cast<double>(counts[e]);
    bias[e] += rate * static_cast<float>((d > 0) - (d < 0));
  }
}

}  // namespace tinyr2::kernels::cpu
