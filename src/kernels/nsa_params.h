// The block geometry of NSA's compression and selection branches (SPEC §2.3), shared by every
// backend's kernels and by the ops that call them. Plain data, no device.
#pragma once

#include <cstdint>

namespace tinyr2::kernels {

struct NsaSelectParams {
  int64_t block_size;         // l
  int64_t block_stride;       // d
  int64_t select_block_size;  // l′
  int64_t num_blocks;         // n = num_tokens_to_keep / l′
  int64_t init_blocks, local_blocks;
};

}  // namespace tinyr2::kernels
