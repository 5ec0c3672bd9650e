#include "autograd/ops_nsa.h"

#include <algorithm>

#include "core/error.h"
#include "kernels/backend.h"

namespace tinyr2::ops {

namespace {

float* grad_or_null(const Tensor& t) {
  return t.requires_grad() ? t.grad_accumulator() : nullptr;
}

// C = op(A)·op(B) + beta·C in the tape's precision (SPEC §13: fp32, or bf16 operands with
// fp32 accumulation), as a callable the backward closures can keep.
auto product_in(const kernels::Backend& kern, MatmulPrecision precision) {
  return [&kern, precision](bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* A,
                            int64_t lda, const float* B, int64_t ldb, float beta, float* Cp,
                            int64_t ldc) {
    if (precision.bf16)
      kern.gemm_bf16(precision.native, ta, tb, m, n, k, 1.f, A, lda, B, ldb, beta, Cp, ldc);
    else
      kern.gemm(ta, tb, m, n, k, 1.f, A, lda, B, ldb, beta, Cp, ldc);
  };
}

}  // namespace

Tensor block_attention(Tape& tape, const Tensor& q, const Tensor& k, const Tensor& v,
                       const IndexTensor& blocks, int64_t block_size, float scale,
                       int64_t q_offset) {
  const kernels::Backend& kern = kernels::backend(q.device());
  TINYR2_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4,
               "block_attention: q {}, k {}, v {} must be (B,T,H,D)", shape_str(q.shape()),
               shape_str(k.shape()), shape_str(v.shape()));
  const int64_t B = q.size(0), Tq = q.size(1), Tk = k.size(1), H = q.size(2), Dk = q.size(3),
                Dv = v.size(3);
  TINYR2_CHECK(
      k.size(0) == B && v.size(0) == B && k.size(2) == H && v.size(2) == H && k.size(3) == Dk &&
          v.size(1) == Tk,
      "block_attention: q {}, k {}, v {} do not match as (B,Tq,H,Dk), (B,Tk,H,Dk), (B,Tk,H,Dv)",
      shape_str(q.shape()), shape_str(k.shape()), shape_str(v.shape()));
  TINYR2_CHECK(blocks.shape.size() == 3 && blocks.shape[0] == B && blocks.shape[1] == Tq,
               "block_attention: blocks {} must be (B,Tq,n) for q {}", shape_str(blocks.shape),
               shape_str(q.shape()));
  TINYR2_CHECK(block_size > 0 && q_offset >= 0,
               "block_attention: block_size {} must be > 0, q_offset {} >= 0", block_size,
               q_offset);
  const int64_t n = blocks.shape[2];
  for (int64_t i = 0; i < blocks.numel(); ++i)
    TINYR2_CHECK(
        blocks.data[i] >= -1 && blocks.data[i] * block_size < Tk,
        "block_attention: blocks[{}] = {} is neither -1 (padding) nor a block of the {} keys", i,
        blocks.data[i], Tk);
  Tensor out = Tensor::empty({B, Tq, H, Dv});
  const bool grad = tape.needs_grad({&q, &k, &v});
  Tensor lse = grad ? Tensor::empty({B, Tq, H}) : Tensor();
  kern.block_attention_forward(q.data(), k.data(), v.data(), blocks.data.data(), out.data(),
                               grad ? lse.data() : nullptr, B, Tq, Tk, H, Dk, Dv, n, block_size,
                               q_offset, scale);
  if (grad) {
    tape.record({out}, [&kern, q, k, v, blocks, out, lse, B, Tq, Tk, H, Dk, Dv, n, block_size,
                        q_offset, scale] {
      kern.block_attention_backward(q.data(), k.data(), v.data(), blocks.data.data(), out.data(),
                                    lse.data(), out.grad().data(), grad_or_null(q), grad_or_null(k),
                                    grad_or_null(v), B, Tq, Tk, H, Dk, Dv, n, block_size, q_offset,
                                    scale);
    });
  }
  return out;
}

