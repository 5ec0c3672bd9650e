#include "autograd/ops_quant.h"

#include <algorithm>

#include "core/error.h"
#include "kernels/backend.h"

namespace tinyr2::ops {

namespace {

void check_quantized(const kernels::QuantizedMatrix& w, const char* op) {
  TINYR2_CHECK(w.data && (w.type == kernels::QuantType::Q8_0 || w.type == kernels::QuantType::Q4_0),
               "{}: the weight is not a Q8_0 / Q4_0 matrix", op);
}

}  // namespace

Tensor quant_linear(Tape& tape, const Tensor& x, const kernels::QuantizedMatrix& w,
                    kernels::QuantPath path) {
  (void)tape;  // inference only: nothing is recorded
  check_quantized(w, "quant_linear");
  TINYR2_CHECK(x.dim() >= 1 && x.size(-1) == w.cols, "quant_linear: input {} for a {} × {} weight",
               shape_str(x.shape()), w.rows, w.cols);
  const int64_t M = x.numel() / w.cols;
  Shape s(x.shape().begin(), x.shape().end() - 1);
  s.push_back(w.rows);
  Tensor y = Tensor::empty(s);
  kernels::backend(x.device())
      .quant_matmul(w.type, w.data, w.rows, w.cols, x.data(), M, y.data(), w.rows, path);
  return y;
}

std::vector<Tensor> quant_stacked_linear(Tape& tape, const Tensor& x,
                                         const std::vector<QuantStackedOutput>& outputs,
                                         std::shared_ptr<const RopeTable> rope,
                                         kernels::QuantPath path) {
  (void)tape;
  const kernels::Backend& kern = kernels::backend(x.device());
  TINYR2_CHECK(x.dim() >= 2 && !outputs.empty(),
               "quant_stacked_linear: input {} must be (..., T, C), with outputs",
               shape_str(x.shape()));
  const int64_t C = x.size(-1), T = x.size(-2), M = x.numel() / C;
  std::vector<kernels::ColumnBlock> blocks;
  int64_t N = 0;
  for (const QuantStackedOutput& o : outputs) {
    int64_t width = 0;
    for (const QuantRows& p : o.parts) {
      const int64_t rows = p.q ? p.q->rows : p.weight.size(0);
      const int64_t cols = p.q ? p.q->cols : p.weight.size(1);
      TINYR2_CHECK(cols == C && 0 <= p.begin && p.begin <= p.end && p.end <= rows,
                   "quant_stacked_linear: rows [{}, {}) of a {} × {} weight for input {}", p.begin,
                   p.end, rows, cols, shape_str(x.shape()));
      width += p.end - p.begin;
    }
    if (o.rope_heads > 0)
      TINYR2_CHECK(width % o.rope_heads == 0 && o.rope_dim % 2 == 0 &&
                       o.rope_dim <= width / o.rope_heads && rope && rope->T == T &&
                       rope->dim == o.rope_dim,
                   "quant_stacked_linear: RoPE on {} heads of width {} needs a table of {} "
                   "positions",
                   o.rope_heads, width, T);
    blocks.push_back({N, width, o.rope_heads, o.rope_heads > 0 ? o.rope_dim : 0});
    N += width;
  }
  Tensor y = Tensor::empty({M, N});
  int64_t col = 0;
  for (const QuantStackedOutput& o : outputs)
    for (const QuantRows& p : o.parts) {
      const int64_t n = p.end - p.begin;
      if (n == 0) continue;
      if (p.q) {
        check_quantized(*p.q, "quant_stacked_linear");
        kern.quant_matmul(p.q->type, p.q->row(p.begin), n, C, x.data(), M, y.data() + col, N, path);
      } else {
        kern.gemm(false, true, M, n, C, 1.f, x.data(), C, p.weight.data() + p.begin * C, C, 0.f,
                  y.data() + col, N);
      }
      col += n;
    }
  Shape lead(x.shape().begin(), x.shape().end() - 1);
  std::vector<Tensor> outs;
  for (const kernels::ColumnBlock& b : blocks) {
    Shape s = lead;
    s.push_back(b.width);
    outs.push_back(Tensor::empty(s));
    kern.copy_out_columns(y.data(), M, N, b, rope ? rope->cos.data() : nullptr,
                          rope ? rope->sin.data() : nullptr, T, outs.back().data());
  }
  return outs;
}

Tensor quant_embedding(const kernels::QuantizedMatrix& table, const IndexTensor& ids) {
  Shape s = ids.shape;
  s.push_back(table.cols);
  Tensor out = Tensor::empty(s);
  for (int64_t i = 0; i < ids.numel(); ++i) {
    const int32_t id = ids.data[static_cast<size_t>(i)];
    TINYR2_CHECK(id >= 0 && id < table.rows, "quant_embedding: id {} outside [0, {})", id,
                 table.rows);
    kernels::dequantize_row(table.type, table.row(id), out.data() + i * table.cols, table.cols);
  }
  return out;
}

Tensor quant_linear_cross_entropy(const Tensor& h, const kernels::QuantizedMatrix& w,
                                  const IndexTensor& targets, kernels::QuantPath path) {
  check_quantized(w, "quant_linear_cross_entropy");
  TINYR2_CHECK(h.dim() == 2 && h.size(1) == w.cols && targets.numel() == h.size(0),
               "quant_linear_cross_entropy: h {} and {} targets for a {} × {} head",
               shape_str(h.shape()), targets.numel(), w.rows, w.cols);
  for (int32_t t : targets.data)
    TINYR2_CHECK(t >= 0 && t < w.rows, "quant_linear_cross_entropy: target {} outside [0, {})", t,
                 w.rows);
  const kernels::Backend& kern = kernels::backend(h.device());
  const int64_t N = h.size(0), C = w.cols, V = w.rows;
  constexpr int64_t kChunk = 64;  // rows of logits held at once (64 × V floats)
  std::vector<float> logits(static_cast<size_t>(std::min(N, kChunk) * V)), lse(kChunk);
  double sum = 0;
  for (int64_t n0 = 0; n0 < N; n0 += kChunk) {
    const int64_t n = std::min(kChunk, N - n0);
    kern.quant_matmul(w.type, w.data, V, C, h.data() + n0 * C, n, logits.data(), V, path);
    sum +=
        kern.cross_entropy_forward(logits.data(), targets.data.data() + n0, lse.data(), n, V, -1);
  }
  return Tensor::scalar(static_cast<float>(sum / static_cast<double>(N)));
}

Tensor quant_moe_experts(const Tensor& x, const Tensor& g, const IndexTensor& idx,
                         const std::vector<const kernels::QuantizedMatrix*>& q_fc,
                         const std::vector<const kernels::QuantizedMatrix*>& q_proj,
                         const std::vector<Tensor>& w_fc, const std::vector<Tensor>& w_proj,
                         kernels::QuantPath path) {
  const kernels::Backend& kern = kernels::backend(x.device());
  TINYR2_CHECK(x.dim() == 2 && g.dim() == 2 && g.shape() == idx.shape && g.size(0) == x.size(0) &&
                   q_fc.size() == q_proj.size() && w_fc.size() == q_fc.size() &&
                   w_proj.size() == q_fc.size(),
               "quant_moe_experts: x {}, g {}, idx {}", shape_str(x.shape()), shape_str(g.shape()),
               shape_str(idx.shape));
  const int64_t N = x.size(0), C = x.size(1), K = g.size(1), E = static_cast<int64_t>(q_fc.size());
  // y (M, rows) = in (M, cols) · Wᵀ for a quantized or float32 expert matrix.
  auto product = [&kern, path](const kernels::QuantizedMatrix* q, const Tensor& w, int64_t M,
                               const float* in, float* y) {
    if (q) {
      check_quantized(*q, "quant_moe_experts");
      kern.quant_matmul(q->type, q->data, q->rows, q->cols, in, M, y, q->rows, path);
    } else {
      kern.gemm(false, true, M, w.size(0), w.size(1), 1.f, in, w.size(1), w.data(), w.size(1), 0.f,
                y, w.size(0));
    }
  };
  Tensor out = Tensor::zeros({N, C});
  std::vector<float> xin, hid, yout;
  std::vector<int64_t> slots;
  for (int64_t e = 0; e < E; ++e) {
    slots.clear();
    for (int64_t s = 0; s < N * K; ++s)
      if (idx.data[static_cast<size_t>(s)] == e) slots.push_back(s);
    if (slots.empty()) continue;
    const size_t ue = static_cast<size_t>(e);
    const Shape fc{q_fc[ue] ? q_fc[ue]->rows : w_fc[ue].size(0),
                   q_fc[ue] ? q_fc[ue]->cols : w_fc[ue].size(1)};
    const Shape proj{q_proj[ue] ? q_proj[ue]->rows : w_proj[ue].size(0),
                     q_proj[ue] ? q_proj[ue]->cols : w_proj[ue].size(1)};
    TINYR2_CHECK(fc[1] == C && proj[0] == C && proj[1] == fc[0],
                 "quant_moe_experts: expert {} is {} and {} for C = {}", e, shape_str(fc),
                 shape_str(proj), C);
    const int64_t M = static_cast<int64_t>(slots.size()), H = fc[0];
    xin.resize(static_cast<size_t>(M * C));
    hid.resize(static_cast<size_t>(M * H));
    yout.resize(static_cast<size_t>(M * C));
    for (int64_t m = 0; m < M; ++m)
      std::copy(x.data() + slots[m] / K * C, x.data() + (slots[m] / K + 1) * C, xin.data() + m * C);
    product(q_fc[ue], w_fc[ue], M, xin.data(), hid.data());
    for (float& v : hid) v = v > 0.f ? v * v : 0.f;  // relu²
    product(q_proj[ue], w_proj[ue], M, hid.data(), yout.data());
    for (int64_t m = 0; m < M; ++m) {
      const float gw = g.data()[slots[m]];
      float* o = out.data() + slots[m] / K * C;
      for (int64_t c = 0; c < C; ++c) o[c] += gw * yout[static_cast<size_t>(m * C + c)];
    }
  }
  return out;
}

}  // namespace tinyr2::ops
