// Every Backend op against a naive scalar reference written from HYMBA.md, instantiated per
// backend. Lengths and channel counts are deliberately not multiples of the kernels' internal
// block sizes. Backends that are not available on this machine skip.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <vector>

#include "engine/base/bf16.h"
#include "tests/backend/backend_test_base.h"

namespace hymba::engine {
namespace {

TEST_P(BackendOpsTest, GemmMatchesNaive) {
  for (int m : {1, 3, 17}) {
    const int k = 37, n = 29;
    auto x = Random(m * k, 1), w = Random(n * k, 2), y0 = Random(m * n, 3);
    auto packed = backend_->PackWeight(HostMatrix{w.data(), false, n, k});
    ASSERT_TRUE(packed.ok());
    DeviceBuffer dx = Upload(x), dy = Upload(y0);
    backend_->Gemm(dx.f32(), k, m, **packed, dy.f32(), n, /*accumulate=*/true);
    auto y = Download(dy, m * n);
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) {
        double ref = y0[i * n + j];
        for (int t = 0; t < k; ++t) ref += static_cast<double>(x[i * k + t]) * w[j * k + t];
        EXPECT_NEAR(y[i * n + j], ref, 1e-4) << i << "," << j;
      }
  }
}

// prefill_gemm_fp16: the many-row GEMMs run in AVX512-FP16 arithmetic (CPU only).
void CheckBf16Gemm(const std::string& device, bool prefill_gemm_fp16) {
  BackendOptions o;
  o.device = device;
  o.precision = "bf16";
  o.threads = 2;
  o.prefill_gemm_fp16 = prefill_gemm_fp16;
  auto bf16 = CreateBackend(o);
  if (!bf16.ok()) GTEST_SKIP() << "no such bf16 backend here: " << bf16.status();
  Backend& b = **bf16;
  // Every small-batch kernel width, the switch to the many-row path, and a K with a tail; then,
  // on the many-row path without AMX, a W of one panel (widened whole) and a K long enough that
  // W is widened in several column blocks, the last one partial.
  struct Shape {
    int m, k, n;
  };
  std::vector<Shape> shapes;
  for (int m : {1, 2, 3, 4, 5, 8, 9, 16, 17, 33, 65}) shapes.push_back({m, 100, 37});
  shapes.push_back({65, 100, 20});
  for (int m : {65, 130}) shapes.push_back({m, 4100, 70});
  for (const Shape& shape : shapes) {
    const int m = shape.m, k = shape.k, n = shape.n;
    auto x = Random(m * k, 12), w = Random(n * k, 13), y0 = Random(m * n, 14);
    std::vector<uint16_t> w16(w.size());
    for (size_t i = 0; i < w.size(); ++i) w16[i] = F32ToBf16Bits(w[i]);
    auto packed = b.PackWeight(HostMatrix{w16.data(), true, n, k});
    ASSERT_TRUE(packed.ok());
    auto dx = b.Allocate(x.size() * 4), dy = b.Allocate(y0.size() * 4);
    b.CopyToDevice(dx->data(), x.data(), x.size() * 4);
    b.CopyToDevice(dy->data(), y0.data(), y0.size() * 4);
    b.Gemm(dx->f32(), k, m, **packed, dy->f32(), n, /*accumulate=*/true);
    ASSERT_TRUE(b.TakeError().ok()) << "m " << m << ", k " << k;
    std::vector<float> y(m * n);
    b.CopyToHost(y.data(), dy->data(), y.size() * 4);
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) {
        double ref = y0[i * n + j], mag = 0;
        for (int t = 0; t < k; ++t) {
          ref += static_cast<double>(x[i * k + t]) * Bf16BitsToF32(w16[j * k + t]);
          mag += std::fabs(x[i * k + t] * w[j * k + t]);
        }
        // Inputs may be rounded to bf16 (AMX) or summed in fp16 runs: 2^-8 of Σ|x·w| at most.
        EXPECT_NEAR(y[i * n + j], ref, 1e-5 + mag / 256) << "m " << m << " at " << i << "," << j;
      }
  }
}

TEST_P(BackendOpsTest, Bf16GemmMatchesNaiveOnRoundedWeights) { CheckBf16Gemm(GetParam(), false); }

TEST_P(BackendOpsTest, Fp16PrefillGemmMatchesNaiveOnRoundedWeights) {
  if (GetParam() != "cpu") GTEST_SKIP() << "a CPU option";
  CheckBf16Gemm(GetParam(), true);
}

