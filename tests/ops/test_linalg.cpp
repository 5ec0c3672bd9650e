// matmul / linear against the PyTorch oracle (reference/opcases/linalg.py), in fp32 and in
// bf16 (SPEC §13: the oracle multiplies the bf16-rounded operands in float64, forward and
// backward, so the fp32-accumulation tolerances of check_case hold). A bf16 case runs on the
// emulated path and, where the CPU has AVX512_BF16, on the native one.
#include <gtest/gtest.h>

#include <vector>

#include "autograd/ops_linalg.h"
#include "core/cpu_features.h"
#include "support/op_case.h"

namespace tinyr2 {
using testing::check_case;
using testing::for_each_backend;
using testing::load_op_cases;
using testing::OpCase;

namespace {

// The precisions a case runs at: fp32, or bf16 emulated (+ native when the CPU has it).
std::vector<MatmulPrecision> precisions(const OpCase& c) {
  if (c.attr<std::string>("precision") == "fp32") return {MatmulPrecision{}};
  std::vector<MatmulPrecision> p = {{true, false}};
  if (cpu::cpu_features().avx512_bf16) p.push_back({true, true});
  return p;
}

}  // namespace

TEST(OpParity, Matmul) {
  int bf16_cases = 0;
  for (auto& c : load_op_cases("matmul")) {
    for (const MatmulPrecision p : precisions(c)) {
      bf16_cases += p.bf16;
      for_each_backend(c, [&](OpCase& c, Tape& tape) {
        tape.set_matmul_precision(p);
        Tensor y = ops::matmul(tape, c.in("a"), c.in("b"), c.attr<bool>("trans_a"),
                               c.attr<bool>("trans_b"));
        check_case(c, tape, {y});
      });
    }
  }
  EXPECT_GT(bf16_cases, 0);
}

TEST(OpParity, Linear) {
  int bf16_cases = 0;
  for (auto& c : load_op_cases("linear")) {
    for (const MatmulPrecision p : precisions(c)) {
      bf16_cases += p.bf16;
      for_each_backend(c, [&](OpCase& c, Tape& tape) {
        tape.set_matmul_precision(p);
        check_case(c, tape, {ops::linear(tape, c.in("x"), c.in("w"))});
      });
    }
  }
  EXPECT_GT(bf16_cases, 0);
}

}  // namespace tinyr2
