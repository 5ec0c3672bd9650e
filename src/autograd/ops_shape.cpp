#include "autograd/ops_shape.h"

#include <numeric>

#include "core/error.h"
#include "kernels/backend.h"

namespace tinyr2::ops {

namespace {

// A dim in [-n, n) made non-negative.
int64_t normalize_dim(const char* op, int64_t dim, int64_t n, const Shape& shape) {
  TINYR2_CHECK(dim >= -n && dim < n, "{}: dim {} out of range for shape {}", op, dim,
               shape_str(shape));
  return dim < 0 ? dim + n : dim;
}

int64_t product(const Shape& s, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t d = begin; d < end; ++d) p *= s[d];
  return p;
}

// Joins xs into out_shape: viewing every tensor as (outer, ·) rows, piece i fills `lens[i]`
// consecutive columns of each output row. concat and stack are this.
Tensor join(Tape& tape, const std::vector<Tensor>& xs, const Shape& out_shape, int64_t outer,
            const std::vector<int64_t>& lens) {
  TINYR2_CHECK(!xs.empty(), "join of no tensors");
  const kernels::Backend& kern = kernels::backend(xs[0].device());
  Tensor out = Tensor::empty(out_shape);
  const int64_t out_ld = std::accumulate(lens.begin(), lens.end(), int64_t{0});
  std::vector<int64_t> offsets(xs.size());
  int64_t off = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    offsets[i] = off;
    kern.copy_rows(xs[i].data(), lens[i], out.data() + off, out_ld, outer, lens[i], false);
    off += lens[i];
  }
  if (tape.needs_grad(xs)) {
    tape.record({out}, [&kern, xs, out, outer, lens, offsets, out_ld] {
      const float* g = out.grad().data();
      for (size_t i = 0; i < xs.size(); ++i)
        if (xs[i].requires_grad())
          kern.copy_rows(g + offsets[i], out_ld, xs[i].grad_accumulator(), lens[i], outer, lens[i],
                         true);
    });
  }
  return out;
}

}  // namespace

Tensor reshape(Tape& tape, const Tensor& x, const Shape& shape) {
  const kernels::Backend& kern = kernels::backend(x.device());
  int64_t known = 1, unknown = 0;
  for (int64_t d : shape) {
    TINYR2_CHECK(d >= -1, "reshape of {} to {}: bad size {}", shape_str(x.shape()),
                 shape_str(shape), d);
    if (d == -1)
      ++unknown;
    else
      known *= d;
  }
  TINYR2_CHECK(unknown <= 1 && (unknown ? known > 0 && x.numel() % known == 0 : known == x.numel()),
               "reshape of {} to {}: element counts differ", shape_str(x.shape()),
               shape_str(shape));
  Tensor out = x.view(shape);
  if (tape.needs_grad({&x})) {
    tape.record({out}, [&kern, x, out] {  // dx += g (same elements, same order)
      if (!x.grad().defined())            // the first gradient: hand out's buffer over, no copy
        x.mutable_grad() = out.grad().view(x.shape());
      else
        kern.axpy(x.numel(), 1.f, out.grad().data(), x.grad_accumulator());
    });
  }
  return out;
}

Tensor permute(Tape& tape, const Tensor& x, const std::vector<int64_t>& dims) {
  const kernels::Backend& kern = kernels::backend(x.device());
  const int64_t n = x.dim();
  TINYR2_CHECK(static_cast<int64_t>(dims.size()) == n, "permute of {} by {}: need {} dims",
               shape_str(x.shape()), shape_str(dims), n);
  std::vector<int64_t> perm(n), inverse(n, -1);
  Shape out_shape(n);
  for (int64_t j = 0; j < n; ++j) {
    perm[j] = normalize_dim("permute", dims[j], n, x.shape());
    TINYR2_CHECK(inverse[perm[j]] < 0, "permute of {} by {}: dims repeat", shape_str(x.shape()),
                 shape_str(dims));
    inverse[perm[j]] = j;
    out_shape[j] = x.size(perm[j]);
  }
  Tensor out = Tensor::empty(out_shape);
  kern.permute_copy(x.data(), x.shape(), perm, out.data(), false);
  if (tape.needs_grad({&x})) {
    tape.record({out}, [&kern, x, out, inverse] {  // dx += permute(g, inverse)
      kern.permute_copy(out.grad().data(), out.shape(), inverse, x.grad_accumulator(), true);
    });
  }
  return out;
}

Tensor transpose(Tape& tape, const Tensor& x, int64_t d0, int64_t d1) {
  const int64_t n = x.dim();
  d0 = normalize_dim("transpose", d0, n, x.shape());
  d1 = normalize_dim("transpose", d1, n, x.shape());
  std::vector<int64_t> perm(n);
  std::iota(perm.begin(), perm.end(), int64_t{0});
  std::swap(perm[d0], perm[d1]);
  return permute(tape, x, perm);
}

Tensor concat(Tape& tape, const std::vector<Tensor>& xs, int64_t dim) {
  TINYR2_CHECK(!xs.empty(), "concat of no tensors");
  const Shape& first = xs[0].shape();
  const int64_t n = xs[0].dim();
  dim = normalize_dim("concat", dim, n, first);
  Shape out_shape = first;
  out_shape[dim] = 0;
  const int64_t outer = product(first, 0, dim), inner = product(first, dim + 1, n);
  std::vector<int64_t> lens;
  for (const Tensor& x : xs) {
    Shape a = x.shape(), b = first;
    if (x.dim() == n) a[dim] = b[dim] = 0;
    TINYR2_CHECK(a == b, "concat along dim {}: shapes {} and {} differ off that dim", dim,
                 shape_str(first), shape_str(x.shape()));
    out_shape[dim] += x.size(dim);
    lens.push_back(x.size(dim) * inner);
  }
  return join(tape, xs, out_shape, outer, lens);
}

