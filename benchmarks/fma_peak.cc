// fma_peak: the machine's peak rate of the AVX-512 multiply-accumulate instructions a GEMM could
// be built on, per thread count: fp32 FMA (vfmadd231ps), bf16 pair dot products (vdpbf16ps),
// int8 dot products (vpdpbusd) and fp16 FMA (vfmadd231ph). Twelve independent accumulators per
// thread, so the figures are throughput, not latency. Prints one JSON line per thread count with
// the instruction rate and the multiply-add rate in G(FL)OP/s (2 operations per multiply-add).
//
// Usage: fma_peak [max_threads]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

#define HY_REPEAT12(OP) OP(0) OP(1) OP(2) OP(3) OP(4) OP(5) OP(6) OP(7) OP(8) OP(9) OP(10) OP(11)
#define HY_FMA_PS(i) "vfmadd231ps %%zmm30, %%zmm31, %%zmm" #i "\n"
#define HY_DP_BF16(i) "vdpbf16ps %%zmm30, %%zmm31, %%zmm" #i "\n"
#define HY_DP_BUSD(i) "vpdpbusd %%zmm30, %%zmm31, %%zmm" #i "\n"
#define HY_FMA_PH(i) "vfmadd231ph %%zmm30, %%zmm31, %%zmm" #i "\n"

struct Kind {
  const char* name;
  const char* cpu_feature;
  int macs_per_instruction;  // multiply-adds per 512-bit instruction
};
const Kind kKinds[] = {{"fp32_fma", "avx512f", 16},
                       {"bf16_dot", "avx512bf16", 32},
                       {"int8_dot", "avx512vnni", 64},
                       {"fp16_fma", "avx512fp16", 32}};

bool Supported(int kind) {
  __builtin_cpu_init();
  switch (kind) {
    case 0:
      return __builtin_cpu_supports("avx512f");
    case 1:
      return __builtin_cpu_supports("avx512bf16");
    case 2:
      return __builtin_cpu_supports("avx512vnni");
    default:
      return __builtin_cpu_supports("avx512fp16");
  }
}

// Instructions per second on this thread.
double Run(int kind, long iterations) {
  const auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < iterations; ++i) {
    switch (kind) {
      case 0:
        asm volatile(HY_REPEAT12(HY_FMA_PS)::: "memory");
        break;
      case 1:
        asm volatile(HY_REPEAT12(HY_DP_BF16)::: "memory");
        break;
      case 2:
        asm volatile(HY_REPEAT12(HY_DP_BUSD)::: "memory");
        break;
      default:
        asm volatile(HY_REPEAT12(HY_FMA_PH)::: "memory");
        break;
    }
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return iterations * 12.0 / s;
}

}  // namespace

int main(int argc, char** argv) {
  const int max_threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const long iterations = 50'000'000;
  for (int threads = 1; threads <= max_threads; ++threads) {
    std::printf("{\"threads\":%d", threads);
    for (int kind = 0; kind < 4; ++kind) {
      if (!Supported(kind)) continue;
      std::vector<double> rates(threads);
      std::vector<std::thread> pool;
      for (int t = 0; t < threads; ++t)
        pool.emplace_back([&rates, t, kind, iterations] { rates[t] = Run(kind, iterations); });
      for (auto& t : pool) t.join();
      double total = 0;
      for (double r : rates) total += r;
      std::printf(",\"%s_ginstr_s\":%.2f,\"%s_gop_s\":%.1f", kKinds[kind].name, total / 1e9,
                  kKinds[kind].name, total * kKinds[kind].macs_per_instruction * 2 / 1e9);
    }
    std::printf("}\n");
  }
  return 0;
}
