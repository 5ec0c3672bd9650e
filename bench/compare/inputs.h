// What `bench compare` needs before its first child starts, every part checked: the config,
// the Python interpreter, reference/bench.py and this executable.
#pragma once

#include <string>
#include <vector>

#include "bench/compare/bench_compare.h"
#include "train/train_config.h"

namespace tinyr2::bench_compare {

// The run config at `path`; tinyr2::Error when the path is empty or not a file.
train::RunConfig load_config(const std::string& path);

struct Inputs {
  std::string config;  // the config file (given, or configs/default.json)
  train::RunConfig rc;
  std::string python;  // the interpreter with torch
  std::string script;  // reference/bench.py
  std::string self;    // this tinyr2 executable
  // The PyTorch side's environment changes: OPENBLAS_CORETYPE = the OpenBLAS kernel tinyr2
  // runs (Debian's torch does its float32 matmuls in the same libopenblas, through
  // libblas.so.3), so both sides multiply on the same kernel.
  std::vector<std::string> torch_env;
};

// Checks the options (counts and sizes) and finds the files; throws tinyr2::Error, printing
// nothing, on the first problem.
Inputs resolve_inputs(const CompareOptions& o);

}  // namespace tinyr2::bench_compare
