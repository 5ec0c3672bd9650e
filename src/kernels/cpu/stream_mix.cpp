#include "kernels/cpu/stream_mix.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace tinyr2::kernels::cpu {

// ---------------------------------------------------------------- stream mix

namespace {

// Σ_c a[c]·b[c] with the sum split over SIMD lanes (a fixed order for a given build), so the
// loop vectorises instead of waiting on one scalar add per element.
inline float dot(const float* a, const float* b, int64_t n) {
  float acc = 0.f;
#pragma omp simd reduction(+ : acc)
  for (int64_t c = 0; c < n; ++c) acc += a[c] * b[c];
  return acc;
}

}  // namespace

void stream_mix_forward(const float* R, const float* M, float* out, int64_t N, int64_t S, int64_t T,
                        int64_t C, bool per_token) {
#pragma omp parallel for schedule(static) if (N * S * T * C > 32768)
  for (int64_t n = 0; n < N; ++n) {
    const float* Rn = R + n * S * C;
    const float* Mn = per_token ? M + n * S * T : M;
    for (int64_t t = 0; t < T; ++t) {
      float* o = out + (n * T + t) * C;
      for (int64_t c = 0; c < C; ++c) o[c] = 0.f;
      for (int64_t s = 0; s < S; ++s) {
        const float m = Mn[s * T + t];
        const float* r = Rn + s * C;
        for (int64_t c = 0; c < C; ++c) o[c] += m * r[c];
      }
    }
  }
}

void stream_mix_backward(const float* R, const float* M, const float* g, float* dR, float* dM,
                         int64_t N, int64_t S, int64_t T, int64_t C, bool per_token) {
  const bool par = N * S * T * C > 32768;
  // One pass over the tokens: token n's R rows and g rows are read once, for its dR (from g)
  // and its dM dot products (R against g) while both are still in L1. A shared M sums its dM
  // over every token: per-thread partial sums in double, then a reduction in thread order.
  const bool shared_dM = dM != nullptr && !per_token;
  const int nt = par ? omp_get_max_threads() : 1;
  std::vector<double> partial(shared_dM ? static_cast<size_t>(nt) * S * T : 0, 0.0);
#pragma omp parallel num_threads(nt) if (par)
  {
    double* acc =
        shared_dM ? partial.data() + static_cast<size_t>(omp_get_thread_num()) * S * T : nullptr;
#pragma omp for schedule(static)
    for (int64_t n = 0; n < N; ++n) {
      const float* Mn = per_token ? M + n * S * T : M;
      const float* gn = g + n * T * C;
      if (dR)
        for (int64_t s = 0; s < S; ++s) {
          float* d = dR + (n * S + s) * C;
          for (int64_t t = 0; t < T; ++t) {
            const float m = Mn[s * T + t];
            const float* gt = gn + t * C;
#pragma omp simd
            for (int64_t c = 0; c < C; ++c) d[c] += m * gt[c];
          }
        }
      if (!dM) continue;
      for (int64_t s = 0; s < S; ++s)
        for (int64_t t = 0; t < T; ++t) {
          const float p = dot(R + (n * S + s) * C, gn + t * C, C);
          if (shared_dM)
            acc[s * T + t] += p;
          else
            dM[(n * S + s) * T + t] += p;
        }
    }
  }
  if (!shared_dM) return;
  for (int64_t i = 0; i < S * T; ++i) {
    double sum = 0;
    for (int th = 0; th < nt; ++th) sum += partial[static_cast<size_t>(th) * S * T + i];
    dM[i] += static_cast<float>(sum);
  }
}

// ---------------------------------------------------------------- Sinkhorn

