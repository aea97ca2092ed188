// The AVX512-FP16 many-row GEMM on bf16 panels, against double-precision loops: each output
// within the bound of rounding x to bf16, and over all outputs a smaller error than that rounding
// gives (the claim of gemm_f16.h), at any row or column magnitude and with outliers.
#include "engine/cpu/kernels/gemm_f16.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "engine/base/bf16.h"

namespace hymba::engine::cpu {
namespace {

struct Shape {
  int m, n, k;
};

// Row and column counts around the 12-row tile and the 32-column panel; k odd and even, below,
// at and across the 32-pair fp16 runs.
const Shape kShapes[] = {{1, 1, 1},     {12, 32, 64},    {13, 33, 3},  {25, 70, 160},
                         {40, 100, 37}, {130, 64, 1601}, {37, 96, 129}};

struct Errors {
  double f16_sq = 0, bf16_sq = 0;  // summed squared errors: this GEMM, x rounded to bf16
  int outputs = 0;
};

// Runs one GEMM and checks every output; row_scale and col_scale set magnitudes per row of x
// and per column of W, and with outliers each row's and column's first element is 10^4 times
// the others.
void Check(const Shape& s, bool accumulate, const std::vector<float>& row_scale,
           const std::vector<float>& col_scale, uint32_t seed, Errors* errors,
           bool outliers = false) {
  const int m = s.m, n = s.n, k = s.k, ld_x = k + 3, ld_y = n + 5;
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<uint16_t> w(static_cast<size_t>(n) * k);
  for (int c = 0; c < n; ++c)
    for (int t = 0; t < k; ++t)
      w[static_cast<size_t>(c) * k + t] =
          F32ToBf16Bits(0.05f * dist(rng) * col_scale[c] * (outliers && t == 0 ? 1e4f : 1.0f));
  std::vector<float> x(static_cast<size_t>(m) * ld_x, 1e30f);  // the stride gap is never read
  for (int r = 0; r < m; ++r)
    for (int t = 0; t < k; ++t)
      x[static_cast<size_t>(r) * ld_x + t] =
          dist(rng) * row_scale[r] * (outliers && t == 1 ? 1e4f : 1.0f);
  std::vector<float> y(static_cast<size_t>(m) * ld_y), y0(y.size());
  for (auto& v : y0) v = dist(rng);
  y = y0;

  const Bf16Panels panels(w.data(), n, k);
  GemmF16(panels, F16ColumnScales(panels), x.data(), ld_x, m, y.data(), ld_y, accumulate);

  for (int r = 0; r < m; ++r) {
    for (int c = 0; c < n; ++c) {
      double ref = accumulate ? y0[static_cast<size_t>(r) * ld_y + c] : 0.0, ref_bf16 = ref;
      double mag = 0;
      for (int t = 0; t < k; ++t) {
        const double wv = Bf16BitsToF32(w[static_cast<size_t>(c) * k + t]);
        const float xv = x[static_cast<size_t>(r) * ld_x + t];
        ref += xv * wv;
        ref_bf16 += Bf16BitsToF32(F32ToBf16Bits(xv)) * wv;
        mag += std::fabs(xv * wv);
      }
      const double got = y[static_cast<size_t>(r) * ld_y + c];
      // What rounding x to bf16 (AMX's path) may cost: 2^-8 of Σ|x·w|. The fp16 runs come near
      // that only where one product dominates a run (the outlier case).
      ASSERT_LE(std::fabs(got - ref), mag / 256 + 1e-6 * std::fabs(ref) + 1e-30)
          << m << "x" << n << "x" << k << " at " << r << "," << c;
      const double norm = mag > 0 ? mag : 1.0;
      errors->f16_sq += (got - ref) * (got - ref) / (norm * norm);
      errors->bf16_sq += (ref_bf16 - ref) * (ref_bf16 - ref) / (norm * norm);
      ++errors->outputs;
    }
    // The row stride gap stays untouched.
    for (int c = n; c < ld_y; ++c)
      ASSERT_EQ(y[static_cast<size_t>(r) * ld_y + c], y0[static_cast<size_t>(r) * ld_y + c]);
  }
}

TEST(GemmF16Test, WithinBf16RoundingOfTheInputsForEveryShape) {
  if (!GemmF16Available()) GTEST_SKIP() << "no AVX512-FP16 here";
  Errors errors;
  for (const Shape& s : kShapes)
    for (bool accumulate : {false, true})
      Check(s, accumulate, std::vector<float>(s.m, 1.0f), std::vector<float>(s.n, 1.0f),
            s.m * 31 + s.n * 7 + s.k + accumulate, &errors);
  ASSERT_GT(errors.outputs, 0);
  EXPECT_LT(errors.f16_sq, errors.bf16_sq) << "over " << errors.outputs << " outputs";
}

TEST(GemmF16Test, ScalesKeepRowsAndColumnsOfAnyMagnitude) {
  if (!GemmF16Available()) GTEST_SKIP() << "no AVX512-FP16 here";
  // Rows far outside fp16's range (either side) and a zero row; columns of small weights.
  const Shape s{14, 64, 300};
  std::vector<float> rows = {1e6f,  1e-6f, 0.0f,  3e4f,     1.0f, 1e-20f, 7.0f,
                             1e20f, 0.5f,  1e-3f, 65504.0f, 2.0f, 1e3f,   1e-1f};
  std::vector<float> cols(s.n);
  for (int c = 0; c < s.n; ++c) cols[c] = std::ldexp(1.0f, -(c % 24));
  Errors errors;
  Check(s, /*accumulate=*/false, rows, cols, 5, &errors);
  // One element 10^4 times the rest in every row of x and every column of W: the scales follow
  // the outliers, and the small values must keep their precision.
  Check(s, /*accumulate=*/true, std::vector<float>(s.m, 1.0f), std::vector<float>(s.n, 1.0f), 6,
        &errors, /*outliers=*/true);
  EXPECT_LT(errors.f16_sq, errors.bf16_sq);
}

TEST(GemmF16Test, WeightsOfManyBlocksPerThread) {
  if (!GemmF16Available()) GTEST_SKIP() << "no AVX512-FP16 here";
  // ~3 MiB of fp16 W: several ~1 MiB blocks for each of the threads, the last one short.
  const Shape s{13, 1000, 1600};
  Errors errors;
  Check(s, /*accumulate=*/false, std::vector<float>(s.m, 1.0f), std::vector<float>(s.n, 1.0f), 7,
        &errors);
  EXPECT_LT(errors.f16_sq, errors.bf16_sq);
}

TEST(GemmF16Test, ColumnScalesArePowersOfTwoPuttingTheLargestWeightIn16To32) {
  const int n = 40, k = 9;
  std::vector<uint16_t> w(static_cast<size_t>(n) * k, 0);
  for (int c = 0; c < n; ++c)
    for (int t = 0; t < k; ++t)
      w[static_cast<size_t>(c) * k + t] = F32ToBf16Bits((t == c % k ? -3.0f : 0.25f) * (c + 1));
  w[0] = F32ToBf16Bits(0.0f);  // column 0: 0.25 everywhere but a zero
  const Bf16Panels panels(w.data(), n, k);
  if (!GemmF16Available()) GTEST_SKIP() << "no AVX512-FP16 here";
  const std::vector<float> scale = F16ColumnScales(panels);
  ASSERT_EQ(scale.size(), static_cast<size_t>(n));
  for (int c = 0; c < n; ++c) {
    const float largest = c == 0 ? 0.25f : 3.0f * (c + 1);
    int e = 0;
    EXPECT_EQ(std::frexp(scale[c], &e), 0.5f) << c;  // a power of two
    EXPECT_GE(largest * scale[c], 16.0f) << c;
    EXPECT_LT(largest * scale[c], 32.0f) << c;
  }
}

}  // namespace
}  // namespace hymba::engine::cpu
