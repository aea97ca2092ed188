// Many-row bf16 GEMMs (engine/cpu/kernels/gemm.h, CpuWeight::Apply) at prefill shapes of the
// Hymba-1.5B projections, the default path (fp32 FMA on widened weights, or AMX) against the
// AVX512-FP16 one (`--prefill-gemm fp16`), interleaved: one JSON line per path and row count with
// the best of `repeats` runs in GFLOP/s. Compare with fma_peak's fp32 and fp16 FMA rates.
//
// Usage: gemm_rows [threads] [repeats] [rows...]   (default rows: 128 512)
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <vector>

#include "engine/base/bf16.h"
#include "engine/cpu/kernels/gemm.h"
#include "engine/cpu/kernels/gemm_f16.h"

namespace {

using hymba::engine::HostMatrix;
using hymba::engine::cpu::CpuWeight;

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 5;
  std::vector<int> rows;
  for (int i = 3; i < argc; ++i) rows.push_back(std::atoi(argv[i]));
  if (rows.empty()) rows = {128, 512};
  omp_set_num_threads(threads);
  const bool fp16 = hymba::engine::cpu::GemmF16Available();
  // One layer's projections of the 1.5B shape (n, k): in_proj, gate+up, out_proj, down.
  const int shapes[][2] = {{8960, 1600}, {11008, 1600}, {1600, 3200}, {1600, 5504}};
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  struct Weight {
    std::unique_ptr<CpuWeight> packed[2];  // default, fp16
  };
  std::vector<Weight> weights;
  double flop_per_row = 0;
  int max_k = 0, max_n = 0;
  for (const auto& s : shapes) {
    const int n = s[0], k = s[1];
    std::vector<uint16_t> w(static_cast<size_t>(n) * k);
    for (auto& v : w) v = hymba::F32ToBf16Bits(0.02f * dist(rng));
    Weight weight;
    for (int path = 0; path < (fp16 ? 2 : 1); ++path) {
      auto packed = CpuWeight::Pack(HostMatrix{w.data(), true, n, k}, true, path == 1);
      if (!packed.ok()) {
        std::printf("{\"error\":\"%s\"}\n", packed.status().ToString().c_str());
        return 1;
      }
      weight.packed[path] = std::move(*packed);
    }
    weights.push_back(std::move(weight));
    flop_per_row += 2.0 * n * k;
    max_k = std::max(max_k, k);
    max_n = std::max(max_n, n);
  }
  for (int m : rows) {
    std::vector<float> x(static_cast<size_t>(m) * max_k), y(static_cast<size_t>(m) * max_n);
    for (auto& v : x) v = dist(rng);
    double best[2] = {1e30, 1e30};
    for (int r = 0; r < repeats; ++r) {
      for (int path = 0; path < (fp16 ? 2 : 1); ++path) {
        const auto t0 = std::chrono::steady_clock::now();
        for (const Weight& w : weights) {
          const CpuWeight& p = *w.packed[path];
          p.Apply(x.data(), p.k(), m, y.data(), p.n(), false);
        }
        const double s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        best[path] = std::min(best[path], s);
      }
    }
    for (int path = 0; path < (fp16 ? 2 : 1); ++path)
      std::printf("{\"threads\":%d,\"m\":%d,\"path\":\"%s\",\"ms\":%.2f,\"gflop_s\":%.1f}\n",
                  threads, m, path == 0 ? "default" : "fp16", best[path] * 1e3,
                  flop_per_row * m / best[path] / 1e9);
  }
  return 0;
}