Tensor window_attention(Tape& tape, const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                        int64_t window) {
  const kernels::Backend& kern = kernels::backend(q.device());
  TINYR2_CHECK(q.dim() == 4 && k.shape() == q.shape() && v.dim() == 4 && v.size(0) == q.size(0) &&
                   v.size(1) == q.size(1) && v.size(2) == q.size(2),
               "window_attention: q {}, k {}, v {} must be (B,T,H,Dk), (B,T,H,Dk), (B,T,H,Dv)",
               shape_str(q.shape()), shape_str(k.shape()), shape_str(v.shape()));
  TINYR2_CHECK(window >= 1, "window_attention: window {} must be >= 1", window);
  const int64_t B = q.size(0), T = q.size(1), H = q.size(2), Dk = q.size(3), Dv = v.size(3);
  Tensor out = Tensor::empty({B, T, H, Dv});
  const bool grad = tape.needs_grad({&q, &k, &v});
  Tensor lse = grad ? Tensor::empty({B, T, H}) : Tensor();
  // The forward's scores, kept for the backward while they take at most kMaxSavedScores
  // floats (16 MiB: 1.2 MiB per Sparse layer at B = 1, T = 512, the default widths); longer
  // inputs recompute them. Either way the same bits.
  constexpr int64_t kMaxSavedScores = int64_t{1} << 22;
  const int64_t L = kernels::nsa_window_score_columns(window, T);
  Tensor scores = grad && B * T * H * L <= kMaxSavedScores ? Tensor::empty({B, T, H, L}) : Tensor();
  kern.window_attention_forward(
      q.data(), k.data(), v.data(), out.data(), grad ? lse.data() : nullptr,
      scores.defined() ? scores.data() : nullptr, B, T, H, Dk, Dv, window, scale);
  if (grad) {
    tape.record({out}, [&kern, q, k, v, out, lse, scores, B, T, H, Dk, Dv, window, scale] {
      kern.window_attention_backward(q.data(), k.data(), v.data(), out.data(), lse.data(),
                                     scores.defined() ? scores.data() : nullptr, out.grad().data(),
                                     grad_or_null(q), grad_or_null(k), grad_or_null(v), B, T, H, Dk,
                                     Dv, window, scale);
    });
  }
  return out;
}

Tensor compressed_attention(Tape& tape, const Tensor& q, const Tensor& k, const Tensor& v,
                            float scale, const NsaSelectParams& p, int64_t q_pos0, bool with_output,
                            IndexTensor* blocks) {
  const kernels::Backend& kern = kernels::backend(q.device());
  TINYR2_CHECK(q.dim() == 4, "compressed_attention: q {} must be (B,T,H,Dk)", shape_str(q.shape()));
  const int64_t B = q.size(0), T = q.size(1), H = q.size(2), Dk = q.size(3);
  const int64_t nb = k.defined() ? k.size(1) : 0;
  TINYR2_CHECK(k.defined() == v.defined(),
               "compressed_attention: k and v must both be given or both not");
  if (k.defined())
    TINYR2_CHECK(k.dim() == 4 && v.dim() == 4 && k.size(0) == B && v.size(0) == B &&
                     k.size(2) == H && v.size(2) == H && k.size(3) == Dk && v.size(1) == nb,
                 "compressed_attention: q {}, k {}, v {} do not match as (B,T,H,Dk), (B,nb,H,Dk), "
                 "(B,nb,H,Dv)",
                 shape_str(q.shape()), shape_str(k.shape()), shape_str(v.shape()));
  TINYR2_CHECK(q_pos0 >= 0 && p.block_size > 0 && p.block_stride > 0 && p.select_block_size > 0,
               "compressed_attention: bad geometry (q_pos0 {}, l {}, d {}, l' {})", q_pos0,
               p.block_size, p.block_stride, p.select_block_size);
  const int64_t Dv = v.defined() ? v.size(3) : 0;
  if (blocks)
    *blocks = IndexTensor({B, T, p.num_blocks},
                          std::vector<int32_t>(static_cast<size_t>(B * T * p.num_blocks)));
  Tensor out = with_output ? Tensor::empty({B, T, H, Dv}) : Tensor();
  Tensor lse = Tensor::empty({B, T, H});
  kern.nsa_compression_forward(q.data(), nb > 0 ? k.data() : nullptr, nb > 0 ? v.data() : nullptr,
                               with_output ? out.data() : nullptr, lse.data(),
                               blocks ? blocks->data.data() : nullptr, B, T, nb, H, Dk, Dv, scale,
                               p, q_pos0);
  if (with_output && nb > 0 && tape.needs_grad({&q, &k, &v})) {
    tape.record({out}, [&kern, q, k, v, out, lse, B, T, nb, H, Dk, Dv, scale, p, q_pos0] {
      kern.nsa_compression_backward(q.data(), k.data(), v.data(), out.data(), lse.data(),
                                    out.grad().data(), grad_or_null(q), grad_or_null(k),
                                    grad_or_null(v), B, T, nb, H, Dk, Dv, scale, p, q_pos0);
    });
  }
  return out;
}

