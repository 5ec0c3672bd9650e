#include "core/tensor.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "core/error.h"

namespace tinyr2 {

namespace {
constexpr size_t kAlignment = 64;
// zeros(): floats per memset piece, and the size from which the pieces run on the threads
// (issue 20: a new gradient buffer of several MiB was zeroed on one thread while the others
// waited). Zeroing is the same whatever the split.
constexpr int64_t kZeroPiece = int64_t{1} << 16;
constexpr int64_t kParallelZero = int64_t{1} << 18;
}  // namespace

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    TINYR2_CHECK(d >= 0, "negative dimension in shape {}", shape_str(shape));
    n *= d;
  }
  return n;
}

std::string shape_str(const Shape& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(shape[i]);
  }
  s += ')';
  return s;
}

Storage::Storage(int64_t n, Device dev) : numel(n), device(dev) {
  size_t bytes = static_cast<size_t>(n > 0 ? n : 1) * sizeof(float);
  bytes = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  data = static_cast<float*>(std::aligned_alloc(kAlignment, bytes));
  if (!data) throw std::bad_alloc();
}

Storage::~Storage() {
  std::free(data);
}

Tensor Tensor::empty(const Shape& shape) {
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->numel = shape_numel(shape);
  impl->storage = std::make_shared<Storage>(impl->numel);
  return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape) {
  Tensor t = empty(shape);
  float* p = t.data();
  const int64_t n = t.numel();
  const int64_t pieces = (n + kZeroPiece - 1) / kZeroPiece;
#pragma omp parallel for schedule(static) if (n >= kParallelZero)
  for (int64_t k = 0; k < pieces; ++k)
    std::memset(p + k * kZeroPiece, 0, sizeof(float) * std::min(kZeroPiece, n - k * kZeroPiece));
  return t;
}

Tensor Tensor::full(const Shape& shape, float value) {
  Tensor t = empty(shape);
  t.fill(value);
  return t;
}

Tensor Tensor::from_vector(const Shape& shape, const std::vector<float>& values) {
  Tensor t = empty(shape);
  TINYR2_CHECK(static_cast<int64_t>(values.size()) == t.numel(), "{} values for shape {}",
               values.size(), shape_str(shape));
  if (!values.empty()) std::memcpy(t.data(), values.data(), sizeof(float) * values.size());
  return t;
}

const Shape& Tensor::shape() const {
  TINYR2_CHECK(impl_, "use of an undefined tensor");
  return impl_->shape;
}

int64_t Tensor::size(int64_t d) const {
  int64_t n = dim();
  if (d < 0) d += n;
  TINYR2_CHECK(d >= 0 && d < n, "dim {} out of range for shape {}", d, shape_str(shape()));
  return impl_->shape[d];
}

int64_t Tensor::numel() const {
  TINYR2_CHECK(impl_, "use of an undefined tensor");
  return impl_->numel;
}

float* Tensor::data() {
  TINYR2_CHECK(impl_, "use of an undefined tensor");
  return impl_->storage->data + impl_->offset;
}

const float* Tensor::data() const {
  TINYR2_CHECK(impl_, "use of an undefined tensor");
  return impl_->storage->data + impl_->offset;
}

float Tensor::item() const {
  TINYR2_CHECK(numel() == 1, "item() of a tensor with shape {}", shape_str(shape()));
  return data()[0];
}

std::vector<float> Tensor::to_vector() const {
  return std::vector<float>(data(), data() + numel());
}

Device Tensor::device() const {
  return impl_->storage->device;
}

Tensor Tensor::view(const Shape& new_shape) const {
  Shape s = new_shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      TINYR2_CHECK(infer < 0, "view {}: only one -1 allowed", shape_str(new_shape));
      infer = static_cast<int64_t>(i);
    } else {
      known *= s[i];
    }
  }
  if (infer >= 0) {
    TINYR2_CHECK(known > 0 && numel() % known == 0, "view {} of shape {}", shape_str(new_shape),
                 shape_str(shape()));
    s[infer] = numel() / known;
  }
  TINYR2_CHECK(shape_numel(s) == numel(), "view {} of shape {}: element counts differ",
               shape_str(new_shape), shape_str(shape()));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->offset = impl_->offset;
  impl->shape = s;
  impl->numel = impl_->numel;
  return Tensor(std::move(impl));
}

Tensor Tensor::rows(int64_t begin, int64_t end) const {
  TINYR2_CHECK(dim() >= 1 && 0 <= begin && begin <= end && end <= shape()[0],
               "rows [{},{}) of shape {}", begin, end, shape_str(shape()));
  int64_t row = shape()[0] ? numel() / shape()[0] : 0;
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->offset = impl_->offset + begin * row;
  impl->shape = shape();
  impl->shape[0] = end - begin;
  impl->numel = (end - begin) * row;
  return Tensor(std::move(impl));
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape());
  std::memcpy(t.data(), data(), sizeof(float) * numel());
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  TINYR2_CHECK(src.numel() == numel(), "copy of {} into {}", shape_str(src.shape()),
               shape_str(shape()));
  std::memmove(data(), src.data(), sizeof(float) * numel());
}

void Tensor::fill(float value) {
  float* p = data();
  const int64_t n = numel();
  for (int64_t i = 0; i < n; ++i) p[i] = value;
}

bool Tensor::shares_storage(const Tensor& other) const {
  return impl_ && other.impl_ && impl_->storage == other.impl_->storage;
}

bool Tensor::requires_grad() const {
  return impl_ && impl_->requires_grad;
}

const Tensor& Tensor::set_requires_grad(bool on) const {
  TINYR2_CHECK(impl_, "use of an undefined tensor");
  impl_->requires_grad = on;
  return *this;
}

const Tensor& Tensor::grad() const {
  TINYR2_CHECK(impl_, "use of an undefined tensor");
  return impl_->grad;
}

Tensor& Tensor::mutable_grad() const {
  TINYR2_CHECK(impl_, "use of an undefined tensor");
  return impl_->grad;
}

float* Tensor::grad_accumulator() const {
  TINYR2_CHECK(impl_, "use of an undefined tensor");
  if (!impl_->grad.defined()) impl_->grad = zeros(shape());
  return impl_->grad.data();
}

float* Tensor::grad_accumulator(float& beta) const {
  TINYR2_CHECK(impl_, "use of an undefined tensor");
  beta = impl_->grad.defined() ? 1.f : 0.f;
  if (!impl_->grad.defined()) impl_->grad = empty(shape());
  return impl_->grad.data();
}

void Tensor::zero_grad() const {
  if (impl_) impl_->grad = Tensor();
}

}  // namespace tinyr2
