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

// The sliding-window kernels (kernels/cpu/nsa_window_attention.h) score each 4-query group
// against ⌊(w + 3)/32⌋ key tiles of 32 and one tail tile of 16 or 32 keys (none when w + 3 is a
// multiple of 32), w = min(window, T): the scores per (b, t, h) a forward can keep for its
// backward.
inline int64_t nsa_window_score_columns(int64_t window, int64_t T) {
  const int64_t w = std::min(window, std::max<int64_t>(T, 1)), need = w + 3, rem = need % 32;
  return need / 32 * 32 + (rem == 0 ? 0 : rem <= 16 ? 16 : 32);
}

}  // namespace tinyr2::kernels
