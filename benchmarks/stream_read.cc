// stream_read: the machine's sustained DRAM read bandwidth with N threads: a STREAM-like sum over
// a buffer far larger than the caches (the default 2 GiB is well past this machine kind's
// 260 MiB L3). Each thread reads four far-apart runs of its share at once, as a GEMV streams
// several weight rows, so the hardware prefetchers see the same access pattern.
// Prints JSON {"threads":N,"read_gb_s":mean,"best_gb_s":best}.
// Usage: stream_read [threads] [MiB] [repeats]
#include <immintrin.h>
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

constexpr int kRuns = 4;

float SumShare(const float* data, size_t n) {
  float total = 0.0f;
#pragma omp parallel reduction(+ : total)
  {
    const size_t share = n / omp_get_num_threads();
    const size_t run = share / kRuns / 16 * 16;
    const float* base = data + share * omp_get_thread_num();
    __m512 acc[kRuns];
    for (auto& a : acc) a = _mm512_setzero_ps();
    for (size_t i = 0; i < run; i += 16)
      for (int r = 0; r < kRuns; ++r)
        acc[r] = _mm512_add_ps(acc[r], _mm512_loadu_ps(base + r * run + i));
    for (auto& a : acc) total += _mm512_reduce_add_ps(a);
  }
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : omp_get_max_threads();
  const size_t mib = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 2048;
  const int repeats = argc > 3 ? std::atoi(argv[3]) : 8;
  omp_set_num_threads(threads);
  const size_t n = mib * 1024 * 1024 / sizeof(float);
  std::vector<float> data(n);
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; ++i) data[i] = static_cast<float>(i & 1023);
  double best = 0.0, total_s = 0.0;
  float sink = 0.0f;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    sink += SumShare(data.data(), n);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    total_s += s;
    if (n * sizeof(float) / s / 1e9 > best) best = n * sizeof(float) / s / 1e9;
  }
  std::printf("{\"threads\":%d,\"mib\":%zu,\"read_gb_s\":%.2f,\"best_gb_s\":%.2f,\"sink\":%g}\n",
              threads, mib, repeats * n * sizeof(float) / total_s / 1e9, best, sink);
  return 0;
}