std::shared_ptr<const RopeTable> make_rope_table(const std::vector<int32_t>& positions, int64_t dim,
                                                 float theta) {
  TINYR2_CHECK(dim > 0 && dim % 2 == 0, "RoPE over {} entries: must be even and > 0", dim);
  auto table = std::make_shared<RopeTable>();
  table->T = static_cast<int64_t>(positions.size());
  table->dim = dim;
  table->cos.resize(static_cast<size_t>(table->T * dim / 2));
  table->sin.resize(table->cos.size());
  // The table is host memory (std::vector): the CPU backend fills it.
  kernels::backend(Device::CPU)
      .rope_table(positions.data(), table->T, dim, theta, table->cos.data(), table->sin.data());
  return table;
}

std::vector<Tensor> stacked_linear(Tape& tape, const Tensor& x,
                                   const std::vector<StackedOutput>& outputs,
                                   std::shared_ptr<const RopeTable> rope) {
  const kernels::Backend& kern = kernels::backend(x.device());
  TINYR2_CHECK(x.dim() >= 2 && !outputs.empty(),
               "stacked_linear: input {} must be (..., T, C), with outputs", shape_str(x.shape()));
  const int64_t C = x.size(-1), T = x.size(-2), M = x.numel() / C;
  // The stacked weight: every output's rows, in order; output o is the column block blocks[o].
  std::vector<kernels::ColumnBlock> blocks;
  int64_t N = 0;
  for (const StackedOutput& o : outputs) {
    int64_t width = 0;
    for (const WeightRows& p : o.parts) {
      TINYR2_CHECK(p.weight.dim() == 2 && p.weight.size(1) == C && 0 <= p.begin &&
                       p.begin <= p.end && p.end <= p.weight.size(0),
                   "stacked_linear: rows [{}, {}) of weight {} for input {}", p.begin, p.end,
                   shape_str(p.weight.shape()), shape_str(x.shape()));
      width += p.end - p.begin;
    }
    if (o.rope_heads > 0) {
      TINYR2_CHECK(width % o.rope_heads == 0 && o.rope_dim % 2 == 0 &&
                       o.rope_dim <= width / o.rope_heads && rope && rope->T == T &&
                       rope->dim == o.rope_dim,
                   "stacked_linear: RoPE on the last {} of {} heads of width {} needs a table of "
                   "{} positions",
                   o.rope_dim, o.rope_heads, width, T);
    }
    blocks.push_back({N, width, o.rope_heads, o.rope_heads > 0 ? o.rope_dim : 0});
    N += width;
  }
  std::vector<Tensor> inputs = {x};
  for (const StackedOutput& o : outputs)
    for (const WeightRows& p : o.parts) inputs.push_back(p.weight);
  const bool needs_grad = tape.needs_grad(inputs);
  // One row without gradients (a decode step): every part's product reads its weight in
  // place, without the stacked copy; a one-row product is a GEMV whose every element is the
  // same dot product either way (kernels/cpu/gemv.h), so the outputs are the same bits.
  const bool per_part = M == 1 && !needs_grad;
  Tensor w_cat;
  if (!per_part) {
    w_cat = Tensor::empty({N, C});
    int64_t row = 0;
    for (const StackedOutput& o : outputs)
      for (const WeightRows& p : o.parts) {
        std::copy(p.weight.data() + p.begin * C, p.weight.data() + p.end * C,
                  w_cat.data() + row * C);
        row += p.end - p.begin;
      }
  }

  Shape lead(x.shape().begin(), x.shape().end() - 1);
  std::vector<Tensor> outs;
  for (const kernels::ColumnBlock& b : blocks) {
    Shape s = lead;
    s.push_back(b.width);
    outs.push_back(Tensor::empty(s));
  }
  const float* cos_tab = rope ? rope->cos.data() : nullptr;
  const float* sin_tab = rope ? rope->sin.data() : nullptr;
  const auto product = product_in(kern, tape.matmul_precision());
  // y = x · W_catᵀ (M, N), or the parts' products side by side in it.
  const auto stacked_product = [&](float* y) {
    if (!per_part) {
      product(false, true, M, N, C, x.data(), C, w_cat.data(), C, 0.f, y, N);
      return;
    }
    int64_t col = 0;
    for (const StackedOutput& o : outputs)
      for (const WeightRows& p : o.parts) {
        product(false, true, M, p.end - p.begin, C, x.data(), C, p.weight.data() + p.begin * C, C,
                0.f, y + col, N);
        col += p.end - p.begin;
      }
  };
  const bool direct = outputs.size() == 1 && blocks[0].rope_dim == 0;  // no copy needed
  if (direct) {
    stacked_product(outs[0].data());
  } else {
    Tensor y = Tensor::empty({M, N});
    stacked_product(y.data());
    for (size_t o = 0; o < blocks.size(); ++o)
      kern.copy_out_columns(y.data(), M, N, blocks[o], cos_tab, sin_tab, T, outs[o].data());
  }

  if (needs_grad) {
    tape.record(outs, [&kern, product, x, w_cat, outs, outputs, blocks, rope, M, N, C, T, direct] {
      // dY (M, N): every output's gradient rotated back into its block (0 if it got none).
      Tensor dy;
      if (direct && outs[0].grad().defined()) {
        dy = outs[0].grad();
      } else {
        dy = Tensor::empty({M, N});
        for (size_t o = 0; o < blocks.size(); ++o) {
          const Tensor& g = outs[o].grad();
          if (g.defined()) {
            kern.copy_in_columns(g.data(), M, N, blocks[o], rope ? rope->cos.data() : nullptr,
                                 rope ? rope->sin.data() : nullptr, T, dy.data());
          } else {
            for (int64_t m = 0; m < M; ++m)
              std::fill(dy.data() + m * N + blocks[o].col,
                        dy.data() + m * N + blocks[o].col + blocks[o].width, 0.f);
          }
        }
      }
      if (x.requires_grad()) {  // dx += dY · W
        float beta = 1.f;
        float* gx = x.grad_accumulator(beta);
        product(false, false, M, C, N, dy.data(), N, w_cat.data(), C, beta, gx, C);
      }
      bool any_weight = false;
      for (const StackedOutput& o : outputs)
        for (const WeightRows& p : o.parts) any_weight = any_weight || p.weight.requires_grad();
      if (!any_weight) return;
      Tensor dw = Tensor::empty({N, C});  // dW = dYᵀ · X, then back into each weight's rows
      product(true, false, N, C, M, dy.data(), N, x.data(), C, 0.f, dw.data(), C);
      int64_t r = 0;
      for (const StackedOutput& o : outputs)
        for (const WeightRows& p : o.parts) {
          if (p.weight.requires_grad()) {
            const float* s = dw.data() + r * C;
            const int64_t n = (p.end - p.begin) * C;
            float beta = 1.f;  // 0: a new gradient this part covers whole, so copy it in
            float* g = n == p.weight.numel() ? p.weight.grad_accumulator(beta)
                                             : p.weight.grad_accumulator() + p.begin * C;
            if (beta == 0.f)
              std::copy(s, s + n, g);
            else
              kern.axpy(n, 1.f, s, g);
          }
          r += p.end - p.begin;
        }
    });
  }
  return outs;
}

