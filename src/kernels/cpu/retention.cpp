#include "kernels/cpu/retention.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace tinyr2::kernels::cpu {

namespace {

constexpr int64_t kL = kRetentionChunk;

// Rows c0 … c0+L−1 of head h of x (B,T,H,D) at batch b into dst (L, D).
void load_rows(const float* x, float* dst, int64_t b, int64_t c0, int64_t L, int64_t h, int64_t T,
               int64_t H, int64_t D) {
  for (int64_t i = 0; i < L; ++i) std::copy_n(x + ((b * T + c0 + i) * H + h) * D, D, dst + i * D);
}

void add_rows(float* x, const float* src, int64_t b, int64_t c0, int64_t L, int64_t h, int64_t T,
              int64_t H, int64_t D) {
  for (int64_t i = 0; i < L; ++i) {
    float* row = x + ((b * T + c0 + i) * H + h) * D;
    const float* s = src + i * D;
    for (int64_t d = 0; d < D; ++d) row[d] += s[d];
  }
}

// a·b with 16 partial sums (vectorised; a fixed order, so the same bits every run).
float dot(const float* a, const float* b, int64_t D) {
  float part[16] = {};
  int64_t d = 0;
  for (; d + 16 <= D; d += 16)
    for (int j = 0; j < 16; ++j) part[j] += a[d + j] * b[d + j];
  float acc = 0.f;
  for (; d < D; ++d) acc += a[d] * b[d];
  for (int j = 0; j < 16; ++j) acc += part[j];
  return acc;
}

// P[i][j] = s·γ^(i−j)·(a_i·b_j) for j ≤ i, 0 above the diagonal; a, b (L, D).
void masked_products(const float* a, const float* b, float* P, const float* gpow, float s,
                     int64_t L, int64_t D) {
  for (int64_t i = 0; i < L; ++i)
    for (int64_t j = 0; j < L; ++j)
      P[i * L + j] = j <= i ? s * gpow[i - j] * dot(a + i * D, b + j * D, D) : 0.f;
}

// out (L, D) = P (L×L) · m (L, D), or Pᵀ · m when transposed.
void apply(const float* P, const float* m, float* out, int64_t L, int64_t D, bool transposed) {
  std::fill_n(out, L * D, 0.f);
  for (int64_t i = 0; i < L; ++i)
    for (int64_t j = 0; j < L; ++j) {
      const float p = transposed ? P[j * L + i] : P[i * L + j];
      if (p == 0.f) continue;
      const float* mj = m + j * D;
      float* oi = out + i * D;
      for (int64_t d = 0; d < D; ++d) oi[d] += p * mj[d];
    }
}

// out_i += c_i · M x_i  (M (D×D) row-major, or Mᵀ when transposed), x (L, D).
void add_state_products(const float* M, const float* x, float* out, const float* coef, int64_t L,
                        int64_t D, bool transposed) {
  for (int64_t i = 0; i < L; ++i) {
    const float* xi = x + i * D;
    float* oi = out + i * D;
    if (!transposed) {
      for (int64_t a = 0; a < D; ++a) oi[a] += coef[i] * dot(M + a * D, xi, D);
    } else {
      for (int64_t a = 0; a < D; ++a) {
        const float w = coef[i] * xi[a];
        const float* Ma = M + a * D;
        for (int64_t d = 0; d < D; ++d) oi[d] += w * Ma[d];
      }
    }
  }
}

// M ← decay·M + Σ_i c_i · a_i b_iᵀ, a, b (L, D).
void update_state(float* M, const float* a, const float* b, const float* coef, float decay,
                  int64_t L, int64_t D) {
  for (int64_t e = 0; e < D * D; ++e) M[e] *= decay;
  for (int64_t i = 0; i < L; ++i)
    for (int64_t r = 0; r < D; ++r) {
      const float w = coef[i] * a[i * D + r];
      float* Mr = M + r * D;
      const float* bi = b + i * D;
      for (int64_t d = 0; d < D; ++d) Mr[d] += w * bi[d];
    }
}

// One chunk of the causal decayed scan, shared by the forward (out = o from a = q, b = k,
// m = v, Sᵀ) and the dq sweep of the backward (out = dq from a = dO, b = v, m = k, S):
//   out_i = Σ_{j≤i} s·γ^(i−j)·(a_i·b_j)·m_j + s·γ^(i+1)·(Sᵀ a_i, or S a_i)
// then S ← γ^L·S + Σ_j γ^(L−1−j)·k_j v_jᵀ. P (L×L) and coef (L) are scratch.
void causal_chunk(const float* a, const float* b, const float* m, const float* kc, const float* vc,
                  float* S, float* out, float* P, float* coef, const float* gpow, float scale,
                  int64_t L, int64_t D, bool transposed_state) {
  masked_products(a, b, P, gpow, scale, L, D);
  apply(P, m, out, L, D, false);  // P was built for stride L: apply() reads it with the same L
  for (int64_t i = 0; i < L; ++i) coef[i] = scale * gpow[i + 1];
  add_state_products(S, a, out, coef, L, D, transposed_state);
  for (int64_t j = 0; j < L; ++j) coef[j] = gpow[L - 1 - j];
  update_state(S, kc, vc, coef, gpow[L], L, D);
}

}  // namespace

