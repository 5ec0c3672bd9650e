#include "autograd/ops_ssm.h"

#include "core/error.h"
#include "kernels/backend.h"

namespace tinyr2::ops {

Tensor depthwise_conv1d(Tape& tape, const Tensor& x, const Tensor& w, const Tensor& bias) {
  const kernels::Backend& kern = kernels::backend(x.device());
  TINYR2_CHECK(x.dim() == 3 && w.dim() == 3 && w.size(0) == x.size(2) && w.size(1) == 1 &&
                   bias.shape() == Shape({x.size(2)}),
               "depthwise_conv1d: x {}, w {}, bias {} must be (B,T,d), (d,1,K), (d)",
               shape_str(x.shape()), shape_str(w.shape()), shape_str(bias.shape()));
  const int64_t B = x.size(0), T = x.size(1), d = x.size(2), K = w.size(2);
  Tensor y = Tensor::empty(x.shape());
  kern.depthwise_conv1d_forward(x.data(), w.data(), bias.data(), y.data(), B, T, d, K);
  if (tape.needs_grad({&x, &w, &bias})) {
    tape.record({y}, [&kern, x, w, bias, y, B, T, d, K] {
      kern.depthwise_conv1d_backward(x.data(), w.data(), y.grad().data(), x.grad_accumulator(),
                                     w.grad_accumulator(), bias.grad_accumulator(), B, T, d, K);
    });
  }
  return y;
}

Tensor selective_scan(Tape& tape, const Tensor& u, const Tensor& dt, const Tensor& dt_bias,
                      const Tensor& A_log, const Tensor& Bm, const Tensor& Cm, const Tensor& D,
                      const Tensor& state) {
  const kernels::Backend& kern = kernels::backend(u.device());
  TINYR2_CHECK(u.dim() == 3 && A_log.dim() == 2,
               "selective_scan: u {} must be (B,T,d), A_log {} (d,N)", shape_str(u.shape()),
               shape_str(A_log.shape()));
  const int64_t B = u.size(0), T = u.size(1), d = u.size(2), N = A_log.size(1);
  TINYR2_CHECK(dt.shape() == u.shape() && dt_bias.shape() == Shape({d}) && A_log.size(0) == d &&
                   Bm.shape() == Shape({B, T, N}) && Cm.shape() == Shape({B, T, N}) &&
                   D.shape() == Shape({d}),
               "selective_scan: u {}, dt {}, dt_bias {}, A_log {}, Bm {}, Cm {}, D {} must be "
               "(B,T,d), (B,T,d), (d), (d,N), (B,T,N), (B,T,N), (d)",
               shape_str(u.shape()), shape_str(dt.shape()), shape_str(dt_bias.shape()),
               shape_str(A_log.shape()), shape_str(Bm.shape()), shape_str(Cm.shape()),
               shape_str(D.shape()));
  if (state.defined())
    TINYR2_CHECK(state.shape() == Shape({B, d, N}), "selective_scan: state {} must be (B,d,N) = {}",
                 shape_str(state.shape()), shape_str({B, d, N}));
  Tensor y = Tensor::empty(u.shape());
  Tensor st = state;  // a handle: advancing it advances the caller's state
  kern.selective_scan_forward(u.data(), dt.data(), dt_bias.data(), A_log.data(), Bm.data(),
                              Cm.data(), D.data(), y.data(), st.defined() ? st.data() : nullptr, B,
                              T, d, N);
  if (tape.needs_grad({&u, &dt, &dt_bias, &A_log, &Bm, &Cm, &D})) {
    TINYR2_CHECK(!state.defined(), "selective_scan: no gradient through a decode state");
    tape.record({y}, [&kern, u, dt, dt_bias, A_log, Bm, Cm, D, y, B, T, d, N] {
      kern.selective_scan_backward(u.data(), dt.data(), dt_bias.data(), A_log.data(), Bm.data(),
                                   Cm.data(), D.data(), y.grad().data(), u.grad_accumulator(),
                                   dt.grad_accumulator(), dt_bias.grad_accumulator(),
                                   A_log.grad_accumulator(), Bm.grad_accumulator(),
                                   Cm.grad_accumulator(), D.grad_accumulator(), B, T, d, N);
    });
  }
  return y;
}

}  // namespace tinyr2::ops
