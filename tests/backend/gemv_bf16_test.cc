// The bf16 column-panel layout and the GEMV that streams it, against plain loops over the
// checkpoint layout.
#include "engine/cpu/kernels/gemv_bf16.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "engine/base/bf16.h"

namespace hymba::engine::cpu {
namespace {

std::vector<uint16_t> RandomBf16(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<uint16_t> w(count);
  for (auto& v : w) v = F32ToBf16Bits(dist(rng));
  return w;
}

// Shapes around the panel width (32 columns) and the pair size (2), odd and even k.
const int kShapes[][2] = {{1, 1},   {31, 3},   {32, 2},   {33, 64},
                          {64, 65}, {100, 37}, {70, 160}, {48, 40}};

TEST(Bf16PanelsTest, WidenAndUnpackGiveTheCheckpointLayoutBack) {
  for (const auto& s : kShapes) {
    const int n = s[0], k = s[1];
    const auto w = RandomBf16(static_cast<size_t>(n) * k, n * 131 + k);
    const Bf16Panels panels(w.data(), n, k);
    EXPECT_EQ(panels.panels(), (n + 31) / 32);
    EXPECT_EQ(panels.pairs(), (k + 1) / 2);
    std::vector<float> wide(static_cast<size_t>(n) * k, -7.0f);
    std::vector<uint16_t> dense(static_cast<size_t>(n) * k, 0xFFFF);
    WidenBf16Panels(panels, wide.data());
    UnpackBf16Panels(panels, dense.data());
    for (int c = 0; c < k; ++c)
      for (int j = 0; j < n; ++j) {
        const uint16_t bits = w[static_cast<size_t>(j) * k + c];
        ASSERT_EQ(dense[static_cast<size_t>(j) * k + c], bits)
            << n << "x" << k << " " << j << "," << c;
        ASSERT_EQ(wide[static_cast<size_t>(j) * k + c], Bf16BitsToF32(bits))
            << n << "x" << k << " " << j << "," << c;
      }
  }
}

TEST(GemvBf16Test, MatchesPlainLoopsForEveryRowCount) {
  if (!GemvBf16Available()) GTEST_SKIP() << "no AVX-512 here";
  for (const auto& s : kShapes) {
    const int n = s[0], k = s[1];
    const auto w = RandomBf16(static_cast<size_t>(n) * k, n * 7 + k);
    const Bf16Panels panels(w.data(), n, k);
    for (int m = 1; m <= kGemvMaxRows; ++m)
      for (bool accumulate : {false, true}) {
        // Strided rows on both sides, as the engine passes column blocks of wider buffers.
        const int ld_x = k + 3, ld_y = n + 5;
        std::mt19937 rng(m * 1000 + n + k);
        std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
        std::vector<float> x(static_cast<size_t>(m) * ld_x), y(static_cast<size_t>(m) * ld_y);
        for (auto& v : x) v = dist(rng);
        for (auto& v : y) v = dist(rng);
        const std::vector<float> y0 = y;
        GemvBf16(panels, x.data(), ld_x, m, y.data(), ld_y, accumulate);
        for (int r = 0; r < m; ++r) {
          for (int j = 0; j < n; ++j) {
            double ref = accumulate ? y0[static_cast<size_t>(r) * ld_y + j] : 0.0, mag = 0.0;
            for (int c = 0; c < k; ++c) {
              const double p = static_cast<double>(x[static_cast<size_t>(r) * ld_x + c]) *
                               Bf16BitsToF32(w[static_cast<size_t>(j) * k + c]);
              ref += p;
              mag += std::fabs(p);
            }
            ASSERT_NEAR(y[static_cast<size_t>(r) * ld_y + j], ref, 1e-6 * (1.0 + mag))
                << n << "x" << k << " m " << m << " at " << r << "," << j;
          }
          // Past n the output row is untouched.
          for (int j = n; j < ld_y; ++j)
            ASSERT_EQ(y[static_cast<size_t>(r) * ld_y + j], y0[static_cast<size_t>(r) * ld_y + j]);
        }
      }
  }
}

}  // namespace
}  // namespace hymba::engine::cpu
