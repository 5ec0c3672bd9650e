// The CPU backend (kernels/backend.h), registered in backends() (kernels/backend.cpp).
#pragma once

#include "kernels/backend.h"

namespace tinyr2::kernels {

const Backend& cpu_backend();

}  // namespace tinyr2::kernels
