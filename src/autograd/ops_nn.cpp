#include "autograd/ops_nn.h"

#include "core/error.h"
#include "kernels/backend.h"

namespace tinyr2::ops {

namespace {

// Every index in [0, n); the message names the op, the bad index and where it is.
void check_indices(const char* op, const IndexTensor& idx, int64_t n) {
  for (int64_t i = 0; i < idx.numel(); ++i) {
    const int32_t v = idx.data[i];
    TINYR2_CHECK(v >= 0 && v < n, "{}: index {} at position {} not in [0, {})", op, v, i, n);
  }
}

// The rows whose target counts (≠ ignore_index); every other target must be in [0, V).
int64_t count_targets(const char* op, const IndexTensor& targets, int64_t V, int ignore_index) {
  int64_t count = 0;
  for (int64_t n = 0; n < targets.numel(); ++n) {
    const int32_t t = targets.data[n];
    if (t == ignore_index) continue;
    TINYR2_CHECK(t >= 0 && t < V, "{}: target {} at row {} not in [0, {})", op, t, n, V);
    ++count;
  }
  return count;
}

float* grad_or_null(const Tensor& t) {
  return t.requires_grad() ? t.grad_accumulator() : nullptr;
}

}  // namespace

// ---------------------------------------------------------------- rmsnorm

Tensor rmsnorm(Tape& tape, const Tensor& x, const Tensor& w, float eps) {
  const kernels::Backend& kern = kernels::backend(x.device());
  TINYR2_CHECK(x.dim() >= 1 && w.dim() == 1 && w.size(0) == x.size(-1),
               "rmsnorm: input {} does not match weight {}", shape_str(x.shape()),
               shape_str(w.shape()));
  const int64_t C = x.size(-1), R = x.numel() / C;
  Tensor y = Tensor::empty(x.shape());
  Tensor rstd = Tensor::empty({R});
  kern.rmsnorm_forward(x.data(), w.data(), y.data(), rstd.data(), R, C, eps);
  if (tape.needs_grad({&x, &w})) {
    tape.record({y}, [&kern, x, w, y, rstd, R, C] {
      kern.rmsnorm_backward(x.data(), w.data(), rstd.data(), y.grad().data(), grad_or_null(x),
                            grad_or_null(w), R, C);
    });
  }
  return y;
}

// ---------------------------------------------------------------- softmax / log_softmax

Tensor softmax(Tape& tape, const Tensor& x) {
  const kernels::Backend& kern = kernels::backend(x.device());
  TINYR2_CHECK(x.dim() >= 1 && x.size(-1) > 0, "softmax of shape {}", shape_str(x.shape()));
  const int64_t C = x.size(-1), R = x.numel() / C;
  Tensor y = Tensor::empty(x.shape());
  kern.softmax_forward(x.data(), y.data(), R, C);
  if (tape.needs_grad({&x})) {
    tape.record({y}, [&kern, x, y, R, C] {
      kern.softmax_backward(y.data(), y.grad().data(), x.grad_accumulator(), R, C);
    });
  }
  return y;
}

Tensor log_softmax(Tape& tape, const Tensor& x) {
  const kernels::Backend& kern = kernels::backend(x.device());
  TINYR2_CHECK(x.dim() >= 1 && x.size(-1) > 0, "log_softmax of shape {}", shape_str(x.shape()));
  const int64_t C = x.size(-1), R = x.numel() / C;
  Tensor y = Tensor::empty(x.shape());
  kern.log_softmax_forward(x.data(), y.data(), R, C);
  if (tape.needs_grad({&x})) {
    tape.record({y}, [&kern, x, y, R, C] {
      kern.log_softmax_backward(y.data(), y.grad().data(), x.grad_accumulator(), R, C);
    });
  }
  return y;
}

// ---------------------------------------------------------------- cross_entropy

Tensor cross_entropy(Tape& tape, const Tensor& logits, const IndexTensor& targets,
                     int ignore_index) {
  const kernels::Backend& kern = kernels::backend(logits.device());
  TINYR2_CHECK(
      logits.dim() >= 2 && logits.size(-1) > 0 &&
          targets.shape == Shape(logits.shape().begin(), logits.shape().end() - 1),
      "cross_entropy: logits {} need targets of shape {}, got {}", shape_str(logits.shape()),
      shape_str(Shape(logits.shape().begin(), logits.shape().end() - 1)), shape_str(targets.shape));
  const int64_t V = logits.size(-1), N = logits.numel() / V;
  const int64_t count = count_targets("cross_entropy", targets, V, ignore_index);
  Tensor lse = Tensor::empty({N});
  const double sum = kern.cross_entropy_forward(logits.data(), targets.data.data(), lse.data(), N,
                                                V, ignore_index);
  Tensor loss = Tensor::scalar(count > 0 ? static_cast<float>(sum / count) : 0.f);
  if (count > 0 && tape.needs_grad({&logits})) {
    tape.record({loss}, [&kern, logits, targets, lse, loss, N, V, count, ignore_index] {
      const float scale = loss.grad().item() / static_cast<float>(count);
      kern.cross_entropy_backward(logits.data(), targets.data.data(), lse.data(), scale,
                                  logits.grad_accumulator(), N, V, ignore_index);
    });
  }
  return loss;
}

// ---------------------------------------------------------------- linear_cross_entropy

Tensor linear_cross_entropy(Tape& tape, const Tensor& x, const Tensor& w,
                            const IndexTensor& targets, int ignore_index) {
  const kernels::Backend& kern = kernels::backend(x.device());
  TINYR2_CHECK(w.dim() == 2 && x.dim() >= 2 && x.size(-1) == w.size(1) && w.size(0) > 0,
               "linear_cross_entropy: input {} does not match weight {} (V, C)",
               shape_str(x.shape()), shape_str(w.shape()));
  const Shape rows_shape(x.shape().begin(), x.shape().end() - 1);
  TINYR2_CHECK(targets.shape == rows_shape,
               "linear_cross_entropy: input {} needs targets of shape {}, got {}",
               shape_str(x.shape()), shape_str(rows_shape), shape_str(targets.shape));
  const int64_t V = w.size(0), C = w.size(1), N = x.numel() / C;
  const int64_t count = count_targets("linear_cross_entropy", targets, V, ignore_index);
  const bool grad = count > 0 && tape.needs_grad({&x, &w});
  // The gradients of the mean loss, made during the forward pass (the logits are gone by the
  // time backward runs); backward scales them by the upstream gradient.
  Tensor dx = grad && x.requires_grad() ? Tensor::empty(x.shape()) : Tensor();
  Tensor dw = grad && w.requires_grad() ? Tensor::empty(w.shape()) : Tensor();
  const float scale = count > 0 ? 1.f / static_cast<float>(count) : 0.f;
  // The three products in the tape's precision (SPEC §13); the loss and G stay fp32.
  const MatmulPrecision precision = tape.matmul_precision();
  float* dxp = dx.defined() ? dx.data() : nullptr;
  float* dwp = dw.defined() ? dw.data() : nullptr;
  const double sum =
      precision.bf16
          ? kern.linear_cross_entropy_bf16(precision.native, x.data(), w.data(),
                                           targets.data.data(), N, C, V, ignore_index, scale,
                                           /*lse=*/nullptr, dxp, dwp, /*chunk_rows=*/0)
          : kern.linear_cross_entropy(x.data(), w.data(), targets.data.data(), N, C, V,
                                      ignore_index, scale, /*lse=*/nullptr, dxp, dwp,
                                      /*chunk_rows=*/0);
  Tensor loss = Tensor::scalar(count > 0 ? static_cast<float>(sum / count) : 0.f);
  if (grad) {
    tape.record({loss}, [&kern, x, w, dx, dw, loss] {
      const float g = loss.grad().item();
      // An input without a gradient yet takes the buffer itself when g = 1 (the usual seed).
      auto give = [&kern, g](const Tensor& in, const Tensor& d) {
        if (!d.defined()) return;
        if (g == 1.f && !in.grad().defined())
          in.mutable_grad() = d;
        else
          kern.axpy(d.numel(), g, d.data(), in.grad_accumulator());
      };
      give(x, dx);
      give(w, dw);
    });
  }
  return loss;
}

// ---------------------------------------------------------------- rope

Tensor rope(Tape& tape, const Tensor& x, const std::vector<int32_t>& positions, float theta) {
  const kernels::Backend& kern = kernels::backend(x.device());
  TINYR2_CHECK((x.dim() == 3 || x.dim() == 4) && x.size(-1) % 2 == 0,
               "rope: x must be (B,T,H,D) or (B,T,D) with D even, got {}", shape_str(x.shape()));
  const int64_t B = x.size(0), T = x.size(1), H = x.dim() == 4 ? x.size(2) : 1, D = x.size(-1);
  TINYR2_CHECK(static_cast<int64_t>(positions.size()) == T, "rope: {} positions for x {} (T = {})",
               positions.size(), shape_str(x.shape()), T);
  Tensor cos_tab = Tensor::empty({T, D / 2}), sin_tab = Tensor::empty({T, D / 2});
  kern.rope_table(positions.data(), T, D, theta, cos_tab.data(), sin_tab.data());
  Tensor y = Tensor::empty(x.shape());
  kern.rope_forward(x.data(), cos_tab.data(), sin_tab.data(), y.data(), B, T, H, D);
  if (tape.needs_grad({&x})) {
    tape.record({y}, [&kern, x, y, cos_tab, sin_tab, B, T, H, D] {
      kern.rope_backward(y.grad().data(), cos_tab.data(), sin_tab.data(), x.grad_accumulator(), B,
                         T, H, D);
    });
  }
  return y;
}

// ---------------------------------------------------------------- embedding / gather / scatter

Tensor embedding(Tape& tape, const Tensor& weight, const IndexTensor& ids) {
  const kernels::Backend& kern = kernels::backend(weight.device());
  TINYR2_CHECK(weight.dim() == 2, "embedding: weight must be (V, C), got {}",
               shape_str(weight.shape()));
  const int64_t V = weight.size(0), C = weight.size(1), M = ids.numel();
  check_indices("embedding", ids, V);
  Shape out_shape = ids.shape;
  out_shape.push_back(C);
  Tensor out = Tensor::empty(out_shape);
  kern.gather_rows(weight.data(), ids.data.data(), out.data(), M, C, false);
  if (tape.needs_grad({&weight})) {
    tape.record({out}, [&kern, weight, ids, out, M, V, C] {
      kern.scatter_add_rows(out.grad().data(), ids.data.data(), weight.grad_accumulator(), M, V, C);
    });
  }
  return out;
}

Tensor gather_rows(Tape& tape, const Tensor& x, const IndexTensor& idx) {
  const kernels::Backend& kern = kernels::backend(x.device());
  TINYR2_CHECK(x.dim() == 2 && idx.shape.size() == 1,
               "gather_rows: x must be (N, C) and idx (M), got {} and {}", shape_str(x.shape()),
               shape_str(idx.shape));
  const int64_t N = x.size(0), C = x.size(1), M = idx.numel();
  check_indices("gather_rows", idx, N);
  Tensor out = Tensor::empty({M, C});
  kern.gather_rows(x.data(), idx.data.data(), out.data(), M, C, false);
  if (tape.needs_grad({&x})) {
    tape.record({out}, [&kern, x, idx, out, M, N, C] {
      kern.scatter_add_rows(out.grad().data(), idx.data.data(), x.grad_accumulator(), M, N, C);
    });
  }
  return out;
}

Tensor scatter_add_rows(Tape& tape, const Tensor& src, const IndexTensor& idx, int64_t num_rows) {
  const kernels::Backend& kern = kernels::backend(src.device());
  TINYR2_CHECK(
      src.dim() == 2 && idx.shape.size() == 1 && idx.shape[0] == src.size(0) && num_rows >= 0,
      "scatter_add_rows: src must be (M, C) and idx (M), got {} and {} ({} rows)",
      shape_str(src.shape()), shape_str(idx.shape), num_rows);
  const int64_t M = src.size(0), C = src.size(1);
  check_indices("scatter_add_rows", idx, num_rows);
  Tensor out = Tensor::zeros({num_rows, C});
  kern.scatter_add_rows(src.data(), idx.data.data(), out.data(), M, num_rows, C);
  if (tape.needs_grad({&src})) {
    tape.record({out}, [&kern, src, idx, out, M, C] {
      kern.gather_rows(out.grad().data(), idx.data.data(), src.grad_accumulator(), M, C, true);
    });
  }
  return out;
}

// ---------------------------------------------------------------- topk

std::pair<Tensor, IndexTensor> topk(Tape& /*tape: records nothing*/, const Tensor& x, int64_t k) {
  const kernels::Backend& kern = kernels::backend(x.device());
  TINYR2_CHECK(x.dim() >= 1 && k >= 0 && k <= x.size(-1), "topk: k = {} for x {}", k,
               shape_str(x.shape()));
  const int64_t n = x.size(-1), R = n > 0 ? x.numel() / n : 0;
  Shape out_shape = x.shape();
  out_shape.back() = k;
  Tensor values = Tensor::empty(out_shape);
  IndexTensor indices(out_shape, std::vector<int32_t>(static_cast<size_t>(R * k)));
  kern.topk_forward(x.data(), values.data(), indices.data.data(), R, n, k);
  return {values, indices};
}

}  // namespace tinyr2::ops
