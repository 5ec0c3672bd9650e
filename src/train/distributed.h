// Data-parallel training (SPEC §15): the communicator the trainer talks to.
//
// make_communicator() returns the MPI one when the process was started by Open MPI's
// mpirun (OMPI_COMM_WORLD_SIZE is in the environment; MPI_Init runs then and only then)
// and a single-process one otherwise, whose collectives are identities: without mpirun
// nothing changes, and a binary built without MPI runs exactly as before (started by
// mpirun with more than one rank it says it was built without MPI).
//
// What the trainer does with it (trainer.h, training_run.cpp):
//   - rank r of P takes every P-th micro-batch of the single-process order (RankStridedSource);
//   - gradients are summed by non-blocking all-reduces, one bucket per block, posted while
//     backward is still running (GradientReducer), then divided by P;
//   - loss, ce, bal are averaged, MoE routing counts summed, eval batches split across ranks;
//   - rank 0 alone writes the run directory and prints;
//   - parameter hashes are compared after loading and at every checkpoint;
//   - the optimizer's expensive part is sharded across the ranks and the updated tensors
//     exchanged (distributed_optim.h; with train.zero = 1 each rank also keeps the optimizer
//     state of its own tensors only).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "nn/model.h"

namespace tinyr2::train {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const { return 0; }
  virtual int size() const { return 1; }
  virtual std::string name() const { return "single process"; }

  // Blocking collectives over every rank (in place).
  virtual void allreduce_sum(double* /*data*/, int64_t /*n*/) {}
  virtual void allreduce_sum(int64_t* /*data*/, int64_t /*n*/) {}
  virtual void broadcast(float* /*data*/, int64_t /*n*/, int /*root*/) {}
  virtual std::vector<uint64_t> allgather(uint64_t value) { return {value}; }
  virtual void send(const float* /*data*/, int64_t /*n*/, int /*to*/) {}
  virtual void recv(float* /*data*/, int64_t /*n*/, int /*from*/) {}
  virtual void barrier() {}

  // Non-blocking sum all-reduce of `data` in place; the buffer must live until wait_all().
  virtual void start_allreduce_sum(float* /*data*/, int64_t /*n*/) {}
  // Lets the pending all-reduces progress (Open MPI moves them only inside MPI calls).
  virtual void progress() {}
  virtual void wait_all() {}

  // Ends every rank at once (after a one-line message was printed). Single process: exit.
  [[noreturn]] virtual void abort(int status);
};

std::unique_ptr<Communicator> make_communicator();

// Whether this binary was built with MPI ("Open MPI 4.1.4" or "no").
std::string mpi_support();

// 64-bit FNV-1a over every parameter's and buffer's name, shape and bytes.
uint64_t parameter_hash(const nn::Model& model);

// Every rank compares its hash with the others'; tinyr2::Error naming the ranks that
// disagree with rank 0 and `when` ("after loading", "at step 50").
void check_parameters_agree(Communicator& comm, const nn::Model& model, const std::string& when);

// Gradient buckets all-reduced as backward produces them. The blocks' tensors go in one
// bucket per block; a block's gradients are final once backward has run every tape node
// recorded from that block's start on (the tape marks the model records, see
// ForwardContext::block_marks). Everything else (embeddings, final norm) is a last bucket,
// reduced when backward is done. A tensor without a gradient on every rank stays without
// one (a flag per tensor travels with the bucket).
class GradientReducer {
 public:
  // params: every trainable tensor, in a fixed order shared by the ranks.
  GradientReducer(Communicator& comm, const std::vector<std::pair<std::string, Tensor>>& params,
                  int64_t n_blocks, bool overlap);

  // Called by the tape after each backward node with the nodes still to run, and the block
  // marks of this forward pass: posts the buckets that became final.
  void after_node(size_t remaining, const std::vector<size_t>& marks);
  // After backward: posts what is left, waits, writes sum / P into the gradients. Returns
  // the seconds spent waiting here (the all-reduce time not hidden behind backward).
  double finish();

  int64_t buckets_posted_early() const { return early_; }

 private:
  struct Bucket {
    std::vector<size_t> tensors;  // indices into params_
    std::vector<float> buffer;    // gradients then one defined-flag per tensor
    bool posted = false;
  };
  void post(Bucket& b);

  Communicator& comm_;
  std::vector<Tensor> params_;
  std::vector<Bucket> buckets_;  // one per block, then the rest (last)
  bool overlap_;
  int64_t early_ = 0;
};

}  // namespace tinyr2::train
