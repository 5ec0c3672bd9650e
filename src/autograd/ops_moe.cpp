#include "autograd/ops_moe.h"

#include <memory>

#include "core/error.h"
#include "kernels/backend.h"

namespace tinyr2::ops {

namespace {
// allow_none: −1 (a slot that routes nowhere, SPEC §11) is allowed.
void check_idx(const IndexTensor& idx, int64_t N, int64_t E, bool allow_none = false) {
  TINYR2_CHECK(idx.shape.size() == 2 && idx.shape[0] == N, "moe: idx {} for {} tokens",
               shape_str(idx.shape), N);
  for (int32_t e : idx.data)
    TINYR2_CHECK((e >= 0 && e < E) || (allow_none && e == -1), "moe: expert index {} not in [0,{})",
                 e, E);
}
}  // namespace

Tensor moe_route_weights(Tape& tape, const Tensor& p, const IndexTensor& idx, bool normalize) {
  const kernels::Backend& kern = kernels::backend(p.device());
  TINYR2_CHECK(p.dim() == 2, "moe_route_weights: p must be (N,E), got {}", shape_str(p.shape()));
  const int64_t N = p.size(0), E = p.size(1), K = idx.size(1);
  check_idx(idx, N, E, !normalize);
  Tensor w = Tensor::empty({N, K});
  kern.moe_route_weights_forward(p.data(), idx.data.data(), w.data(), N, E, K, normalize);
  if (tape.needs_grad({&p})) {
    tape.record({w}, [&kern, p, idx, w, N, E, K, normalize] {
      kern.moe_route_weights_backward(p.data(), idx.data.data(), w.grad().data(),
                                      p.grad_accumulator(), N, E, K, normalize);
    });
  }
  return w;
}

Tensor moe_balance_loss(Tape& tape, const Tensor& w, const IndexTensor& idx, int64_t E, float c) {
  const kernels::Backend& kern = kernels::backend(w.device());
  TINYR2_CHECK(w.dim() == 2, "moe_balance_loss: w must be (N,K), got {}", shape_str(w.shape()));
  const int64_t N = w.size(0), K = w.size(1);
  check_idx(idx, N, E);
  TINYR2_CHECK(idx.size(1) == K, "moe_balance_loss: idx {} vs w {}", shape_str(idx.shape),
               shape_str(w.shape()));
  Tensor loss =
      Tensor::scalar(kern.moe_balance_loss_forward(w.data(), idx.data.data(), N, E, K, c));
  if (tape.needs_grad({&w})) {
    tape.record({loss}, [&kern, w, idx, loss, N, E, K, c] {
      kern.moe_balance_loss_backward(w.data(), idx.data.data(), loss.grad().item(),
                                     w.grad_accumulator(), N, E, K, c);
    });
  }
  return loss;
}

Tensor moe_experts(Tape& tape, const Tensor& x, const Tensor& g, const IndexTensor& idx,
                   const std::vector<Tensor>& w_fc, const std::vector<Tensor>& w_proj,
                   const Tensor& mask, const std::vector<Tensor>& w_up,
                   kernels::GluActivation act) {
  const kernels::Backend& kern = kernels::backend(x.device());
  TINYR2_CHECK(x.dim() == 2 && g.dim() == 2 && g.size(0) == x.size(0),
               "moe_experts: x {} must be (N,C) and g {} (N,K)", shape_str(x.shape()),
               shape_str(g.shape()));
  const int64_t N = x.size(0), C = x.size(1), K = g.size(1), E = static_cast<int64_t>(w_fc.size());
  TINYR2_CHECK(idx.shape == g.shape(), "moe_experts: idx {} vs g {}", shape_str(idx.shape),
               shape_str(g.shape()));
  TINYR2_CHECK(E > 0 && w_proj.size() == w_fc.size(), "moe_experts: {} W_fc for {} W_proj",
               w_fc.size(), w_proj.size());
  const bool glu = !w_up.empty();
  TINYR2_CHECK(!glu || w_up.size() == w_fc.size(), "moe_experts: {} W_up for {} W_fc", w_up.size(),
               w_fc.size());
  check_idx(idx, N, E, true);
  const int64_t H = w_fc[0].size(0);
  for (int64_t e = 0; e < E; ++e) {
    TINYR2_CHECK(w_fc[e].shape() == Shape({H, C}) && w_proj[e].shape() == Shape({C, H}),
                 "moe_experts: expert {} has W_fc {} and W_proj {}, expected ({}, {}) and ({}, {})",
                 e, shape_str(w_fc[e].shape()), shape_str(w_proj[e].shape()), H, C, C, H);
    TINYR2_CHECK(!glu || w_up[e].shape() == Shape({H, C}), "moe_experts: expert {} has W_up {}", e,
                 shape_str(w_up[e].shape()));
  }

  auto d =
      std::make_shared<const kernels::MoeDispatch>(kern.moe_dispatch(idx.data.data(), N, K, E));
  const int64_t M = d->rows();
  TINYR2_CHECK(!mask.defined() || mask.shape() == Shape({M, C}),
               "moe_experts: mask {} for {} rows of {}",
               shape_str(mask.defined() ? mask.shape() : Shape{}), M, C);
  kernels::MoeExpertWeights w;
  w.act = act;
  // The products in the tape's precision (SPEC §13), forward and backward (w is captured).
  w.bf16 = tape.matmul_precision().bf16;
  w.bf16_native = tape.matmul_precision().native;
  w.w_fc.assign(static_cast<size_t>(E), nullptr);
  w.w_proj.assign(static_cast<size_t>(E), nullptr);
  if (glu) w.w_up.assign(static_cast<size_t>(E), nullptr);
  for (int64_t e = 0; e < E; ++e)
    if (d->rows_of(e) > 0) {
      w.w_fc[e] = w_fc[e].data();
      w.w_proj[e] = w_proj[e].data();
      if (glu) w.w_up[e] = w_up[e].data();
    }
  Tensor xg = Tensor::empty({M, C}), z = Tensor::empty({glu ? 2 * M : M, H}),
         y = Tensor::empty({M, C});
  Tensor out = Tensor::empty({N, C});
  kern.moe_experts_forward(*d, x.data(), g.data(), mask.defined() ? mask.data() : nullptr, w, C, H,
                           xg.data(), z.data(), y.data(), out.data());

  std::vector<Tensor> inputs = {x, g};
  for (int64_t e = 0; e < E; ++e)
    if (d->rows_of(e) > 0) {
      inputs.push_back(w_fc[e]);
      inputs.push_back(w_proj[e]);
      if (glu) inputs.push_back(w_up[e]);
    }
  if (tape.needs_grad(inputs)) {
    tape.record({out}, [&kern, x, g, mask, w_fc, w_up, w_proj, d, xg, z, y, out, w, C, H, E, glu] {
      kernels::MoeExpertGrads dw;
      const size_t n = static_cast<size_t>(E);
      dw.dw_fc.assign(n, nullptr);
      dw.dw_proj.assign(n, nullptr);
      dw.dw_up.assign(glu ? n : 0, nullptr);
      // A new gradient is written whole by the kernel (beta 0): no zero fill.
      dw.beta_fc.assign(n, 1.f);
      dw.beta_proj.assign(n, 1.f);
      dw.beta_up.assign(n, 1.f);
      for (int64_t e = 0; e < E; ++e)
        if (d->rows_of(e) > 0) {
          if (w_fc[e].requires_grad()) dw.dw_fc[e] = w_fc[e].grad_accumulator(dw.beta_fc[e]);
          if (w_proj[e].requires_grad())
            dw.dw_proj[e] = w_proj[e].grad_accumulator(dw.beta_proj[e]);
          if (glu && w_up[e].requires_grad()) dw.dw_up[e] = w_up[e].grad_accumulator(dw.beta_up[e]);
        }
      kern.moe_experts_backward(
          *d, out.grad().data(), g.data(), mask.defined() ? mask.data() : nullptr, w, C, H,
          xg.data(), z.data(), y.data(), x.requires_grad() ? x.grad_accumulator() : nullptr,
          g.requires_grad() ? g.grad_accumulator() : nullptr, dw);
    });
  }
  return out;
}

}  // namespace tinyr2::ops
