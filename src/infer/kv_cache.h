// KV caches for decoding (SPEC §7): what each attention layer keeps from the positions it has
// already seen, so that a new token costs one position instead of a full forward.
//
// One ModelCache holds one sequence (batch 1) and one LayerCache per block:
//
//   FULL   k, v           (t, H, C/H) every position; v after the value residual.
//   Sparse k_cmp, v_cmp   (nb, H, nope+rope), (nb, H, v_head_dim): branch 1's keys and values
//                         of the nb complete compressed blocks (also branch 2's scores).
//          raw            (·, C): the normalised input rows [raw_start, t) not yet consumed by
//                         a compressed block — the tail the next block is built from
//                         (raw_start = nb·d, so fewer than l rows once a block completes; with
//                         d < l blocks overlap and the tail holds the l − d shared rows too).
//          k_sel, v_sel   (t, H, nope+rope), (t, H, v_head_dim): selection_k / selection_v of
//                         every position, RoPE applied.
//          k_win, v_win   rings of the last w window keys / values: position p in slot p mod w.
//
// MLA queries, DSMoE and hyper-connections work per token and need nothing cached. Per new
// token a Sparse layer reads the nb ≈ t/d compressed keys, the n·l′ selected rows and the w
// window rows, never the whole context.
#pragma once

#include <cstdint>
#include <variant>
#include <vector>

#include "core/tensor.h"
#include "nn/config.h"

namespace tinyr2::infer {

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

struct FullAttentionCache {
  RowBuffer k, v;
};

struct SparseAttentionCache {
  RowBuffer k_cmp, v_cmp;  // branch 1 (present when branch 1 or 2 is active)
  RowBuffer raw;           // normalised input rows [raw_start, length)
  int64_t raw_start = 0;
  RowBuffer k_sel, v_sel;   // branch 2
  RingBuffer k_win, v_win;  // branch 3
};

using LayerCache = std::variant<FullAttentionCache, SparseAttentionCache>;

class ModelCache {
 public:
  explicit ModelCache(const nn::ModelConfig& cfg);

  // Positions cached so far; the next token goes to position length().
  int64_t length() const { return length_; }
  void set_length(int64_t n) { length_ = n; }  // Model::forward_cached advances it
  // Forgets every position (the buffers keep their memory).
  void clear();

  int64_t bytes() const;            // bytes of cached values in use
  int64_t allocated_bytes() const;  // bytes the buffers hold

  std::vector<LayerCache> layers;  // one per block

 private:
  int64_t length_ = 0;
};

}  // namespace tinyr2::infer
