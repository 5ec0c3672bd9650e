#include "core/memory.h"

#include <malloc.h>

#include <climits>

namespace tinyr2::memory {

void keep_freed_memory() {
  mallopt(M_MMAP_MAX, 0);              // never mmap a block: take it from the heap
  mallopt(M_TRIM_THRESHOLD, INT_MAX);  // and do not hand freed heap back to the system
}

}  // namespace tinyr2::memory
