// gemm_peak: oneDNN matmul throughput with pre-packed weights (the engine's GEMM path) at a
// prefill shape and decode shapes, f32 and bf16. Prints one JSON object.
// Usage: gemm_peak [threads] [K] [N]
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <vector>

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

static double Seconds(int m, int k, int n, dt type, dnnl::engine& eng, dnnl::stream& s) {
  dnnl::matmul::primitive_desc pd0(
      dnnl::matmul::desc(dnnl::memory::desc({16, k}, type, tag::ab),
                         dnnl::memory::desc({k, n}, type, tag::any),
                         dnnl::memory::desc({16, n}, dt::f32, tag::ab)),
      eng);
  dnnl::memory w(pd0.weights_desc(), eng);
  std::memset(w.get_data_handle(), 0x3c, pd0.weights_desc().get_size());  // touch every page
  dnnl::matmul::primitive_desc pd(
      dnnl::matmul::desc(dnnl::memory::desc({m, k}, type, tag::ab), pd0.weights_desc(),
                         dnnl::memory::desc({m, n}, dt::f32, tag::ab)),
      eng);
  dnnl::matmul mm(pd);
  dnnl::memory a(pd.src_desc(), eng), c(pd.dst_desc(), eng);
  std::memset(a.get_data_handle(), 0x3c, pd.src_desc().get_size());
  mm.execute(s, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, c}});
  s.wait();
  double best = 1e30;
  for (int r = 0; r < 5; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    mm.execute(s, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, c}});
    s.wait();
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (t < best) best = t;
  }
  return best;
}

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : omp_get_max_threads();
  const int k = argc > 2 ? std::atoi(argv[2]) : 1600;
  const int n = argc > 3 ? std::atoi(argv[3]) : 11008;
  omp_set_num_threads(threads);
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream s(eng);
  std::string out = "{\"threads\":" + std::to_string(threads) + ",\"k\":" + std::to_string(k) +
                    ",\"n\":" + std::to_string(n);
  for (dt type : {dt::f32, dt::bf16}) {
    const char* name = type == dt::f32 ? "f32" : "bf16";
    for (int m : {1, 8, 512}) {
      const double t = Seconds(m, k, n, type, eng, s);
      char buf[128];
      std::snprintf(buf, sizeof(buf), ",\"%s_m%d_gflop_s\":%.1f", name, m,
                    2.0 * m * k * n / t / 1e9);
      out += buf;
    }
  }
  std::printf("%s}\n", out.c_str());
  return 0;
}
