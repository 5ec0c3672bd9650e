// tinyr2-bench: Google Benchmark runner with a summary that puts every kernel's GFLOP/s
// next to the machine's measured ceiling (the best sgemm rate of this same run).
//
// Benchmarks report FLOP rates through state.counters["GFLOP/s"] (see flops_counter()).
#include <benchmark/benchmark.h>
#include <fmt/core.h>

#include <algorithm>
#include <string>
#include <vector>

#include "bench_util.h"
#include "core/blas_kernel.h"
#include "core/memory.h"
#include "core/threads.h"

namespace {

class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.run_type != Run::RT_Iteration) continue;
      auto it = r.counters.find("GFLOP/s");
      if (it != r.counters.end())
        rows_.push_back(
            {r.benchmark_name(), double(it->second) / 1e9, r.GetAdjustedRealTime(), r.time_unit});
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    double ceiling = 0;
    for (const auto& row : rows_)
      if (row.name.rfind("BM_sgemm_square", 0) == 0) ceiling = std::max(ceiling, row.gflops);
    if (rows_.empty()) return;
    fmt::print(
        "\nGFLOP/s against the sgemm ceiling measured in this run ({:.1f} GFLOP/s, {} threads)\n",
        ceiling, tinyr2::threads::num_threads());
    fmt::print("{:<58} {:>12} {:>10} {:>9}\n", "benchmark", "time", "GFLOP/s", "ceiling");
    for (const auto& row : rows_) {
      const std::string pct =
          ceiling > 0 ? fmt::format("{:.0f}%", 100 * row.gflops / ceiling) : "-";
      fmt::print("{:<58} {:>9.3f} {:>2} {:>10.2f} {:>9}\n", row.name, row.time,
                 benchmark::GetTimeUnitString(row.unit), row.gflops, pct);
    }
  }

 private:
  struct Row {
    std::string name;
    double gflops;
    double time;
    benchmark::TimeUnit unit;
  };
  std::vector<Row> rows_;
};

}  // namespace

int main(int argc, char** argv) {
  // OpenBLAS on the kernel the CPU's features call for (may re-execute this program once).
  if (!tinyr2::blas::select_blas_kernel(argv)) return 1;
  tinyr2::memory::keep_freed_memory();
  // -t N / --threads N (ours) is taken out before Google Benchmark sees the arguments.
  int threads = 0;
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "-t" || a == "--threads") && i + 1 < argc) {
      threads = std::stoi(argv[++i]);
    } else {
      rest.push_back(argv[i]);
    }
  }
  tinyr2::threads::set_num_threads(threads);
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  if (benchmark::ReportUnrecognizedArguments(n, rest.data())) return 2;
  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
