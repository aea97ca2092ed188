// The bf16 GEMV (engine/cpu/kernels/gemv_bf16.h) on the Hymba-1.5B projection shapes: for each
// activation row count m, the weight bytes streamed per second and the fp32 FLOP rate, one JSON
// line per m. Compare the GB/s at m = 1 with stream_read's, and the GFLOP/s at m = 8 with the
// FMA peak (fma_peak).
//
// Usage: gemv_bf16 [threads] [repeats]
#include "engine/cpu/kernels/gemv_bf16.h"

#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

using hymba::engine::cpu::Bf16Panels;

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 3;
  omp_set_num_threads(threads);
  if (!hymba::engine::cpu::GemvBf16Available()) {
    std::printf("{\"error\":\"no AVX-512\"}\n");
    return 1;
  }
  // One layer of the 1.5B shape: in_proj, gate+up, out_proj, down (n, k).
  const int shapes[][2] = {{8960, 1600}, {11008, 1600}, {1600, 3200}, {1600, 5504}};
  // Enough layers that the weights (~1 GiB) are far past the L3, as in a real decode step.
  const int layers = 12;
  std::mt19937 rng(1);
  std::vector<Bf16Panels> weights;
  size_t bytes = 0;
  double flops_per_row = 0;
  for (int l = 0; l < layers; ++l)
    for (const auto& s : shapes) {
      std::vector<uint16_t> w(static_cast<size_t>(s[0]) * s[1]);
      for (auto& v : w) v = static_cast<uint16_t>(0x3c00 + (rng() & 0x1ff));
      weights.emplace_back(w.data(), s[0], s[1]);
      bytes += weights.back().bytes();
      flops_per_row += 2.0 * s[0] * s[1];
    }
  const int rows = hymba::engine::cpu::kGemvMaxRows;
  std::vector<float> x(rows * 5504), y(rows * 11008);
  for (auto& v : x) v = static_cast<float>(rng() % 1000) / 1000.0f;
  for (int m = 1; m <= hymba::engine::cpu::kGemvMaxRows; ++m) {
    double best = 1e30;
    for (int rep = 0; rep < repeats; ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      for (const Bf16Panels& w : weights)
        hymba::engine::cpu::GemvBf16(w, x.data(), w.k(), m, y.data(), w.n(), false);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (s < best) best = s;
    }
    std::printf(
        "{\"threads\":%d,\"m\":%d,\"weight_gib\":%.2f,\"ms\":%.1f,\"gb_s\":%.2f,\"gflop_s\":%.1f}"
        "\n",
        threads, m, bytes / 1073741824.0, best * 1e3, bytes / best / 1e9,
        flops_per_row * m / best / 1e9);
  }
  return 0;
}
