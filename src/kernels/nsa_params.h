// The block geometry of NSA's compression and selection branches (SPEC §2.3), shared by every
// backend's kernels and by the ops that call them. Plain data, no device.
#pragma once

#include <algorithm>
#include <cstdint>

namespace tinyr2::kernels {

struct NsaSelectParams {
  int64_t block_size;         // l
  int64_t block_stride;       // d
  int64_t select_block_size;  // l′
  int64_t num_blocks;         // n = num_tokens_to_keep / l′
  int64_t init_blocks, local_blocks;
};

// Compressed blocks visible to the query at position pos: i·d + l − 1 ≤ pos, at most nb.
inline int64_t nsa_visible_blocks(int64_t pos, int64_t nb, const NsaSelectParams& p) {
  return pos >= p.block_size - 1 ? std::min(nb, (pos - p.block_size + 1) / p.block_stride + 1) : 0;
}

}  // namespace tinyr2::kernels
