// Vectorisable float e^x and erf(x) for the CPU kernels.
//
// glibc's expf / erff are scalar calls that g++ will not vectorise without -ffast-math, so
// a loop that calls them runs one lane wide. These two are inline float arithmetic, compares
// and selects (plus integer adds on the bits), with no branches, calls or float → int
// conversions, so a g++ -O3 loop over them runs 8 or 16 lanes wide (checked with
// -fopt-info-vec on the softmax, attention, cross-entropy and activation loops).
//
//   fast_exp(x) = e^x: x = n·ln2 + r with n = round(x·log2 e), |r| ≤ ln2/2 (ln2 split into a
//                 high part, exact in n·ln2_hi, and a low correction); e^r by its degree-7
//                 Taylor polynomial (truncation error < 6e-9 relative); 2^n added to the
//                 exponent bits. Relative error < 8e-8 (below 1 ulp) over the normal range.
//                 Edge cases: exactly 0 for x < −87.3365 (e^x below the smallest normal
//                 float), including −inf, so masked terms and "no previous max" rescalings
//                 exp(−inf − m) vanish; +inf for x > 88.7228 (e^x overflows), including
//                 +inf; NaN → NaN.
//
//   fast_erf(x) = erf(x): x·P(x²)/Q(x²) on [−4, 4] (degree 6 over 5 in x², a weighted
//                 least-squares rational fit on [0, 4] with relative error 2e-9 in exact
//                 arithmetic) and ±1 outside (erf(4) rounds to 1 in float). Evaluated in
//                 float the absolute error is below 3.6e-7, like other vectorised
//                 single-precision erfs. Edge cases: erf(±inf) = ±1, erf(NaN) = NaN.
//
// Both assume IEEE semantics (no -ffast-math: it would fold the NaN test in fast_exp away).
#pragma once

#include <bit>
#include <cstdint>
#include <limits>

namespace tinyr2::kernels::cpu {

inline float fast_exp(float x) {
  constexpr float kHi = 88.7228f, kLo = -87.3365f;  // ≈ ln(FLT_MAX), ln(FLT_MIN), inward
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693145751953125f, kLn2Lo = 1.42860682030941723e-6f;
  constexpr float kRound = 12582912.f;  // 1.5·2²³: adding it rounds to an integer
  const float t = x * kLog2e + kRound;  // n in the low mantissa bits of t
  const float n = t - kRound;
  const float r = (x - n * kLn2Hi) - n * kLn2Lo;
  float p = 1.f / 5040.f;  // e^r ∈ [0.70, 1.42]
  p = p * r + 1.f / 720.f;
  p = p * r + 1.f / 120.f;
  p = p * r + 1.f / 24.f;
  p = p * r + 1.f / 6.f;
  p = p * r + 0.5f;
  p = p * r + 1.f;
  p = p * r + 1.f;
  // p·2^n by adding n to p's exponent field: t's bits are 0x4B400000 + n, and shifting them
  // left by 23 leaves exactly n << 23 (mod 2³²). For kLo ≤ x ≤ kHi, n ∈ [−126, 128] and the
  // result stays a normal float: n = −126 only with r > 0 (p ≥ 1), n = 128 only with r < 0
  // (p < 1). Outside that range v is meaningless and replaced below.
  const float v =
      std::bit_cast<float>(std::bit_cast<uint32_t>(p) + (std::bit_cast<uint32_t>(t) << 23));
  // x − x is 0, or NaN for a NaN x: adding it passes NaN through without a compare.
  return x < kLo ? 0.f : x > kHi ? std::numeric_limits<float>::infinity() : v + (x - x);
}

inline float fast_erf(float x) {
  const float xc = x > 4.f ? 4.f : (x < -4.f ? -4.f : x);
  const float t = xc * xc;
  float p = -1.3202148457791552e-08f;
  p = p * t + 4.6847614330117193e-06f;
  p = p * t + 3.7960826060412295e-04f;
  p = p * t + 3.8496096560703447e-03f;
  p = p * t + 5.4316897268572514e-02f;
  p = p * t + 1.8520321509361945e-01f;
  p = p * t + 1.1283791693755623e+00f;
  float q = 6.3110426430469831e-05f;
  q = q * t + 1.3075686888258105e-03f;
  q = q * t + 1.5462083683765643e-02f;
  q = q * t + 1.1395840174887323e-01f;
  q = q * t + 4.9746548971542576e-01f;
  q = q * t + 1.f;
  return xc * p / q;
}

}  // namespace tinyr2::kernels::cpu
