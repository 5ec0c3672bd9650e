// The printed report of `bench compare`: the header, the tinyr2 vs PyTorch table with its
// notes [1]-[3], and the closing `ratio NAME=VALUE` lines.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "bench/compare/bench_compare.h"
#include "bench/compare/inputs.h"
#include "bench/compare/rounds.h"

namespace tinyr2::bench_compare {

// The `ratio NAME=VALUE` lines, in print order.
using Ratios = std::vector<std::pair<std::string, double>>;

// What the command measures, on how many threads, how busy the machine is.
void print_header(const Inputs& in, const CompareOptions& o, int threads);

// The table and its notes; returns the three end-to-end ratios (train_speedup,
// decode_speedup, memory_ratio).
Ratios print_table(const RoundResults& res, const Inputs& in, const CompareOptions& o);

// The total time, the load average, then one `ratio NAME=VALUE` line each.
void print_ratios(const Ratios& ratios, double total_s);

}  // namespace tinyr2::bench_compare
