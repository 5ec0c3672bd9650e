// Buffers for decode states (SPEC §7): what a sequence mixer keeps from the positions it has
// already seen lives in these, inside the layer's own MixerState (nn/sequence_mixer.h).
//
//   RowBuffer   rows appended at the end of one contiguous, geometrically grown buffer
//               (FULL's k/v, Sparse's compressed keys, raw tail and selection rows)
//   RingBuffer  the last `capacity` rows of a stream (Sparse's sliding-window keys/values)
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace tinyr2::nn {

// Rows of one shape appended at the end of a contiguous buffer that grows geometrically (up to
// max_rows), so that the rows so far are always one tensor view without a copy.
class RowBuffer {
 public:
  RowBuffer() = default;
  RowBuffer(Shape row_shape, int64_t max_rows);

  int64_t rows() const { return rows_; }
  int64_t row_numel() const { return row_numel_; }
  // Appends x.numel() / row_numel rows (x contiguous, any shape with that many elements).
  void append(const Tensor& x);
  // Drops the first n rows (moves the rest to the front).
  void drop_front(int64_t n);
  void clear() { rows_ = 0; }

  // (1, rows, row_shape...) over rows [begin, end) (default: all), sharing storage. A view
  // stays valid until the next append or drop_front.
  Tensor view() const { return view(0, rows_); }
  Tensor view(int64_t begin, int64_t end) const;
  // (rows, row_numel) over all rows, sharing storage.
  Tensor matrix() const;

  int64_t bytes() const { return rows_ * row_numel_ * static_cast<int64_t>(sizeof(float)); }
  int64_t allocated_bytes() const;

 private:
  Shape row_shape_;
  int64_t row_numel_ = 0, rows_ = 0, max_rows_ = 0;
  Tensor storage_;  // (capacity, row_numel)
};

// The last `capacity` rows of a stream: row p (0-based, in push order) lives in slot
// p mod capacity.
class RingBuffer {
 public:
  RingBuffer() = default;
  RingBuffer(Shape row_shape, int64_t capacity);

  // Appends x.numel() / row_numel rows; only the last `capacity` are kept.
  void push(const Tensor& x);
  void clear() { total_ = 0; }

  int64_t total() const { return total_; }  // rows pushed since the last clear
  int64_t size() const { return total_ < capacity_ ? total_ : capacity_; }
  // (1, size, row_shape...) in slot order (not position order), sharing storage.
  Tensor slots() const;
  // (1, n, row_shape...): a copy of the last n ≤ size rows in push order.
  Tensor last(int64_t n) const;

  int64_t bytes() const { return size() * row_numel_ * static_cast<int64_t>(sizeof(float)); }
  int64_t allocated_bytes() const;

 private:
  Shape row_shape_;
  int64_t row_numel_ = 0, capacity_ = 0, total_ = 0;
  Tensor storage_;  // (capacity, row_numel)
};

}  // namespace tinyr2::nn
