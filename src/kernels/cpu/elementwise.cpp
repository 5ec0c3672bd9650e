#include "kernels/cpu/elementwise.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/fast_math.h"
#include "kernels/cpu/reduce.h"

namespace tinyr2::kernels::cpu {

namespace {

constexpr int64_t kParallelWork = 32768;  // elements below which a loop stays serial
constexpr int64_t kChunk = 8192;          // elements per task when one row is the whole tensor
constexpr int64_t kBlock = 128;           // columns per task of a column reduction
constexpr int64_t kTile = 32;             // tile edge of a transposing copy

// ---------------------------------------------------------------- broadcast loop driver

// f(o[j], a[j·sa], b[j·sb]) for j < n; the inner strides sa, sb are 0 or 1.
template <class F>
inline void broadcast_row(F f, float* o, const float* a, int64_t sa, const float* b, int64_t sb,
                          int64_t n) {
  if (sa && sb) {
    for (int64_t j = 0; j < n; ++j) f(o[j], a[j], b[j]);
  } else if (sa) {
    const float bv = b[0];
    for (int64_t j = 0; j < n; ++j) f(o[j], a[j], bv);
  } else if (sb) {
    const float av = a[0];
    for (int64_t j = 0; j < n; ++j) f(o[j], av, b[j]);
  } else {
    const float av = a[0], bv = b[0];
    for (int64_t j = 0; j < n; ++j) f(o[j], av, bv);
  }
}

// f(out[i], a[ia(i)], b[ib(i)]) for every output element i of the plan, row by row (a row is
// the last merged dim). The fast paths fall out of the merged plan: same-shape operands are
// one row, cut into chunks for the threads; a row vector (B,T,C)+(C) or a per-row scalar
// (B,T,C)·(B,T,1) is a 2-d plan, one div per row and a contiguous vectorised inner loop.
// Anything else, e.g. (4,1,3)+(1,5,1), is the same loop with more dims to decompose.
template <class F>
void for_each_broadcast(const BroadcastPlan& p, const float* a, const float* b, float* out, F f) {
  if (p.numel == 0) return;
  const size_t nd = p.size.size();
  if (nd == 0) {  // a one-element output
    f(out[0], a[0], b[0]);
    return;
  }
  const int64_t inner = p.size[nd - 1];
  const int64_t sa = p.a_stride[nd - 1], sb = p.b_stride[nd - 1];
  const int64_t rows = p.numel / inner;
  const bool par = p.numel > kParallelWork;
  if (rows == 1) {
#pragma omp parallel for schedule(static) if (par)
    for (int64_t c0 = 0; c0 < inner; c0 += kChunk)
      broadcast_row(f, out + c0, a + c0 * sa, sa, b + c0 * sb, sb, std::min(kChunk, inner - c0));
    return;
  }
#pragma omp parallel for schedule(static) if (par)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t ia = 0, ib = 0, rem = r;
    for (size_t d = nd - 1; d-- > 0;) {
      const int64_t i = rem % p.size[d];
      rem /= p.size[d];
      ia += i * p.a_stride[d];
      ib += i * p.b_stride[d];
    }
    broadcast_row(f, out + r * inner, a + ia, sa, b + ib, sb, inner);
  }
}

// ---------------------------------------------------------------- broadcast reduction

// One outer (non-last) dim of a plan: its size and the element strides of g (the output,
// row-major), of the other operand and of the target gradient.
struct Axis {
  int64_t size, g, o, t;
};

// Adds the offsets of flat index `flat` over `axes` (innermost axis first).
inline void locate(const std::vector<Axis>& axes, int64_t flat, int64_t& g, int64_t& o,
                   int64_t& t) {
  for (const Axis& ax : axes) {
    const int64_t i = flat % ax.size;
    flat /= ax.size;
    g += i * ax.g;
    o += i * ax.o;
    t += i * ax.t;
  }
}

// target[t(i)] += scale · g[i] · (other ? other[o(i)] : 1), summed (in double) over all output
// elements i of the plan that land on the same target element. t_stride / o_stride are the
// target's and the other operand's strides along the plan's dims.
void accumulate_reduced(const BroadcastPlan& p, const std::vector<int64_t>& t_stride,
                        const float* g, const float* other, const std::vector<int64_t>& o_stride,
                        float scale, float* target) {
  if (p.numel == 0) return;
  const size_t nd = p.size.size();
  if (nd == 0) {
    target[0] += scale * g[0] * (other ? other[0] : 1.f);
    return;
  }
  // The target has every dim: an elementwise update, like a forward.
  if (std::all_of(t_stride.begin(), t_stride.end(), [](int64_t s) { return s != 0; })) {
    BroadcastPlan q = p;
    q.a_stride = t_stride;  // = g's row-major strides, since the target is full
    if (other) {
      q.b_stride = o_stride;
      for_each_broadcast(q, g, other, target,
                         [scale](float& t, float gv, float ov) { t += scale * gv * ov; });
    } else {
      q.b_stride = t_stride;
      for_each_broadcast(q, g, g, target, [scale](float& t, float gv, float) { t += scale * gv; });
    }
    return;
  }
  // Split the outer dims into those the target keeps and those it is reduced over.
  const int64_t inner = p.size[nd - 1];
  const bool inner_kept = t_stride[nd - 1] != 0;
  const int64_t oi = o_stride[nd - 1];
  std::vector<Axis> kept, reduced;
  int64_t nk = 1, nr = 1, gs = inner;
  for (size_t d = nd - 1; d-- > 0;) {
    const Axis ax{p.size[d], gs, o_stride[d], t_stride[d]};
    if (ax.t) {
      kept.push_back(ax);
      nk *= ax.size;
    } else {
      reduced.push_back(ax);
      nr *= ax.size;
    }
    gs *= p.size[d];
  }
  const bool par = p.numel > kParallelWork;

  if (!inner_kept) {
    // Each output row sums into one target element.
    auto row_sum = [&](int64_t go, int64_t oo, int64_t len) -> double {
      if (!other) return sum_f64(g + go, len);
      if (oi) return dot_f64(g + go, other + oo, len);
      return static_cast<double>(other[oo]) * sum_f64(g + go, len);
    };
    if (nk == 1) {
      // A one-element target (a () scalar operand): partial sums over fixed chunks of every
      // row in parallel, added in order (the same bits on any number of threads).
      const int64_t chunks = (inner + kChunk - 1) / kChunk;
      std::vector<double> partial(static_cast<size_t>(nr * chunks));
#pragma omp parallel for schedule(static) if (par)
      for (int64_t task = 0; task < nr * chunks; ++task) {
        const int64_t c0 = (task % chunks) * kChunk;
        int64_t go = 0, oo = 0, to = 0;
        locate(reduced, task / chunks, go, oo, to);
        partial[task] = row_sum(go + c0, oo + c0 * oi, std::min(kChunk, inner - c0));
      }
      double total = 0;
      for (double v : partial) total += v;
      target[0] += static_cast<float>(scale * total);
      return;
    }
#pragma omp parallel for schedule(static) if (par)
    for (int64_t k = 0; k < nk; ++k) {
      int64_t go = 0, oo = 0, to = 0;
      locate(kept, k, go, oo, to);
      double acc = 0;
      for (int64_t r = 0; r < nr; ++r) {
        int64_t g2 = go, o2 = oo, t2 = to;
        locate(reduced, r, g2, o2, t2);
        acc += row_sum(g2, o2, inner);
      }
      target[to] += static_cast<float>(scale * acc);
    }
    return;
  }

  // The target keeps the last dim: each task owns a block of columns of one target row and
  // walks down the output rows that land on it.
  const int64_t blocks = (inner + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (par)
  for (int64_t task = 0; task < nk * blocks; ++task) {
    const int64_t k = task / blocks, c0 = (task % blocks) * kBlock;
    const int64_t len = std::min(kBlock, inner - c0);
    int64_t go = 0, oo = 0, to = 0;
    locate(kept, k, go, oo, to);
    double acc[kBlock];
    for (int64_t c = 0; c < len; ++c) acc[c] = 0;
    for (int64_t r = 0; r < nr; ++r) {
      int64_t g2 = go, o2 = oo, t2 = to;
      locate(reduced, r, g2, o2, t2);
      const float* gr = g + g2 + c0;
      if (!other) {
        for (int64_t c = 0; c < len; ++c) acc[c] += static_cast<double>(gr[c]);
      } else if (oi) {
        const float* orow = other + o2 + c0;
        for (int64_t c = 0; c < len; ++c)
          acc[c] += static_cast<double>(gr[c]) * static_cast<double>(orow[c]);
      } else {
        const double ov = other[o2];
        for (int64_t c = 0; c < len; ++c) acc[c] += static_cast<double>(gr[c]) * ov;
      }
    }
    float* tr = target + to + c0;
    for (int64_t c = 0; c < len; ++c) tr[c] += static_cast<float>(scale * acc[c]);
  }
}

}  // namespace

// ---------------------------------------------------------------- broadcasting binary ops

void binary_forward(BinaryOp op, const BroadcastPlan& p, const float* a, const float* b,
                    float* out) {
  switch (op) {
    case BinaryOp::Add:
      for_each_broadcast(p, a, b, out, [](float& o, float x, float y) { o = x + y; });
      break;
    case BinaryOp::Sub:
      for_each_broadcast(p, a, b, out, [](float& o, float x, float y) { o = x - y; });
      break;
    case BinaryOp::Mul:
      for_each_broadcast(p, a, b, out, [](float& o, float x, float y) { o = x * y; });
      break;
  }
}

void binary_backward(BinaryOp op, const BroadcastPlan& p, const float* a, const float* b,
                     const float* g, float* da, float* db) {
  const bool mul = op == BinaryOp::Mul;
  if (da) accumulate_reduced(p, p.a_stride, g, mul ? b : nullptr, p.b_stride, 1.f, da);
  if (db)
    accumulate_reduced(p, p.b_stride, g, mul ? a : nullptr, p.a_stride,
                       op == BinaryOp::Sub ? -1.f : 1.f, db);
}

void expand_forward(const BroadcastPlan& p, const float* a, float* out) {
  BroadcastPlan q = p;
  q.b_stride = p.a_stride;  // the second operand is unused: read a twice
  for_each_broadcast(q, a, a, out, [](float& o, float x, float) { o = x; });
}

void expand_backward(const BroadcastPlan& p, const float* g, float* da) {
  accumulate_reduced(p, p.a_stride, g, nullptr, p.a_stride, 1.f, da);
}

// ---------------------------------------------------------------- scalar ops

void axpy(int64_t n, float alpha, const float* x, float* y) {
#pragma omp parallel for schedule(static) if (n > kParallelWork)
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

void scale_forward(const float* x, float s, float* y, int64_t n) {
#pragma omp parallel for schedule(static) if (n > kParallelWork)
  for (int64_t i = 0; i < n; ++i) y[i] = s * x[i];
}

void add_scalar_forward(const float* x, float s, float* y, int64_t n) {
#pragma omp parallel for schedule(static) if (n > kParallelWork)
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] + s;
}

// ---------------------------------------------------------------- activations

void relu2_forward(const float* x, float* y, int64_t n) {
#pragma omp parallel for schedule(static) if (n > kParallelWork)
  for (int64_t i = 0; i < n; ++i) {
    const float r = x[i] > 0.f ? x[i] : 0.f;
    y[i] = r * r;
  }
}

void relu2_backward(const float* x, const float* g, float* dx, int64_t n) {
#pragma omp parallel for schedule(static) if (n > kParallelWork)
  for (int64_t i = 0; i < n; ++i) {
    const float r = x[i] > 0.f ? x[i] : 0.f;
    dx[i] += g[i] * 2.f * r;
  }
}

// The activations below take e^x and erf from fast_math.h, so their loops vectorise.
namespace {

constexpr float kInvSqrt2 = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;

}  // namespace

void gelu_forward(const float* x, float* y, int64_t n) {
#pragma omp parallel for schedule(static) if (n > kParallelWork)
  for (int64_t i = 0; i < n; ++i) y[i] = 0.5f * x[i] * (1.f + fast_erf(x[i] * kInvSqrt2));
}

void gelu_backward(const float* x, const float* g, float* dx, int64_t n) {
#pragma omp parallel for schedule(static) if (n > kParallelWork)
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    const float cdf = 0.5f * (1.f + fast_erf(v * kInvSqrt2));
    const float pdf = kInvSqrt2Pi * fast_exp(-0.5f * v * v);
    dx[i] += g[i] * (cdf + v * pdf);
  }
}

