#include "autograd/ops_hc.h"

#include "core/error.h"
#include "kernels/backend.h"

namespace tinyr2::ops {

Tensor stream_mix(Tape& tape, const Tensor& R, const Tensor& M) {
  const kernels::Backend& kern = kernels::backend(R.device());
  TINYR2_CHECK(R.dim() == 3, "stream_mix: R must be (N,S,C), got {}", shape_str(R.shape()));
  const int64_t N = R.size(0), S = R.size(1), C = R.size(2);
  const bool per_token = M.dim() == 3;
  TINYR2_CHECK((M.dim() == 2 && M.size(0) == S) || (per_token && M.size(0) == N && M.size(1) == S),
               "stream_mix: M {} does not fit R {}", shape_str(M.shape()), shape_str(R.shape()));
  const int64_t T = M.size(-1);
  Tensor out = Tensor::empty({N, T, C});
  kern.stream_mix_forward(R.data(), M.data(), out.data(), N, S, T, C, per_token);
  if (tape.needs_grad({&R, &M})) {
    tape.record({out}, [&kern, R, M, out, N, S, T, C, per_token] {
      kern.stream_mix_backward(
          R.data(), M.data(), out.grad().data(), R.requires_grad() ? R.grad_accumulator() : nullptr,
          M.requires_grad() ? M.grad_accumulator() : nullptr, N, S, T, C, per_token);
    });
  }
  return out;
}

Tensor sinkhorn(Tape& tape, const Tensor& logits, double tau, int64_t iters) {
  const kernels::Backend& kern = kernels::backend(logits.device());
  TINYR2_CHECK(logits.dim() == 2 && logits.size(0) == logits.size(1),
               "sinkhorn: logits must be square, got {}", shape_str(logits.shape()));
  const int64_t S = logits.size(0);
  Tensor H = Tensor::empty({S, S});
  kern.sinkhorn_forward(logits.data(), H.data(), S, tau, iters);
  if (tape.needs_grad({&logits})) {
    tape.record({H}, [&kern, logits, H, S, tau, iters] {
      kern.sinkhorn_backward(logits.data(), H.grad().data(), logits.grad_accumulator(), S, tau,
                             iters);
    });
  }
  return H;
}

Tensor orthostochastic(Tape& tape, const Tensor& logits, int64_t steps, double eps,
                       const std::array<double, 3>& coeffs) {
  const kernels::Backend& kern = kernels::backend(logits.device());
  TINYR2_CHECK(logits.dim() == 2 && logits.size(0) == logits.size(1),
               "orthostochastic: logits must be square, got {}", shape_str(logits.shape()));
  const int64_t S = logits.size(0);
  Tensor H = Tensor::empty({S, S});
  kern.orthostochastic_forward(logits.data(), H.data(), S, steps, eps, coeffs);
  if (tape.needs_grad({&logits})) {
    tape.record({H}, [&kern, logits, H, S, steps, eps, coeffs] {
      kern.orthostochastic_backward(logits.data(), H.grad().data(), logits.grad_accumulator(), S,
                                    steps, eps, coeffs);
    });
  }
  return H;
}

}  // namespace tinyr2::ops
