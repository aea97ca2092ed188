// Decode attention on the CPU (engine/cpu/kernels/attention.cc) at the Hymba-1.5B head shape:
// one query row per sequence against a context of N positions (plus 128 meta tokens), over many
// layers' caches so that, as in a real decode step, K and V come from DRAM and not the L3.
// Prints one JSON line per context: microseconds per layer and the K/V bytes read per second.
//
// Usage: attention_decode [threads] [batch] [contexts...]   (default 2 1 256 1024 4096)
//   env KV_MIB: the K/V spread over the layers (default 512; 1 keeps one layer in the caches)
#include <omp.h>

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
  const int batch = argc > 2 ? std::atoi(argv[2]) : 1;
  std::vector<int> contexts;
  for (int i = 3; i < argc; ++i) contexts.push_back(std::atoi(argv[i]));
  if (contexts.empty()) contexts = {256, 1024, 4096};
  omp_set_num_threads(threads);
  using namespace hymba::bench;
  const int nh = kHeads, kvh = kKvHeads, dq = kDq, dv = kDv, meta = kMeta;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (int context : contexts) {
    const int capacity = context + 16;
    const size_t ring_rows = static_cast<size_t>(batch) * capacity * kvh;
    // Enough layers for ~512 MiB of K/V, past the L3.
    const size_t kv_mib = getenv("KV_MIB") ? atoi(getenv("KV_MIB")) : 512;
    const int layers = std::max<size_t>(1, (kv_mib << 20) / (ring_rows * (dq + dv) * 4));
    std::vector<std::vector<float>> ring_k(layers), ring_v(layers);
    for (int l = 0; l < layers; ++l) {
      ring_k[l].resize(ring_rows * dq);
      ring_v[l].resize(ring_rows * dv);
      for (auto& x : ring_k[l]) x = dist(rng);
      for (auto& x : ring_v[l]) x = dist(rng);
    }
    std::vector<float> prefix_k(meta * kvh * dq), prefix_v(meta * kvh * dv);
    for (auto& x : prefix_k) x = dist(rng);
    for (auto& x : prefix_v) x = dist(rng);
    std::vector<float> q(batch * nh * dq), k(batch * kvh * dq), v(batch * kvh * dv),
        out(batch * nh * dv);
    for (auto& x : q) x = dist(rng);
    std::vector<SeqSpan> seqs;
    for (int b = 0; b < batch; ++b) seqs.push_back(SeqSpan{b, b, 1, meta + context});
    AttentionArgs a =
        HeadShapeArgs(seqs, q.data(), out.data(), prefix_k.data(), prefix_v.data(), capacity);
    a.k = k.data();
    a.ld_k = kvh * dq;
    a.v = v.data();
    a.ld_v = kvh * dv;
    double best = 1e30;
    for (int rep = 0; rep < std::max(3, 64 / layers); ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      for (int l = 0; l < layers; ++l) {
        a.ring_k = ring_k[l].data();
        a.ring_v = ring_v[l].data();
        hymba::engine::cpu::Attention(a);
      }
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      best = std::min(best, s / layers);
    }
    const double bytes = static_cast<double>(batch) * (context + meta) * kvh * (dq + dv) * 4;
    std::printf(
        "{\"threads\":%d,\"batch\":%d,\"context\":%d,\"us_per_layer\":%.1f,\"kv_gb_s\":%.2f}\n",
        threads, batch, context, best * 1e6, bytes / best / 1e9);
  }
  return 0;
}