namespace {

using Mat = std::vector<double>;  // S×S row-major

// logsumexp over a strided run of S values (a row: stride 1, a column: stride S).
double lse(const double* x, int64_t S, int64_t stride) {
  double m = -INFINITY;
  for (int64_t i = 0; i < S; ++i) m = std::max(m, x[i * stride]);
  double s = 0;
  for (int64_t i = 0; i < S; ++i) s += std::exp(x[i * stride] - m);
  return m + std::log(s);
}

struct SinkhornTrace {
  Mat Z;
  std::vector<std::vector<double>> u, v;  // u[k], v[k] after iteration k (v[0] = 0 before)
};

SinkhornTrace sinkhorn_run(const float* logits, int64_t S, double tau, int64_t iters) {
  SinkhornTrace tr;
  tr.Z.resize(S * S);
  for (int64_t i = 0; i < S * S; ++i) tr.Z[i] = logits[i] / tau;
  const double m = -std::log(static_cast<double>(S));
  std::vector<double> u(S, 0.0), v(S, 0.0), tmp(S * S);
  tr.v.push_back(v);
  for (int64_t k = 0; k < iters; ++k) {
    for (int64_t i = 0; i < S; ++i) {
      for (int64_t j = 0; j < S; ++j) tmp[i * S + j] = tr.Z[i * S + j] + v[j];
      u[i] = m - lse(&tmp[i * S], S, 1);
    }
    for (int64_t j = 0; j < S; ++j) {
      for (int64_t i = 0; i < S; ++i) tmp[i * S + j] = tr.Z[i * S + j] + u[i];
      v[j] = m - lse(&tmp[j], S, S);
    }
    tr.u.push_back(u);
    tr.v.push_back(v);
  }
  if (iters == 0) tr.u.push_back(u);
  return tr;
}

}  // namespace

void sinkhorn_forward(const float* logits, float* H, int64_t S, double tau, int64_t iters) {
  const SinkhornTrace tr = sinkhorn_run(logits, S, tau, iters);
  const auto& u = tr.u.back();
  const auto& v = tr.v.back();
  for (int64_t i = 0; i < S; ++i)
    for (int64_t j = 0; j < S; ++j)
      H[i * S + j] = static_cast<float>(S * std::exp(tr.Z[i * S + j] + u[i] + v[j]));
}

void sinkhorn_backward(const float* logits, const float* dH, float* dlogits, int64_t S, double tau,
                       int64_t iters) {
  const SinkhornTrace tr = sinkhorn_run(logits, S, tau, iters);
  Mat dZ(S * S, 0.0);
  std::vector<double> du(S, 0.0), dv(S, 0.0);
  {  // H = S exp(Z + u + v)
    const auto& u = tr.u.back();
    const auto& v = tr.v.back();
    for (int64_t i = 0; i < S; ++i)
      for (int64_t j = 0; j < S; ++j) {
        const double h = S * std::exp(tr.Z[i * S + j] + u[i] + v[j]);
        const double gh = dH[i * S + j] * h;
        dZ[i * S + j] += gh;
        du[i] += gh;
        dv[j] += gh;
      }
  }
  for (int64_t k = iters - 1; k >= 0; --k) {
    const auto& u = tr.u[k];      // u after iteration k
    const auto& vprev = tr.v[k];  // v used to compute it
    // v_j = m − LSE_i(Z_ij + u_i): q_ij = softmax over i.
    std::vector<double> du_acc = du;
    for (int64_t j = 0; j < S; ++j) {
      double mx = -INFINITY;
      for (int64_t i = 0; i < S; ++i) mx = std::max(mx, tr.Z[i * S + j] + u[i]);
      double den = 0;
      for (int64_t i = 0; i < S; ++i) den += std::exp(tr.Z[i * S + j] + u[i] - mx);
      for (int64_t i = 0; i < S; ++i) {
        const double q = std::exp(tr.Z[i * S + j] + u[i] - mx) / den;
        dZ[i * S + j] -= dv[j] * q;
        du_acc[i] -= dv[j] * q;
      }
    }
    // u_i = m − LSE_j(Z_ij + v_j): r_ij = softmax over j.
    std::vector<double> dv_prev(S, 0.0);
    for (int64_t i = 0; i < S; ++i) {
      double mx = -INFINITY;
      for (int64_t j = 0; j < S; ++j) mx = std::max(mx, tr.Z[i * S + j] + vprev[j]);
      double den = 0;
      for (int64_t j = 0; j < S; ++j) den += std::exp(tr.Z[i * S + j] + vprev[j] - mx);
      for (int64_t j = 0; j < S; ++j) {
        const double r = std::exp(tr.Z[i * S + j] + vprev[j] - mx) / den;
        dZ[i * S + j] -= du_acc[i] * r;
        dv_prev[j] -= du_acc[i] * r;
      }
    }
    du.assign(S, 0.0);  // u of the previous iteration does not feed iteration k
    dv = dv_prev;
  }
  for (int64_t i = 0; i < S * S; ++i) dlogits[i] += static_cast<float>(dZ[i] / tau);
}