void silu_forward(const float* x, float* y, int64_t n) {
#pragma omp parallel for schedule(static) if (n > kParallelWork)
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] / (1.f + fast_exp(-x[i]));
}

void silu_backward(const float* x, const float* g, float* dx, int64_t n) {
#pragma omp parallel for schedule(static) if (n > kParallelWork)
  for (int64_t i = 0; i < n; ++i) {
    const float s = 1.f / (1.f + fast_exp(-x[i]));
    dx[i] += g[i] * s * (1.f + x[i] * (1.f - s));
  }
}

void sigmoid_forward(const float* x, float* y, int64_t n) {
#pragma omp parallel for schedule(static) if (n > kParallelWork)
  for (int64_t i = 0; i < n; ++i) y[i] = 1.f / (1.f + fast_exp(-x[i]));
}

void sigmoid_backward(const float* y, const float* g, float* dx, int64_t n) {
#pragma omp parallel for schedule(static) if (n > kParallelWork)
  for (int64_t i = 0; i < n; ++i) dx[i] += g[i] * y[i] * (1.f - y[i]);
}

void tanh_forward(const float* x, float* y, int64_t n) {
#pragma omp parallel for schedule(static) if (n > kParallelWork)
  for (int64_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
}

void tanh_backward(const float* y, const float* g, float* dx, int64_t n) {
#pragma omp parallel for schedule(static) if (n > kParallelWork)
  for (int64_t i = 0; i < n; ++i) dx[i] += g[i] * (1.f - y[i] * y[i]);
}

void exp_forward(const float* x, float* y, int64_t n) {
#pragma omp parallel for schedule(static) if (n > kParallelWork)
  for (int64_t i = 0; i < n; ++i) y[i] = fast_exp(x[i]);
}

void exp_backward(const float* y, const float* g, float* dx, int64_t n) {
#pragma omp parallel for schedule(static) if (n > kParallelWork)
  for (int64_t i = 0; i < n; ++i) dx[i] += g[i] * y[i];
}

// ---------------------------------------------------------------- layout copies

void copy_rows(const float* src, int64_t src_ld, float* dst, int64_t dst_ld, int64_t rows,
               int64_t len, bool accumulate) {
  const bool par = rows * len > kParallelWork;
  if (rows == 1) {  // one long row (a concat along dim 0): cut it into chunks
#pragma omp parallel for schedule(static) if (par)
    for (int64_t c0 = 0; c0 < len; c0 += kChunk) {
      const int64_t m = std::min(kChunk, len - c0);
      if (accumulate)
        for (int64_t c = 0; c < m; ++c) dst[c0 + c] += src[c0 + c];
      else
        for (int64_t c = 0; c < m; ++c) dst[c0 + c] = src[c0 + c];
    }
    return;
  }
#pragma omp parallel for schedule(static) if (par)
  for (int64_t r = 0; r < rows; ++r) {
    const float* s = src + r * src_ld;
    float* d = dst + r * dst_ld;
    if (accumulate)
      for (int64_t c = 0; c < len; ++c) d[c] += s[c];
    else
      for (int64_t c = 0; c < len; ++c) d[c] = s[c];
  }
}

void permute_copy(const float* x, const std::vector<int64_t>& in_shape,
                  const std::vector<int64_t>& perm, float* out, bool accumulate) {
  // The output's dims with their input strides; size-1 dims dropped, and a dim merged into
  // the previous one when the two are also adjacent (in order) in the input.
  const size_t nd = in_shape.size();
  std::vector<int64_t> in_stride(nd);
  int64_t numel = 1;
  for (size_t d = nd; d-- > 0;) {
    in_stride[d] = numel;
    numel *= in_shape[d];
  }
  if (numel == 0) return;
  struct Dim {
    int64_t size, in, out;  // size and element strides in the input and the output
  };
  std::vector<Dim> dims;
  for (size_t j = 0; j < nd; ++j) {
    const int64_t size = in_shape[perm[j]], stride = in_stride[perm[j]];
    if (size == 1) continue;
    if (!dims.empty() && dims.back().in == size * stride) {
      dims.back().size *= size;
      dims.back().in = stride;
    } else {
      dims.push_back({size, stride, 0});
    }
  }
  int64_t os = 1;
  for (size_t j = dims.size(); j-- > 0;) {
    dims[j].out = os;
    os *= dims[j].size;
  }
  auto put = [accumulate](float& o, float v) {
    if (accumulate)
      o += v;
    else
      o = v;
  };
  if (dims.empty()) {
    put(out[0], x[0]);
    return;
  }
  const bool par = numel > kParallelWork;
  const Dim last = dims.back();
  if (last.in == 1) {
    // The innermost dim stays innermost: contiguous row copies.
    const int64_t rows = numel / last.size;
#pragma omp parallel for schedule(static) if (par)
    for (int64_t r = 0; r < rows; ++r) {
      int64_t off = 0, rem = r;
      for (size_t j = dims.size() - 1; j-- > 0;) {
        off += (rem % dims[j].size) * dims[j].in;
        rem /= dims[j].size;
      }
      const float* s = x + off;
      float* d = out + r * last.size;
      if (accumulate)
        for (int64_t c = 0; c < last.size; ++c) d[c] += s[c];
      else
        for (int64_t c = 0; c < last.size; ++c) d[c] = s[c];
    }
    return;
  }
  // A transposing copy: the input's contiguous dim q and the output's last dim are swapped.
  // Copy kTile × kTile tiles of that pair so that reads and writes both stay in cache; the
  // remaining dims are a batch.
  size_t q = 0;
  while (dims[q].in != 1) ++q;
  std::vector<Dim> batch;
  for (size_t j = dims.size() - 1; j-- > 0;)
    if (j != q) batch.push_back(dims[j]);  // innermost first
  int64_t nb = 1;
  for (const Dim& d : batch) nb *= d.size;
  const int64_t ti = (dims[q].size + kTile - 1) / kTile, tj = (last.size + kTile - 1) / kTile;
#pragma omp parallel for schedule(static) if (par)
  for (int64_t task = 0; task < nb * ti * tj; ++task) {
    int64_t rem = task / (ti * tj), in_off = 0, out_off = 0;
    for (const Dim& d : batch) {
      const int64_t i = rem % d.size;
      rem /= d.size;
      in_off += i * d.in;
      out_off += i * d.out;
    }
    const int64_t i0 = (task / tj) % ti * kTile, j0 = task % tj * kTile;
    const int64_t i1 = std::min(i0 + kTile, dims[q].size), j1 = std::min(j0 + kTile, last.size);
    for (int64_t i = i0; i < i1; ++i)
      for (int64_t j = j0; j < j1; ++j)
        put(out[out_off + i * dims[q].out + j], x[in_off + i + j * last.in]);
  }
}

}  // namespace tinyr2::kernels::cpu
