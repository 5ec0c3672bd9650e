#include "infer/kv_cache.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"

namespace tinyr2::infer {

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

// ---- ModelCache ---------------------------------------------------------------------------

ModelCache::ModelCache(const nn::ModelConfig& cfg) {
  const int64_t T = cfg.ctx_len, H = cfg.n_head, C = cfg.n_embd;
  const int64_t Dk = cfg.qk_nope_head_dim + cfg.qk_rope_head_dim, Dv = cfg.v_head_dim;
  for (int64_t i = 0; i < cfg.n_layer; ++i) {
    if (cfg.attention_type(i) == nn::AttentionType::Full) {
      layers.emplace_back(FullAttentionCache{RowBuffer({H, C / H}, T), RowBuffer({H, C / H}, T)});
      continue;
    }
    const nn::BranchSet br = cfg.branches(i);
    SparseAttentionCache s;
    if (br[0] || br[1]) {
      const int64_t max_blocks =
          T >= cfg.block_size ? (T - cfg.block_size) / cfg.block_stride + 1 : 0;
      s.k_cmp = RowBuffer({H, Dk}, max_blocks);
      s.v_cmp = RowBuffer({H, Dv}, max_blocks);
      s.raw = RowBuffer({C}, T);
    }
    if (br[1]) {
      s.k_sel = RowBuffer({H, Dk}, T);
      s.v_sel = RowBuffer({H, Dv}, T);
    }
    if (br[2]) {
      s.k_win = RingBuffer({H, Dk}, cfg.window_size);
      s.v_win = RingBuffer({H, Dv}, cfg.window_size);
    }
    layers.emplace_back(std::move(s));
  }
}

void ModelCache::clear() {
  length_ = 0;
  for (LayerCache& layer : layers) {
    if (auto* f = std::get_if<FullAttentionCache>(&layer)) {
      f->k.clear();
      f->v.clear();
    } else {
      auto& s = std::get<SparseAttentionCache>(layer);
      s.k_cmp.clear();
      s.v_cmp.clear();
      s.raw.clear();
      s.raw_start = 0;
      s.k_sel.clear();
      s.v_sel.clear();
      s.k_win.clear();
      s.v_win.clear();
    }
  }
}

namespace {
template <typename F>
int64_t sum_buffers(const std::vector<LayerCache>& layers, F bytes_of) {
  int64_t total = 0;
  for (const LayerCache& layer : layers) {
    if (const auto* f = std::get_if<FullAttentionCache>(&layer)) {
      total += bytes_of(f->k) + bytes_of(f->v);
    } else {
      const auto& s = std::get<SparseAttentionCache>(layer);
      total += bytes_of(s.k_cmp) + bytes_of(s.v_cmp) + bytes_of(s.raw) + bytes_of(s.k_sel) +
               bytes_of(s.v_sel) + bytes_of(s.k_win) + bytes_of(s.v_win);
    }
  }
  return total;
}
}  // namespace

int64_t ModelCache::bytes() const {
  return sum_buffers(layers, [](const auto& b) { return b.bytes(); });
}

int64_t ModelCache::allocated_bytes() const {
  return sum_buffers(layers, [](const auto& b) { return b.allocated_bytes(); });
}

}  // namespace tinyr2::infer
