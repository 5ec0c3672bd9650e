#include "autograd/ops_moe.h"

#include "core/error.h"
#include "kernels/cpu/moe.h"

namespace tinyr2::ops {

namespace cpu = kernels::cpu;

namespace {
void check_idx(const IndexTensor& idx, int64_t N, int64_t E) {
  TINYR2_CHECK(idx.shape.size() == 2 && idx.shape[0] == N, "moe: idx {} for {} tokens",
               shape_str(idx.shape), N);
  for (int32_t e : idx.data) TINYR2_CHECK(e >= 0 && e < E, "moe: expert index {} not in [0,{})", e, E);
}
}  // namespace

Tensor moe_route_weights(Tape& tape, const Tensor& p, const IndexTensor& idx, bool normalize) {
  TINYR2_CHECK(p.dim() == 2, "moe_route_weights: p must be (N,E), got {}", shape_str(p.shape()));
  const int64_t N = p.size(0), E = p.size(1), K = idx.size(1);
  check_idx(idx, N, E);
  Tensor w = Tensor::empty({N, K});
  cpu::moe_route_weights_forward(p.data(), idx.data.data(), w.data(), N, E, K, normalize);
  if (tape.needs_grad({&p})) {
    tape.record({w}, [p, idx, w, N, E, K, normalize] {
      cpu::moe_route_weights_backward(p.data(), idx.data.data(), w.grad().data(),
                                      p.grad_accumulator(), N, E, K, normalize);
    });
  }
  return w;
}

Tensor moe_balance_loss(Tape& tape, const Tensor& w, const IndexTensor& idx, int64_t E, float c) {
  TINYR2_CHECK(w.dim() == 2, "moe_balance_loss: w must be (N,K), got {}", shape_str(w.shape()));
  const int64_t N = w.size(0), K = w.size(1);
  check_idx(idx, N, E);
  TINYR2_CHECK(idx.size(1) == K, "moe_balance_loss: idx {} vs w {}", shape_str(idx.shape), shape_str(w.shape()));
  Tensor loss = Tensor::scalar(cpu::moe_balance_loss_forward(w.data(), idx.data.data(), N, E, K, c));
  if (tape.needs_grad({&w})) {
    tape.record({loss}, [w, idx, loss, N, E, K, c] {
      cpu::moe_balance_loss_backward(w.data(), idx.data.data(), loss.grad().item(),
                                     w.grad_accumulator(), N, E, K, c);
    });
  }
  return loss;
}

}  // namespace tinyr2::ops
