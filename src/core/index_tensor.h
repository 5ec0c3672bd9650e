// Integer tensors for token ids and gather/scatter/attention indices. They never need
// gradients, so they are plain values: a shape and row-major int32 data.
#pragma once

#include <cstdint>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"

namespace tinyr2 {

struct IndexTensor {
  Shape shape;
  std::vector<int32_t> data;

  IndexTensor() = default;
  IndexTensor(Shape s, std::vector<int32_t> d) : shape(std::move(s)), data(std::move(d)) {
    TINYR2_CHECK(static_cast<int64_t>(data.size()) == shape_numel(shape),
                 "IndexTensor: {} values for shape {}", data.size(), shape_str(shape));
  }
  int64_t numel() const { return static_cast<int64_t>(data.size()); }
  int64_t size(int64_t d) const { return shape.at(d < 0 ? shape.size() + d : d); }
};

}  // namespace tinyr2
