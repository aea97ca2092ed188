// The CUDA backend's ops against the CPU backend on model-like shapes (Hymba-1.5B head dims,
// GQA groups of 5, rings that wrap, decode batches that split their keys), both in f32 precision;
// and the bf16 GEMM against its exact definition (inputs and weights rounded to bf16, fp32 sums).
#include <gtest/gtest.h>

#include <vector>

#include "tests/gpu/gpu_test_base.h"

namespace hymba::engine {
namespace {

struct AttentionCase {
  std::vector<SeqSpan> seqs;
  int slots = 3, window = 0, capacity = 0;
  bool bf16 = false;
  int nh = 10, kvh = 2, dq = 64, dv = 128;  // Hymba-1.5B head dims, GQA groups of 5
};

// Runs one Attention call with the same random inputs on `b`; returns out [T, nh, dv].
std::vector<float> RunAttention(OnBackend& b, const AttentionCase& c) {
  const int nh = c.nh, kvh = c.kvh, dq = c.dq, dv = c.dv, M = 16;
  int rows = 0;
  for (const SeqSpan& s : c.seqs) rows = std::max(rows, s.row + s.len);
  const int ld_q = nh * dq + 7, ld_kv = kvh * (dq + dv);
  auto q = RandomVector(static_cast<size_t>(rows) * ld_q, 1);
  auto kv = RandomVector(static_cast<size_t>(rows) * ld_kv, 2);
  auto pk = RandomVector(M * kvh * dq, 3), pv = RandomVector(M * kvh * dv, 4);
  auto rk = RandomVector(static_cast<size_t>(c.slots) * c.capacity * kvh * dq, 5);
  auto rv = RandomVector(static_cast<size_t>(c.slots) * c.capacity * kvh * dv, 6);
  auto cache = [&](const std::vector<float>& v) { return c.bf16 ? b.UploadBf16(v) : b.Upload(v); };
  DeviceBuffer dq_buf = b.Upload(q), dkv = b.Upload(kv), dpk = cache(pk), dpv = cache(pv),
               drk = cache(rk), drv = cache(rv),
               out = b.Upload(std::vector<float>(static_cast<size_t>(rows) * nh * dv));
  AttentionArgs a;
  a.seqs = c.seqs;
  a.q = dq_buf.f32();
  a.ld_q = ld_q;
  a.k = dkv.f32();
  a.ld_k = ld_kv;
  a.v = dkv.f32() + kvh * dq;
  a.ld_v = ld_kv;
  a.out = out.f32();
  a.ld_out = nh * dv;
  a.cache_bf16 = c.bf16;
  a.prefix_k = dpk.data();
  a.prefix_v = dpv.data();
  a.prefix_len = M;
  a.ring_k = drk.data();
  a.ring_v = drv.data();
  a.capacity = c.capacity;
  a.window = c.window;
  a.num_meta = M;
  a.nh = nh;
  a.kvh = kvh;
  a.dq = dq;
  a.dv = dv;
  a.scale = 1.0f / std::sqrt(static_cast<float>(dq));
  b.backend->Attention(a);
  return b.Download(out, static_cast<size_t>(rows) * nh * dv);
}

TEST_F(GpuTest, AttentionMatchesCpu) {
  const int M = 16;
  for (int variant = 0; variant < 4; ++variant) {
    AttentionCase c;
    c.window = variant % 2 ? 48 : 0;
    c.capacity = c.window > 0 ? c.window : 400;
    c.bf16 = variant >= 2;
    // A decode far into a wrapped ring, a chunk longer than the window, a fresh prompt.
    c.seqs = {{2, 0, 1, M + 150}, {0, 1, 70, M + 20}, {1, 71, 5, M}};
    const auto want = RunAttention(cpu_, c);
    EXPECT_LT(ScaledMaxError(RunAttention(gpu_, c), want), 2e-5) << "mixed batch " << variant;
    // Decode only: one-row tiles whose keys are split over several blocks.
    c.seqs = {{0, 0, 1, M + 300 % c.capacity}, {1, 1, 1, M + 7}, {2, 2, 1, M + 151}};
    const auto want_decode = RunAttention(cpu_, c);
    EXPECT_LT(ScaledMaxError(RunAttention(gpu_, c), want_decode), 2e-5) << "decode " << variant;
  }
}

// Odd head dims in a bf16 cache cannot be copied in 4-byte words: the element-wise load path.
TEST_F(GpuTest, AttentionWithOddHeadDimsMatchesCpu) {
  const int M = 16;
  AttentionCase c;
  c.window = 48;
  c.capacity = 48;
  c.bf16 = true;
  c.nh = 6;
  c.kvh = 2;
  c.dq = 7;
  c.dv = 9;
  c.seqs = {{2, 0, 1, M + 150}, {0, 1, 70, M + 20}, {1, 71, 5, M}};
  const auto want = RunAttention(cpu_, c);
  EXPECT_LT(ScaledMaxError(RunAttention(gpu_, c), want), 2e-5);
}

TEST_F(GpuTest, SelectiveScanMatchesCpu) {
  for (int N : {16, 64}) {
    const int I = 200, T = 38, slots = 2, ld = I + 3;
    std::vector<SeqSpan> seqs = {{1, 0, 37, 0}, {0, 37, 1, 0}};
    auto xc = RandomVector(T * ld, 10), z = RandomVector(T * ld, 11), dt = RandomVector(T * ld, 12);
    for (auto& d : dt) d = std::fabs(d) * 0.05f + 1e-3f;
    auto bc = RandomVector(T * 2 * N, 13), a = RandomVector(I * N, 14), d = RandomVector(I, 15);
    for (auto& x : a) x = -std::exp(0.5f * x);
    const auto state0 = RandomVector(static_cast<size_t>(slots) * I * N, 16, 0.3f);
    auto run = [&](OnBackend& b, std::vector<float>* state) {
      DeviceBuffer bx = b.Upload(xc), bz = b.Upload(z), bdt = b.Upload(dt), bbc = b.Upload(bc),
                   ba = b.Upload(a), bd = b.Upload(d), bs = b.Upload(state0),
                   by = b.Upload(std::vector<float>(T * I));
      SelectiveScanArgs s;
      s.seqs = seqs;
      s.xc = bx.f32();
      s.ld_xc = ld;
      s.dt = bdt.f32();
      s.ld_dt = ld;
      s.b = bbc.f32();
      s.ld_b = 2 * N;
      s.c = bbc.f32() + N;
      s.ld_c = 2 * N;
      s.z = bz.f32();
      s.ld_z = ld;
      s.y = by.f32();
      s.ld_y = I;
      s.a = ba.f32();
      s.d = bd.f32();
      s.state = bs.f32();
      s.channels = I;
      s.d_state = N;
      b.backend->SelectiveScan(s);
      *state = b.Download(bs, state0.size());
      return b.Download(by, T * I);
    };
    std::vector<float> state_gpu, state_cpu;
    const auto y_gpu = run(gpu_, &state_gpu), y_cpu = run(cpu_, &state_cpu);
    EXPECT_LT(ScaledMaxError(y_gpu, y_cpu), 1e-5) << "N " << N;
    EXPECT_LT(ScaledMaxError(state_gpu, state_cpu), 1e-5) << "N " << N;
  }
}

TEST_F(GpuTest, CausalConvMatchesCpu) {
  const int I = 300, Kc = 4, slots = 3, ld = 2 * I;
  // Entries shorter and longer than the history.
  std::vector<SeqSpan> seqs = {{2, 0, 1, 0}, {0, 1, 9, 0}, {1, 10, 2, 0}};
  const int T = 12;
  auto x = RandomVector(T * ld, 20), w = RandomVector(Kc * I, 21, 0.5f), bias = RandomVector(I, 22);
  const auto state0 = RandomVector(static_cast<size_t>(slots) * (Kc - 1) * I, 23);
  auto run = [&](OnBackend& b, std::vector<float>* state) {
    DeviceBuffer bx = b.Upload(x), bw = b.Upload(w), bb = b.Upload(bias), bs = b.Upload(state0),
                 out = b.Upload(std::vector<float>(T * I));
    CausalConvArgs c;
    c.seqs = seqs;
    c.x = bx.f32() + I;  // the x half of an [x | z]-like matrix
    c.ld_x = ld;
    c.out = out.f32();
    c.ld_out = I;
    c.weight = bw.f32();
    c.bias = bb.f32();
    c.state = bs.f32();
    c.channels = I;
    c.kernel = Kc;
    b.backend->CausalConv(c);
    *state = b.Download(bs, state0.size());
    return b.Download(out, T * I);
  };
  std::vector<float> state_gpu, state_cpu;
  EXPECT_LT(ScaledMaxError(run(gpu_, &state_gpu), run(cpu_, &state_cpu)), 1e-5);
  EXPECT_EQ(state_gpu, state_cpu);
}

TEST_F(GpuTest, Bf16GemmIsFp32SumsOfBf16Products) {
  auto bf16 = MakeBackend("cuda", "bf16");
  ASSERT_TRUE(bf16.ok()) << bf16.status();
  OnBackend b{std::move(bf16).value()};
  const int k = 320, n = 200;
  auto w = RandomVector(n * k, 30);
  auto packed = b.backend->PackWeight(HostMatrix{w.data(), false, n, k});
  ASSERT_TRUE(packed.ok()) << packed.status();
  for (int m : {1, 7, 128}) {
    const int ld_x = k + 5, ld_y = n + 3;
    auto x = RandomVector(static_cast<size_t>(m) * ld_x, 31 + m);
    auto y0 = RandomVector(static_cast<size_t>(m) * ld_y, 32 + m);
    DeviceBuffer dx = b.Upload(x), dy = b.Upload(y0);
    b.backend->Gemm(dx.f32(), ld_x, m, **packed, dy.f32(), ld_y, /*accumulate=*/true);
    const auto y = b.Download(dy, y0.size());
    double worst = 0;
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) {
        double ref = y0[i * ld_y + j], mag = std::fabs(ref);
        for (int t = 0; t < k; ++t) {
          const double p = static_cast<double>(Bf16BitsToF32(F32ToBf16Bits(x[i * ld_x + t]))) *
                           Bf16BitsToF32(F32ToBf16Bits(w[j * k + t]));
          ref += p;
          mag += std::fabs(p);
        }
        worst = std::max(worst, std::fabs(y[i * ld_y + j] - ref) / mag);
      }
    EXPECT_LT(worst, 1e-5) << "m " << m;  // fp32 accumulation of exact bf16 products
  }
  EXPECT_TRUE(b.backend->TakeError().ok());
}

TEST_F(GpuTest, EmbedRopeAndRowOpsMatchCpu) {
  const int V = 50, H = 96, T = 6;
  auto table = RandomVector(V * H, 40);
  const std::vector<int32_t> ids = {3, 49, 0, 3, 17, 8};
  const std::vector<int32_t> positions = {0, 1, 127, 128, 4095, 8191};
  const double base = 10000.0 * std::pow(2.0 * 8192 / 2048 - 1, 64.0 / 62.0);
  auto run = [&](OnBackend& b) {
    DeviceBuffer tbl = b.UploadBf16(table), out = b.Upload(std::vector<float>(T * (H + 4)));
    b.backend->Embed(ids.data(), T, tbl.data(), true, H, out.f32(), H + 4);
    b.backend->Rope(out.f32(), H + 4, T, 1, 64, positions.data(), base);  // one 64-dim head
    DeviceBuffer gathered = b.Upload(std::vector<float>(3 * H));
    const std::vector<int32_t> rows = {5, 0, 3};
    b.backend->GatherRows(out.f32(), H + 4, rows.data(), 3, H, gathered.f32(), H);
    auto result = b.Download(out, T * (H + 4));
    const auto g = b.Download(gathered, 3 * H);
    result.insert(result.end(), g.begin(), g.end());
    return result;
  };
  EXPECT_LT(ScaledMaxError(run(gpu_), run(cpu_)), 1e-6);
}

TEST_F(GpuTest, KvWriteKeepsTheLastCapacityRows) {
  const int kvh = 2, dq = 8, dv = 16, cap = 5, M = 4, slots = 2;
  std::vector<SeqSpan> seqs = {{1, 0, 12, M + 3}, {0, 12, 2, M + 4}};  // wraps; short
  auto kv = RandomVector(14 * kvh * (dq + dv), 50);
  for (bool bf16 : {false, true}) {
    auto run = [&](OnBackend& b) {
      DeviceBuffer src = b.Upload(kv);
      const size_t elem = bf16 ? 2 : 4;
      auto rk = b.backend->Allocate(slots * cap * kvh * dq * elem);
      auto rv = b.backend->Allocate(slots * cap * kvh * dv * elem);
      KvWriteArgs w;
      w.seqs = seqs;
      w.k = src.f32();
      w.ld_k = kvh * (dq + dv);
      w.v = src.f32() + kvh * dq;
      w.ld_v = kvh * (dq + dv);
      w.cache_bf16 = bf16;
      w.ring_k = rk->data();
      w.ring_v = rv->data();
      w.capacity = cap;
      w.ring_base = M;
      w.k_width = kvh * dq;
      w.v_width = kvh * dv;
      b.backend->KvWrite(w);
      std::vector<uint8_t> bytes(rk->bytes() + rv->bytes());
      b.backend->CopyToHost(bytes.data(), rk->data(), rk->bytes());
      b.backend->CopyToHost(bytes.data() + rk->bytes(), rv->data(), rv->bytes());
      return bytes;
    };
    EXPECT_EQ(run(gpu_), run(cpu_)) << (bf16 ? "bf16" : "f32");
  }
}

}  // namespace
}  // namespace hymba::engine