TEST_P(BackendOpsTest, RmsNormAndFuseNorms) {
  const int rows = 5, cols = 67;
  auto x = Random(rows * cols, 4), y = Random(rows * cols, 5), w = Random(cols, 6),
       w2 = Random(cols, 7);
  DeviceBuffer dx = Upload(x), dy = Upload(y), dw = Upload(w), dw2 = Upload(w2),
               out = Upload(std::vector<float>(rows * cols));
  backend_->RmsNorm(dx.f32(), cols, rows, cols, dw.f32(), 1e-6f, out.f32(), cols);
  auto n1 = Download(out, rows * cols);
  backend_->FuseNorms(dx.f32(), cols, dw.f32(), dy.f32(), cols, dw2.f32(), rows, cols, 1e-6f,
                      out.f32(), cols);
  auto fused = Download(out, rows * cols);
  for (int r = 0; r < rows; ++r) {
    double sx = 0, sy = 0;
    for (int c = 0; c < cols; ++c) {
      sx += x[r * cols + c] * x[r * cols + c];
      sy += y[r * cols + c] * y[r * cols + c];
    }
    const double ix = 1.0 / std::sqrt(sx / cols + 1e-6), iy = 1.0 / std::sqrt(sy / cols + 1e-6);
    for (int c = 0; c < cols; ++c) {
      const double a = w[c] * x[r * cols + c] * ix, b = w2[c] * y[r * cols + c] * iy;
      EXPECT_NEAR(n1[r * cols + c], a, 1e-5);
      EXPECT_NEAR(fused[r * cols + c], (a + b) / 2, 1e-5);
    }
  }
}

TEST_P(BackendOpsTest, RopeRotateHalfAtLargePositions) {
  const int rows = 3, heads = 2, dim = 8, ld = 20;
  auto x = Random(rows * ld, 8);
  const std::vector<int32_t> pos = {0, 7, 8191};
  const double base = 10000.0 * std::pow(2.0 * 8192 / 2048 - 1, 8.0 / 6.0);
  DeviceBuffer dx = Upload(x);
  backend_->Rope(dx.f32(), ld, rows, heads, dim, pos.data(), base);
  auto y = Download(dx, rows * ld);
  for (int r = 0; r < rows; ++r)
    for (int h = 0; h < heads; ++h)
      for (int j = 0; j < dim / 2; ++j) {
        const double angle = pos[r] * std::pow(base, -2.0 * j / dim);
        const double a = x[r * ld + h * dim + j], b = x[r * ld + h * dim + j + dim / 2];
        EXPECT_NEAR(y[r * ld + h * dim + j], a * std::cos(angle) - b * std::sin(angle), 1e-5);
        EXPECT_NEAR(y[r * ld + h * dim + j + dim / 2], b * std::cos(angle) + a * std::sin(angle),
                    1e-5);
      }
  for (int c = heads * dim; c < ld; ++c) EXPECT_EQ(y[c], x[c]);  // outside the heads: untouched
}

TEST_P(BackendOpsTest, ElementwiseActivations) {
  const int rows = 3, cols = 45;
  auto a = Random(rows * cols, 9, 4.0f), b = Random(rows * cols, 10), bias = Random(cols, 11, 3.0f);
  DeviceBuffer da = Upload(a), db = Upload(b), dbias = Upload(bias);
  backend_->GatedActivation(da.f32(), cols, db.f32(), cols, rows, cols, false);
  auto silu = Download(da, rows * cols);
  da = Upload(a);
  backend_->GatedActivation(da.f32(), cols, nullptr, 0, rows, cols, true);
  auto relu2 = Download(da, rows * cols);
  da = Upload(a);
  backend_->BiasSoftplus(da.f32(), cols, rows, cols, dbias.f32());
  auto sp = Download(da, rows * cols);
  for (int i = 0; i < rows * cols; ++i) {
    const double x = a[i];
    EXPECT_NEAR(silu[i], x * Sigmoid(x) * b[i], 1e-5 * (1 + std::fabs(x * b[i])));
    EXPECT_NEAR(relu2[i], x > 0 ? x * x : 0.0, 1e-5 * (1 + x * x));
    const double s = x + bias[i % cols];
    EXPECT_NEAR(sp[i], std::log1p(std::exp(s)), 1e-5 * (1 + std::fabs(s)));
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendOpsTest, ::testing::Values("cpu", "cuda"));

}  // namespace
}  // namespace hymba::engine
