// Every differentiable op, for code that builds models (nn/). Ops launch their kernels through
// the backend of their inputs' device (kernels/backend.h); the CPU kernels live in kernels/cpu.
#pragma once

#include "autograd/ops_attention.h"
#include "autograd/ops_dropout.h"
#include "autograd/ops_elementwise.h"
#include "autograd/ops_glu.h"
#include "autograd/ops_hc.h"
#include "autograd/ops_linalg.h"
#include "autograd/ops_moe.h"
#include "autograd/ops_nn.h"
#include "autograd/ops_nsa.h"
#include "autograd/ops_reduce.h"
#include "autograd/ops_retention.h"
#include "autograd/ops_shape.h"
#include "autograd/ops_ssm.h"
#include "autograd/tape.h"
