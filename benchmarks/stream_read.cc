// stream_read: the machine's sustained read bandwidth with N threads (a STREAM-like sum over a
// buffer far larger than the caches). Prints JSON {"threads":N,"read_gb_s":X,"best_gb_s":Y}.
// Usage: stream_read [threads] [MiB] [repeats]
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : omp_get_max_threads();
  const size_t mib = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 1024;
  const int repeats = argc > 3 ? std::atoi(argv[3]) : 10;
  omp_set_num_threads(threads);
  const size_t n = mib * 1024 * 1024 / sizeof(float);
  std::vector<float> data(n);
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; ++i) data[i] = static_cast<float>(i & 1023);
  double best = 0.0, total_s = 0.0;
  float sink = 0.0f;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    float sum = 0.0f;
    // 64 independent lanes (four AVX-512 accumulators) so the adds never wait on each other.
#pragma omp parallel reduction(+ : sum)
    {
      alignas(64) float acc[64] = {};
#pragma omp for schedule(static)
      for (size_t block = 0; block < n / 64; ++block) {
        const float* p = data.data() + block * 64;
#pragma omp simd aligned(acc : 64)
        for (int j = 0; j < 64; ++j) acc[j] += p[j];
      }
      for (float a : acc) sum += a;
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    sink += sum;
    total_s += s;
    const double gbs = n * sizeof(float) / s / 1e9;
    if (gbs > best) best = gbs;
  }
  std::printf("{\"threads\":%d,\"mib\":%zu,\"read_gb_s\":%.2f,\"best_gb_s\":%.2f,\"sink\":%g}\n",
              threads, mib, repeats * n * sizeof(float) / total_s / 1e9, best, sink);
  return 0;
}