// ---------------------------------------------------------------- orthostochastic

namespace {

Mat matmul(const Mat& A, const Mat& B, int64_t S, bool ta = false, bool tb = false) {
  Mat C(S * S, 0.0);
  for (int64_t i = 0; i < S; ++i)
    for (int64_t k = 0; k < S; ++k) {
      const double a = ta ? A[k * S + i] : A[i * S + k];
      for (int64_t j = 0; j < S; ++j) C[i * S + j] += a * (tb ? B[j * S + k] : B[k * S + j]);
    }
  return C;
}

Mat axpby(double a, const Mat& X, double b, const Mat& Y) {
  Mat Z(X.size());
  for (size_t i = 0; i < X.size(); ++i) Z[i] = a * X[i] + b * Y[i];
  return Z;
}

// X_0 … X_steps of the Newton–Schulz iteration.
std::vector<Mat> ns_run(const float* L, int64_t S, int64_t steps, double eps,
                        const std::array<double, 3>& c, double* norm_out) {
  double norm = 0;
  for (int64_t i = 0; i < S * S; ++i) norm += double(L[i]) * L[i];
  norm = std::sqrt(norm);
  if (norm_out) *norm_out = norm;
  Mat X(S * S);
  for (int64_t i = 0; i < S * S; ++i) X[i] = L[i] / (norm + eps);
  std::vector<Mat> xs = {X};
  for (int64_t k = 0; k < steps; ++k) {
    const Mat A = matmul(X, X, S, false, true);
    const Mat AX = matmul(A, X, S);
    const Mat AAX = matmul(A, AX, S);
    Mat Y(S * S);
    for (int64_t i = 0; i < S * S; ++i) Y[i] = c[0] * X[i] + c[1] * AX[i] + c[2] * AAX[i];
    X = Y;
    xs.push_back(X);
  }
  return xs;
}

}  // namespace

void orthostochastic_forward(const float* L, float* H, int64_t S, int64_t steps, double eps,
                             const std::array<double, 3>& coeffs) {
  const auto xs = ns_run(L, S, steps, eps, coeffs, nullptr);
  const Mat& X = xs.back();
  for (int64_t i = 0; i < S * S; ++i) H[i] = static_cast<float>(X[i] * X[i]);
}

void orthostochastic_backward(const float* L, const float* dH, float* dL, int64_t S, int64_t steps,
                              double eps, const std::array<double, 3>& c) {
  double norm = 0;
  const auto xs = ns_run(L, S, steps, eps, c, &norm);
  Mat G(S * S);
  for (int64_t i = 0; i < S * S; ++i) G[i] = 2.0 * xs.back()[i] * dH[i];  // H = X ⊙ X
  for (int64_t k = steps - 1; k >= 0; --k) {
    // Y = a X + b A X + c A A X with A = X Xᵀ (symmetric).
    const Mat& X = xs[k];
    const Mat A = matmul(X, X, S, false, true);
    const Mat AG = matmul(A, G, S);
    const Mat GXt = matmul(G, X, S, false, true);
    // dA = b G Xᵀ + c (G Xᵀ A + A G Xᵀ)
    const Mat dA = axpby(c[1], GXt, c[2], axpby(1.0, matmul(GXt, A, S), 1.0, matmul(A, GXt, S)));
    // dX = a G + b A G + c A A G + (dA + dAᵀ) X
    Mat dAs(S * S);
    for (int64_t i = 0; i < S; ++i)
      for (int64_t j = 0; j < S; ++j) dAs[i * S + j] = dA[i * S + j] + dA[j * S + i];
    const Mat dX = axpby(1.0, axpby(c[0], G, c[1], AG), 1.0,
                         axpby(c[2], matmul(A, AG, S), 1.0, matmul(dAs, X, S)));
    G = dX;
  }
  // X0 = L / (n + eps), n = ‖L‖_F.
  const double d = norm + eps;
  double dot = 0;
  for (int64_t i = 0; i < S * S; ++i) dot += G[i] * L[i];
  for (int64_t i = 0; i < S * S; ++i) {
    double g = G[i] / d;
    if (norm > 0) g -= dot / (d * d) * L[i] / norm;
    dL[i] += static_cast<float>(g);
  }
}

}  // namespace tinyr2::kernels::cpu
