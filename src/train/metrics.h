// The run's metrics (SPEC §4): metrics.jsonl, one JSON object per line,
//   {"type":"train","step","loss","ce","bal","lr","grad_norm","ms","tokens_per_s"}  per step
//     (+ "moe_dropped": [fraction per capacity-limited MoE layer] when there are such, §11)
//   {"type":"eval","step","train_loss","val_loss"}                                   per eval
// and loss.svg, a hand-written SVG of the train loss (per step) and the val loss (per eval).
//
// Steps are 1-based: "step k" is the record of the k-th optimizer step. Non-finite values
// are written as JSON null (a skipped step) and read back as NaN. Each line is flushed as it
// is written, so a killed run loses nothing it has reported.
//
// Resuming from a checkpoint at step s: open(dir, s) keeps the records with step ≤ s (a run
// killed after its last checkpoint has reported steps that will be redone) and rewrites the
// file atomically before appending.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace tinyr2::train {

struct TrainRecord {
  int64_t step = 0;
  double loss = 0, ce = 0, bal = 0, lr = 0, grad_norm = 0, ms = 0, tokens_per_s = 0;
  std::vector<double> moe_dropped;  // SPEC §11; empty: no capacity-limited MoE layer
};

struct EvalRecord {
  int64_t step = 0;
  double train_loss = 0, val_loss = 0;
};

class MetricsLog {
 public:
  // dir/metrics.jsonl. keep_until < 0: a new run (the file is truncated); ≥ 0: a resumed
  // run (records after that step are dropped, the rest kept and reloaded).
  MetricsLog(std::string dir, int64_t keep_until);

  void append(const TrainRecord& r);
  void append(const EvalRecord& r);

  const std::vector<TrainRecord>& train() const { return train_; }
  const std::vector<EvalRecord>& eval() const { return eval_; }

  // Writes dir/loss.svg (to a temp file, then renamed).
  void write_svg(const std::string& title) const;

  std::string path() const { return dir_ + "/metrics.jsonl"; }

 private:
  void write_line(const std::string& line);

  std::string dir_;
  std::ofstream out_;
  std::vector<TrainRecord> train_;
  std::vector<EvalRecord> eval_;
};

// The SVG document: train loss as a line over steps, val loss as a line with markers over
// eval steps, labelled axes with ticks, a legend. Non-finite points are left out.
std::string loss_svg(const std::vector<TrainRecord>& train, const std::vector<EvalRecord>& eval,
                     const std::string& title);

// Parses one metrics.jsonl line into either record (returns 't', 'e', or 0 if neither).
char parse_metrics_line(const std::string& line, TrainRecord& t, EvalRecord& e);

}  // namespace tinyr2::train