double retention_gamma(int64_t h) {
  return 1.0 - std::exp2(-5.0 - static_cast<double>(h));
}

void retention_forward(const float* q, const float* k, const float* v, float* o, float* state,
                       int64_t B, int64_t T, int64_t H, int64_t D, float scale) {
#pragma omp parallel for schedule(static) if (B * H > 1 && B * T * H * D > 16384)
  for (int64_t item = 0; item < B * H; ++item) {
    const int64_t b = item / H, h = item % H;
    const double gamma = retention_gamma(h);
    std::vector<float> gpow(kL + 1), coef(kL);
    for (int64_t n = 0; n <= kL; ++n) gpow[n] = static_cast<float>(std::pow(gamma, n));
    std::vector<float> qc(kL * D), kc(kL * D), vc(kL * D), oc(kL * D), P(kL * kL);
    std::vector<float> S(D * D, 0.f);
    float* st = state ? state + item * D * D : nullptr;
    if (st) std::copy_n(st, D * D, S.data());
    for (int64_t c0 = 0; c0 < T; c0 += kL) {
      const int64_t L = std::min(kL, T - c0);
      load_rows(q, qc.data(), b, c0, L, h, T, H, D);
      load_rows(k, kc.data(), b, c0, L, h, T, H, D);
      load_rows(v, vc.data(), b, c0, L, h, T, H, D);
      // q_iᵀ S: out[d] = Σ_a q[a] S[a][d], i.e. Sᵀ q.
      causal_chunk(qc.data(), kc.data(), vc.data(), kc.data(), vc.data(), S.data(), oc.data(),
                   P.data(), coef.data(), gpow.data(), scale, L, D, true);
      for (int64_t i = 0; i < L; ++i)
        std::copy_n(oc.data() + i * D, D, o + ((b * T + c0 + i) * H + h) * D);
    }
    if (st) std::copy_n(S.data(), D * D, st);
  }
}

void retention_backward(const float* q, const float* k, const float* v, const float* go, float* dq,
                        float* dk, float* dv, int64_t B, int64_t T, int64_t H, int64_t D,
                        float scale) {
#pragma omp parallel for schedule(static) if (B * H > 1 && B * T * H * D > 16384)
  for (int64_t item = 0; item < B * H; ++item) {
    const int64_t b = item / H, h = item % H;
    const double gamma = retention_gamma(h);
    std::vector<float> gpow(kL + 1), coef(kL);
    for (int64_t n = 0; n <= kL; ++n) gpow[n] = static_cast<float>(std::pow(gamma, n));
    std::vector<float> qc(kL * D), kc(kL * D), vc(kL * D), gc(kL * D), acc(kL * D), P(kL * kL);
    std::vector<float> S(D * D, 0.f);
    // Forward sweep: dq.
    for (int64_t c0 = 0; c0 < T; c0 += kL) {
      const int64_t L = std::min(kL, T - c0);
      load_rows(k, kc.data(), b, c0, L, h, T, H, D);
      load_rows(v, vc.data(), b, c0, L, h, T, H, D);
      load_rows(go, gc.data(), b, c0, L, h, T, H, D);
      causal_chunk(gc.data(), vc.data(), kc.data(), kc.data(), vc.data(), S.data(), acc.data(),
                   P.data(), coef.data(), gpow.data(), scale, L, D, false);
      add_rows(dq, acc.data(), b, c0, L, h, T, H, D);
    }
    // Backward sweep: dk, dv with G (S's buffer reused).
    std::fill(S.begin(), S.end(), 0.f);
    const int64_t last = ((T - 1) / kL) * kL;
    for (int64_t c0 = last; c0 >= 0; c0 -= kL) {
      const int64_t L = std::min(kL, T - c0);
      load_rows(q, qc.data(), b, c0, L, h, T, H, D);
      load_rows(k, kc.data(), b, c0, L, h, T, H, D);
      load_rows(v, vc.data(), b, c0, L, h, T, H, D);
      load_rows(go, gc.data(), b, c0, L, h, T, H, D);
      for (int64_t j = 0; j < L; ++j) coef[j] = gpow[L - 1 - j];
      // dk
      masked_products(gc.data(), vc.data(), P.data(), gpow.data(), scale, L, D);
      apply(P.data(), qc.data(), acc.data(), L, D, true);
      add_state_products(S.data(), vc.data(), acc.data(), coef.data(), L, D, false);
      add_rows(dk, acc.data(), b, c0, L, h, T, H, D);
      // dv
      masked_products(qc.data(), kc.data(), P.data(), gpow.data(), scale, L, D);
      apply(P.data(), gc.data(), acc.data(), L, D, true);
      add_state_products(S.data(), kc.data(), acc.data(), coef.data(), L, D, true);
      add_rows(dv, acc.data(), b, c0, L, h, T, H, D);
      for (int64_t i = 0; i < L; ++i) coef[i] = scale * gpow[i + 1];
      update_state(S.data(), qc.data(), gc.data(), coef.data(), gpow[L], L, D);
    }
  }
}

}  // namespace tinyr2::kernels::cpu
