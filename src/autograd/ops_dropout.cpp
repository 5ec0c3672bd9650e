#include "autograd/ops_dropout.h"

#include "core/error.h"

namespace tinyr2::ops {

Tensor dropout_mask(const Shape& shape, float p, Rng& rng) {
  TINYR2_CHECK(p >= 0.f && p < 1.f, "dropout probability {} not in [0,1)", p);
  Tensor mask = Tensor::empty(shape);
  rng.uniform(mask.data(), mask.numel());
  const float keep = 1.f / (1.f - p);
  float* m = mask.data();
  for (int64_t i = 0; i < mask.numel(); ++i) m[i] = m[i] >= p ? keep : 0.f;
  return mask;
}

Tensor dropout(Tape& tape, const Tensor& x, float p, Rng& rng) {
  TINYR2_CHECK(p >= 0.f && p < 1.f, "dropout probability {} not in [0,1)", p);
  if (p == 0.f) return x;
  const int64_t n = x.numel();
  const Tensor mask = dropout_mask(x.shape(), p, rng);
  const float* m = mask.data();
  Tensor out = Tensor::empty(x.shape());
  const float* xs = x.data();
  float* o = out.data();
#pragma omp parallel for simd schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) o[i] = xs[i] * m[i];
  if (tape.needs_grad({&x})) {
    tape.record({out}, [x, mask, out, n] {
      const float* g = out.grad().data();
      const float* mk = mask.data();
      float* gx = x.grad_accumulator();
#pragma omp parallel for simd schedule(static) if (n > 65536)
      for (int64_t i = 0; i < n; ++i) gx[i] += g[i] * mk[i];
    });
  }
  return out;
}

}  // namespace tinyr2::ops
