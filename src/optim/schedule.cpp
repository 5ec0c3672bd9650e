#include "optim/schedule.h"

#include <cmath>
#include <numbers>

#include "core/error.h"

namespace tinyr2::optim {

double lr_at(int64_t step, double lr, double min_lr, int64_t warmup, int64_t max_iters) {
  TINYR2_CHECK(warmup >= 0 && max_iters >= 0, "schedule: warmup {} / max_iters {} < 0", warmup,
               max_iters);
  if (step < warmup) return lr * static_cast<double>(step + 1) / static_cast<double>(warmup);
  if (step >= max_iters) return min_lr;
  // Here warmup ≤ step < max_iters, so the denominator is > 0.
  const double progress =
      static_cast<double>(step - warmup) / static_cast<double>(max_iters - warmup);
  const double cosine = 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
  return min_lr + cosine * (lr - min_lr);
}

double lr_multiplier(int64_t step, double lr, double min_lr, int64_t warmup, int64_t max_iters) {
  if (lr == 0.0) return lr_at(step, 1.0, 0.0, warmup, max_iters);
  return lr_at(step, lr, min_lr, warmup, max_iters) / lr;
}

}  // namespace tinyr2::optim