Tensor stack(Tape& tape, const std::vector<Tensor>& xs, int64_t dim) {
  TINYR2_CHECK(!xs.empty(), "stack of no tensors");
  const Shape& first = xs[0].shape();
  const int64_t n = xs[0].dim();
  dim = normalize_dim("stack", dim, n + 1, first);
  for (const Tensor& x : xs)
    TINYR2_CHECK(x.shape() == first, "stack: shapes {} and {} differ", shape_str(first),
                 shape_str(x.shape()));
  Shape out_shape = first;
  out_shape.insert(out_shape.begin() + dim, static_cast<int64_t>(xs.size()));
  const int64_t outer = product(first, 0, dim), inner = product(first, dim, n);
  return join(tape, xs, out_shape, outer, std::vector<int64_t>(xs.size(), inner));
}

std::vector<Tensor> split(Tape& tape, const Tensor& x, const std::vector<int64_t>& sizes,
                          int64_t dim) {
  const kernels::Backend& kern = kernels::backend(x.device());
  const int64_t n = x.dim();
  dim = normalize_dim("split", dim, n, x.shape());
  int64_t total = 0;
  for (int64_t s : sizes) {
    TINYR2_CHECK(s >= 0, "split of {} into {}: negative size", shape_str(x.shape()),
                 shape_str(sizes));
    total += s;
  }
  TINYR2_CHECK(total == x.size(dim), "split of {} into {} along dim {}: sizes sum to {}",
               shape_str(x.shape()), shape_str(sizes), dim, total);
  const int64_t outer = product(x.shape(), 0, dim), inner = product(x.shape(), dim + 1, n);
  const int64_t x_ld = x.size(dim) * inner;
  std::vector<Tensor> outs;
  std::vector<int64_t> offsets;
  int64_t off = 0;
  for (int64_t s : sizes) {
    Shape shape = x.shape();
    shape[dim] = s;
    Tensor o = Tensor::empty(shape);
    kern.copy_rows(x.data() + off, x_ld, o.data(), s * inner, outer, s * inner, false);
    outs.push_back(o);
    offsets.push_back(off);
    off += s * inner;
  }
  if (tape.needs_grad({&x})) {
    tape.record(outs, [&kern, x, outs, offsets, outer, x_ld] {
      float* dx = x.grad_accumulator();
      for (size_t i = 0; i < outs.size(); ++i) {
        const Tensor& g = outs[i].grad();
        if (!g.defined()) continue;  // this piece was not used: zero contribution
        const int64_t len = outer ? g.numel() / outer : 0;
        kern.copy_rows(g.data(), len, dx + offsets[i], x_ld, outer, len, true);
      }
    });
  }
  return outs;
}

Tensor slice(Tape& tape, const Tensor& x, int64_t dim, int64_t begin, int64_t end) {
  const kernels::Backend& kern = kernels::backend(x.device());
  const int64_t n = x.dim();
  dim = normalize_dim("slice", dim, n, x.shape());
  const int64_t size = x.size(dim);
  const int64_t b = begin < 0 ? begin + size : begin, e = end < 0 ? end + size : end;
  TINYR2_CHECK(0 <= b && b <= e && e <= size, "slice [{},{}) of dim {} of shape {}", begin, end,
               dim, shape_str(x.shape()));
  const int64_t outer = product(x.shape(), 0, dim), inner = product(x.shape(), dim + 1, n);
  const int64_t x_ld = size * inner, len = (e - b) * inner, off = b * inner;
  Shape shape = x.shape();
  shape[dim] = e - b;
  Tensor out = Tensor::empty(shape);
  kern.copy_rows(x.data() + off, x_ld, out.data(), len, outer, len, false);
  if (tape.needs_grad({&x})) {
    tape.record({out}, [&kern, x, out, outer, x_ld, len, off] {  // dx[range] += g
      kern.copy_rows(out.grad().data(), len, x.grad_accumulator() + off, x_ld, outer, len, true);
    });
  }
  return out;
}

Tensor expand(Tape& tape, const Tensor& x, const Shape& shape) {
  const kernels::Backend& kern = kernels::backend(x.device());
  const size_t n = shape.size(), m = x.shape().size();
  TINYR2_CHECK(n >= m, "expand of {} to {}: fewer dims", shape_str(x.shape()), shape_str(shape));
  Shape out_shape(n);
  for (size_t d = 0; d < n; ++d) {
    if (d < n - m) {
      TINYR2_CHECK(shape[d] >= 0, "expand of {} to {}: a new leading dim needs a size",
                   shape_str(x.shape()), shape_str(shape));
      out_shape[d] = shape[d];
      continue;
    }
    const int64_t xd = x.shape()[d - (n - m)];
    TINYR2_CHECK(shape[d] == -1 || shape[d] == xd || (xd == 1 && shape[d] >= 0),
                 "expand of {} to {}: dim {} cannot broadcast", shape_str(x.shape()),
                 shape_str(shape), d);
    out_shape[d] = shape[d] == -1 ? xd : shape[d];
  }
  const kernels::BroadcastPlan plan = kernels::make_broadcast_plan(x.shape(), out_shape, out_shape);
  Tensor out = Tensor::empty(out_shape);
  kern.expand_forward(plan, x.data(), out.data());
  if (tape.needs_grad({&x})) {
    tape.record({out}, [&kern, x, out, plan] {
      kern.expand_backward(plan, out.grad().data(), x.grad_accumulator());
    });
  }
  return out;
}

}  // namespace tinyr2::ops
