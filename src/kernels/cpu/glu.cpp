#include "kernels/cpu/glu.h"

#include "kernels/cpu/fast_math.h"

namespace tinyr2::kernels::cpu {

namespace {

constexpr int64_t kParallelWork = 32768;
constexpr float kInvSqrt2 = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;

// act(v) and act′(v) for one element; the switch is hoisted out of the loops by the callers'
// template instantiation below.
template <GluActivation K>
inline float act_value(float v) {
  if constexpr (K == GluActivation::Silu) return v / (1.f + fast_exp(-v));
  if constexpr (K == GluActivation::Gelu) return 0.5f * v * (1.f + fast_erf(v * kInvSqrt2));
  if constexpr (K == GluActivation::Relu) return v > 0.f ? v : 0.f;
  if constexpr (K == GluActivation::Sigmoid) return 1.f / (1.f + fast_exp(-v));
  return v;
}

template <GluActivation K>
inline float act_grad(float v) {
  if constexpr (K == GluActivation::Silu) {
    const float s = 1.f / (1.f + fast_exp(-v));
    return s * (1.f + v * (1.f - s));
  }
  if constexpr (K == GluActivation::Gelu)
    return 0.5f * (1.f + fast_erf(v * kInvSqrt2)) + v * kInvSqrt2Pi * fast_exp(-0.5f * v * v);
  if constexpr (K == GluActivation::Relu) return v > 0.f ? 1.f : 0.f;
  if constexpr (K == GluActivation::Sigmoid) {
    const float s = 1.f / (1.f + fast_exp(-v));
    return s * (1.f - s);
  }
  return 1.f;
}

template <GluActivation K>
void forward(const float* a, const float* b, float* y, int64_t n) {
#pragma omp parallel for schedule(static) if (n > kParallelWork)
  for (int64_t i = 0; i < n; ++i) y[i] = act_value<K>(a[i]) * b[i];
}

template <GluActivation K>
void backward(const float* a, const float* b, const float* dy, float* da, float* db, int64_t n) {
#pragma omp parallel for schedule(static) if (n > kParallelWork)
  for (int64_t i = 0; i < n; ++i) {
    if (da) da[i] += dy[i] * b[i] * act_grad<K>(a[i]);
    if (db) db[i] += dy[i] * act_value<K>(a[i]);
  }
}

template <GluActivation K>
void activation(const float* a, float* act, float* dact, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    act[i] = act_value<K>(a[i]);
    if (dact) dact[i] = act_grad<K>(a[i]);
  }
}

// Calls f.template operator()<K>() for the runtime kind.
template <typename F>
void with_kind(GluActivation kind, F&& f) {
  switch (kind) {
    case GluActivation::Silu:
      return f.template operator()<GluActivation::Silu>();
    case GluActivation::Gelu:
      return f.template operator()<GluActivation::Gelu>();
    case GluActivation::Relu:
      return f.template operator()<GluActivation::Relu>();
    case GluActivation::Sigmoid:
      return f.template operator()<GluActivation::Sigmoid>();
    case GluActivation::Bilinear:
      return f.template operator()<GluActivation::Bilinear>();
  }
}

}  // namespace

void glu_forward(const float* a, const float* b, float* y, int64_t n, GluActivation act) {
  with_kind(act, [&]<GluActivation K>() { forward<K>(a, b, y, n); });
}

void glu_backward(const float* a, const float* b, const float* dy, float* da, float* db, int64_t n,
                  GluActivation act) {
  with_kind(act, [&]<GluActivation K>() { backward<K>(a, b, dy, da, db, n); });
}

void glu_activation(const float* a, float* act, float* dact, int64_t n, GluActivation kind) {
  with_kind(kind, [&]<GluActivation K>() { activation<K>(a, act, dact, n); });
}

}  // namespace tinyr2::kernels::cpu