Tensor gated_sum(Tape& tape, const std::vector<Tensor>& outs, const Tensor& gates) {
  const kernels::Backend& kern = kernels::backend(gates.device());
  TINYR2_CHECK(!outs.empty() && outs[0].dim() == 4, "gated_sum: branch outputs must be (B,T,H,Dv)");
  const int64_t B = outs[0].size(0), T = outs[0].size(1), H = outs[0].size(2), Dv = outs[0].size(3);
  const int64_t n = static_cast<int64_t>(outs.size());
  for (const Tensor& o : outs)
    TINYR2_CHECK(o.shape() == outs[0].shape(), "gated_sum: branch outputs {} and {} differ",
                 shape_str(o.shape()), shape_str(outs[0].shape()));
  TINYR2_CHECK(gates.dim() == 4 && gates.size(0) == B && gates.size(1) == T &&
                   (gates.size(2) == 1 || gates.size(2) == H) && gates.size(3) == n,
               "gated_sum: gates {} must be (B,T,1|H,{}) for outputs {}", shape_str(gates.shape()),
               n, shape_str(outs[0].shape()));
  const int64_t G = gates.size(2), M = B * T;
  std::vector<const float*> ptrs;
  for (const Tensor& o : outs) ptrs.push_back(o.data());
  Tensor y = Tensor::empty({B, T, H, Dv});
  kern.gated_sum_forward(ptrs.data(), gates.data(), y.data(), M, H, Dv, G, n);
  std::vector<Tensor> inputs = outs;
  inputs.push_back(gates);
  if (tape.needs_grad(inputs)) {
    tape.record({y}, [&kern, outs, gates, y, M, H, Dv, G, n] {
      std::vector<const float*> o;
      std::vector<float*> d;
      for (const Tensor& t : outs) {
        o.push_back(t.data());
        d.push_back(grad_or_null(t));
      }
      kern.gated_sum_backward(o.data(), gates.data(), y.grad().data(), d.data(),
                              grad_or_null(gates), M, H, Dv, G, n);
    });
  }
  return y;
}

}  // namespace tinyr2::ops
