// Prefill attention on the CPU (engine/cpu/kernels/attention.cc) at the Hymba-1.5B head shape:
// one sequence feeds a chunk of N prompt rows after the 128 meta tokens (no ring: the start of a
// prompt), so row i attends 128 + i + 1 keys, all from the chunk's own fp32 K/V. Prints one JSON
// line per chunk length: milliseconds per layer and the fp32 FLOP rate of the score and
// weighted-sum products (compare with fma_peak).
//
// Usage: attention_prefill [threads] [rows...]   (default 2 128 512)
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "benchmarks/attention_shape.h"
#include "engine/cpu/kernels/cpu_kernels.h"

using hymba::engine::AttentionArgs;
using hymba::engine::SeqSpan;

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  std::vector<int> lengths;
  for (int i = 2; i < argc; ++i) lengths.push_back(std::atoi(argv[i]));
  if (lengths.empty()) lengths = {128, 512};
  omp_set_num_threads(threads);
  using namespace hymba::bench;
  const int nh = kHeads, kvh = kKvHeads, dq = kDq, dv = kDv, meta = kMeta;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (int len : lengths) {
    std::vector<float> prefix_k(meta * kvh * dq), prefix_v(meta * kvh * dv);
    std::vector<float> q(static_cast<size_t>(len) * nh * dq),
        kv(static_cast<size_t>(len) * kvh * (dq + dv)), out(static_cast<size_t>(len) * nh * dv);
    for (auto* v : {&prefix_k, &prefix_v, &q, &kv})
      for (auto& x : *v) x = dist(rng);
    std::vector<float> ring(kvh * (dq + dv));  // unused: the ring is empty
    const std::vector<SeqSpan> seqs = {SeqSpan{0, 0, len, meta}};
    AttentionArgs a =
        HeadShapeArgs(seqs, q.data(), out.data(), prefix_k.data(), prefix_v.data(), 1);
    a.k = kv.data();
    a.ld_k = kvh * (dq + dv);
    a.v = kv.data() + kvh * dq;
    a.ld_v = kvh * (dq + dv);
    a.ring_k = ring.data();
    a.ring_v = ring.data();
    double best = 1e30;
    for (int rep = 0; rep < 5; ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      hymba::engine::cpu::Attention(a);
      best = std::min(best,
                      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    double keys = 0;
    for (int i = 0; i < len; ++i) keys += meta + i + 1;
    const double flops = 2.0 * keys * nh * (dq + dv);
    std::printf("{\"threads\":%d,\"rows\":%d,\"ms_per_layer\":%.2f,\"gflop_s\":%.1f}\n", threads,
                len, best * 1e3, flops / best / 1e9);
  }
  return 0;
}
