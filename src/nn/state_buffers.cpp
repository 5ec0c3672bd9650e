#include "nn/state_buffers.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"

namespace tinyr2::nn {

namespace {

Shape with_leading(int64_t n, const Shape& row_shape) {
  Shape s = {1, n};
  s.insert(s.end(), row_shape.begin(), row_shape.end());
  return s;
}

int64_t rows_in(const Tensor& x, int64_t row_numel) {
  TINYR2_CHECK(row_numel > 0 && x.numel() % row_numel == 0,
               "cache: {} values are not whole rows of {}", x.numel(), row_numel);
  return x.numel() / row_numel;
}

}  // namespace

// ---- RowBuffer ----------------------------------------------------------------------------

RowBuffer::RowBuffer(Shape row_shape, int64_t max_rows)
    : row_shape_(std::move(row_shape)), row_numel_(shape_numel(row_shape_)), max_rows_(max_rows) {}

void RowBuffer::append(const Tensor& x) {
  const int64_t n = rows_in(x, row_numel_);
  if (n == 0) return;
  const int64_t need = rows_ + n;
  TINYR2_CHECK(need <= max_rows_, "cache: {} rows exceed the capacity of {}", need, max_rows_);
  const int64_t capacity = storage_.defined() ? storage_.size(0) : 0;
  if (need > capacity) {  // grow to twice what is needed: amortised O(1) copies per row, and
                          // a prefill leaves room for as many decoded rows
    const int64_t grown = std::min(max_rows_, std::max(2 * need, int64_t{16}));
    Tensor bigger = Tensor::empty({grown, row_numel_});
    if (rows_ > 0) std::memcpy(bigger.data(), storage_.data(), sizeof(float) * rows_ * row_numel_);
    storage_ = bigger;
  }
  std::memcpy(storage_.data() + rows_ * row_numel_, x.data(), sizeof(float) * n * row_numel_);
  rows_ = need;
}

void RowBuffer::drop_front(int64_t n) {
  TINYR2_CHECK(0 <= n && n <= rows_, "cache: cannot drop {} of {} rows", n, rows_);
  if (n == 0) return;
  float* d = storage_.data();
  std::memmove(d, d + n * row_numel_, sizeof(float) * (rows_ - n) * row_numel_);
  rows_ -= n;
}

Tensor RowBuffer::view(int64_t begin, int64_t end) const {
  TINYR2_CHECK(0 <= begin && begin <= end && end <= rows_, "cache: rows [{}, {}) of {}", begin, end,
               rows_);
  if (!storage_.defined()) return Tensor::empty(with_leading(0, row_shape_));
  return storage_.rows(begin, end).view(with_leading(end - begin, row_shape_));
}

Tensor RowBuffer::matrix() const {
  if (!storage_.defined()) return Tensor::empty({0, row_numel_});
  return storage_.rows(0, rows_);
}

int64_t RowBuffer::allocated_bytes() const {
  return storage_.defined() ? storage_.numel() * static_cast<int64_t>(sizeof(float)) : 0;
}

// ---- RingBuffer ---------------------------------------------------------------------------

RingBuffer::RingBuffer(Shape row_shape, int64_t capacity)
    : row_shape_(std::move(row_shape)), row_numel_(shape_numel(row_shape_)), capacity_(capacity) {
  TINYR2_CHECK(capacity_ >= 1, "ring buffer capacity {}", capacity_);
}

void RingBuffer::push(const Tensor& x) {
  const int64_t n = rows_in(x, row_numel_);
  if (n == 0) return;
  if (!storage_.defined()) storage_ = Tensor::empty({capacity_, row_numel_});
  // Only the last `capacity` rows of x can survive.
  const int64_t first = std::max<int64_t>(0, n - capacity_);
  for (int64_t r = first; r < n; ++r) {
    const int64_t slot = (total_ + r) % capacity_;
    std::memcpy(storage_.data() + slot * row_numel_, x.data() + r * row_numel_,
                sizeof(float) * row_numel_);
  }
  total_ += n;
}

Tensor RingBuffer::slots() const {
  if (!storage_.defined()) return Tensor::empty(with_leading(0, row_shape_));
  return storage_.rows(0, size()).view(with_leading(size(), row_shape_));
}

Tensor RingBuffer::last(int64_t n) const {
  TINYR2_CHECK(0 <= n && n <= size(), "ring buffer: last {} of {} rows", n, size());
  Tensor out = Tensor::empty(with_leading(n, row_shape_));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t slot = (total_ - n + i) % capacity_;
    std::memcpy(out.data() + i * row_numel_, storage_.data() + slot * row_numel_,
                sizeof(float) * row_numel_);
  }
  return out;
}

int64_t RingBuffer::allocated_bytes() const {
  return storage_.defined() ? storage_.numel() * static_cast<int64_t>(sizeof(float)) : 0;
}

}  // namespace tinyr2::nn
