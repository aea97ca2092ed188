// The per-sequence ops (attention over prefix + ring + chunk, K/V ring writes, causal conv,
// selective scan) against naive references over whole sequences, for several entries packed in
// one call, with chunks that wrap the ring and lengths that are not multiples of block sizes.
#include <gtest/gtest.h>

#include <vector>

#include "engine/api/ring_index.h"
#include "engine/base/bf16.h"
#include "tests/backend/backend_test_base.h"

namespace hymba::engine {
namespace {

class SequenceOpsTest : public BackendOpsTest {
 protected:
  // Three chunks of one sequence (each packed after another sequence's rows) against a double
  // scan written from HYMBA.md, with state size N.
  void CheckSelectiveScan(int N);
};

// Naive attention of query position q over keys [0, q] with HYMBA.md's mask.
std::vector<double> NaiveAttend(const std::vector<float>& Q, const std::vector<float>& K,
                                const std::vector<float>& V, int q, int h, int nh, int kvh, int dq,
                                int dv, int window, int M) {
  const int g = h / (nh / kvh);
  std::vector<double> scores;
  std::vector<int> keys;
  for (int k = 0; k <= q; ++k) {
    if (window > 0 && q - k > window && k >= M) continue;
    double s = 0;
    for (int j = 0; j < dq; ++j) s += Q[(q * nh + h) * dq + j] * K[(k * kvh + g) * dq + j];
    scores.push_back(s / std::sqrt(static_cast<double>(dq)));
    keys.push_back(k);
  }
  const double mx = *std::max_element(scores.begin(), scores.end());
  double sum = 0;
  for (auto& s : scores) sum += (s = std::exp(s - mx));
  std::vector<double> out(dv, 0.0);
  for (size_t i = 0; i < keys.size(); ++i)
    for (int j = 0; j < dv; ++j) out[j] += scores[i] / sum * V[(keys[i] * kvh + g) * dv + j];
  return out;
}

TEST_P(SequenceOpsTest, AttentionOverPrefixRingAndChunk) {
  const int nh = 4, kvh = 2, M = 3;
  // Shapes: a chunk wrapping a small ring; decode-like rows past 600 positions (several key
  // chunks, split over threads); a long prompt chunk (rows in blocks, several key chunks); one
  // decode row of a short context (its single chunk split by KV heads).
  struct Seq {
    int slot, before, len;
  };
  struct Shape {
    std::vector<Seq> seqs;
    int window, full_cap;
  };
  const std::vector<Shape> shapes = {{{{1, 7, 9}, {0, 0, 3}}, 5, 40},  // the first chunk wraps W=5
                                     {{{1, 600, 2}, {0, 0, 1}}, 300, 640},
                                     {{{1, 300, 20}}, 270, 330},
                                     {{{1, 20, 1}}, 8, 40}};
  // Variants: full or windowed attention; fp32 or bf16 cache; head dims off the 16-lane vector
  // path, on it with two, four and eight value vectors per head (eight: the Hymba-1.5B shape).
  for (const Shape& shape : shapes)
    for (int variant = 0; variant < 16; ++variant) {
      const int window = variant % 2 ? shape.window : 0;
      const bool bf16 = variant & 2;
      const int dq = 8 << (variant / 4), dv = 2 * dq;  // 8 | 16, 32 | 32, 64 | 64, 128
      auto round = [&](std::vector<float>& v, size_t from, size_t to) {
        if (bf16)
          for (size_t i = from; i < to; ++i) v[i] = Bf16BitsToF32(F32ToBf16Bits(v[i]));
      };
      auto upload_cache = [&](const std::vector<float>& v) {
        if (!bf16) return Upload(v);
        std::vector<uint16_t> bits(v.size());
        for (size_t i = 0; i < v.size(); ++i) bits[i] = F32ToBf16Bits(v[i]);
        auto buf = backend_->Allocate(bits.size() * 2);
        backend_->CopyToDevice(buf->data(), bits.data(), bits.size() * 2);
        return std::move(buf).value();
      };
      // Two sequences in slots 1 and 0; each has `before` positions in its ring and feeds `len`.
      const int slots = 2, cap = window > 0 ? window : shape.full_cap;
      const std::vector<Seq>& seqs = shape.seqs;
      int total_pos = 0;
      for (const Seq& s : seqs) total_pos = std::max(total_pos, M + s.before + s.len);
      // Absolute-position K/V/Q per sequence; the prefix (positions < M) is shared.
      auto Kp = Random(M * kvh * dq, 20), Vp = Random(M * kvh * dv, 21);
      round(Kp, 0, Kp.size());  // the reference sees exactly what the cache holds
      round(Vp, 0, Vp.size());
      DeviceBuffer prefix_k = upload_cache(Kp), prefix_v = upload_cache(Vp);
      std::vector<std::vector<float>> Ks, Vs, Qs;
      int rows = 0;
      for (size_t s = 0; s < seqs.size(); ++s) {
        auto K = Random(total_pos * kvh * dq, 30 + s), V = Random(total_pos * kvh * dv, 40 + s);
        std::copy(Kp.begin(), Kp.end(), K.begin());
        std::copy(Vp.begin(), Vp.end(), V.begin());
        round(K, M * kvh * dq, (M + seqs[s].before) * kvh * dq);  // ring positions
        round(V, M * kvh * dv, (M + seqs[s].before) * kvh * dv);
        Ks.push_back(K);
        Vs.push_back(V);
        Qs.push_back(Random(total_pos * nh * dq, 50 + s));
        rows += seqs[s].len;
      }
      // Fill the rings with the positions before each chunk, as KvWrite would.
      std::vector<float> rk(slots * cap * kvh * dq), rv(slots * cap * kvh * dv);
      const RingIndex ring{cap, M};
      for (size_t s = 0; s < seqs.size(); ++s)
        for (int p = M; p < M + seqs[s].before; ++p) {
          const size_t row = seqs[s].slot * cap + ring.Row(p);
          std::copy_n(&Ks[s][p * kvh * dq], kvh * dq, &rk[row * kvh * dq]);
          std::copy_n(&Vs[s][p * kvh * dv], kvh * dv, &rv[row * kvh * dv]);
        }
      DeviceBuffer ring_k = upload_cache(rk), ring_v = upload_cache(rv);
      // Packed chunk rows.
      std::vector<float> q(rows * nh * dq), k(rows * kvh * dq), v(rows * kvh * dv);
      std::vector<SeqSpan> spans;
      int row = 0;
      for (size_t s = 0; s < seqs.size(); ++s) {
        const int start = M + seqs[s].before;
        spans.push_back(SeqSpan{seqs[s].slot, row, seqs[s].len, start});
        for (int i = 0; i < seqs[s].len; ++i, ++row) {
          std::copy_n(&Qs[s][(start + i) * nh * dq], nh * dq, &q[row * nh * dq]);
          std::copy_n(&Ks[s][(start + i) * kvh * dq], kvh * dq, &k[row * kvh * dq]);
          std::copy_n(&Vs[s][(start + i) * kvh * dv], kvh * dv, &v[row * kvh * dv]);
        }
      }
      DeviceBuffer dq_buf = Upload(q), dk = Upload(k), dvb = Upload(v),
                   out = Upload(std::vector<float>(rows * nh * dv));
      AttentionArgs a;
      a.seqs = spans;
      a.q = dq_buf.f32();
      a.ld_q = nh * dq;
      a.k = dk.f32();
      a.ld_k = kvh * dq;
      a.v = dvb.f32();
      a.ld_v = kvh * dv;
      a.out = out.f32();
      a.ld_out = nh * dv;
      a.cache_bf16 = bf16;
      a.prefix_k = prefix_k.f32();
      a.prefix_v = prefix_v.f32();
      a.prefix_len = M;
      a.ring_k = ring_k.f32();
      a.ring_v = ring_v.f32();
      a.capacity = cap;
      a.window = window;
      a.num_meta = M;
      a.nh = nh;
      a.kvh = kvh;
      a.dq = dq;
      a.dv = dv;
      a.scale = 1.0f / std::sqrt(static_cast<float>(dq));
      backend_->Attention(a);
      auto got = Download(out, rows * nh * dv);
      row = 0;
      for (size_t s = 0; s < seqs.size(); ++s)
        for (int i = 0; i < seqs[s].len; ++i, ++row)
          for (int h = 0; h < nh; ++h) {
            auto ref = NaiveAttend(Qs[s], Ks[s], Vs[s], M + seqs[s].before + i, h, nh, kvh, dq, dv,
                                   window, M);
            for (int j = 0; j < dv; ++j)
              ASSERT_NEAR(got[(row * nh + h) * dv + j], ref[j], 1e-5)
                  << "variant " << variant << " seq " << s << " row " << i << " head " << h;
          }
      // KvWrite then keeps exactly the last `cap` positions of each sequence in its ring.
      KvWriteArgs w;
      w.seqs = spans;
      w.k = dk.f32();
      w.ld_k = kvh * dq;
      w.v = dvb.f32();
      w.ld_v = kvh * dv;
      w.cache_bf16 = bf16;
      w.ring_k = ring_k.f32();
      w.ring_v = ring_v.f32();
      w.capacity = cap;
      w.ring_base = M;
      w.k_width = kvh * dq;
      w.v_width = kvh * dv;
      backend_->KvWrite(w);
      const size_t ring_elems = slots * cap * kvh * dq;
      std::vector<uint8_t> raw(ring_elems * (bf16 ? 2 : 4));
      backend_->CopyToHost(raw.data(), ring_k.data(), raw.size());
      auto stored = [&](size_t i) {
        if (!bf16) return reinterpret_cast<const float*>(raw.data())[i];
        return Bf16BitsToF32(reinterpret_cast<const uint16_t*>(raw.data())[i]);
      };
      for (size_t s = 0; s < seqs.size(); ++s) {
        const int end = M + seqs[s].before + seqs[s].len;
        for (int p = ring.OldestHeld(end); p < end; ++p)
          for (int j = 0; j < kvh * dq; ++j) {
            const float want = Ks[s][p * kvh * dq + j];
            ASSERT_EQ(stored((seqs[s].slot * cap + ring.Row(p)) * kvh * dq + j),
                      bf16 ? Bf16BitsToF32(F32ToBf16Bits(want)) : want);
          }
      }
    }
}

TEST_P(SequenceOpsTest, CausalConvWithStateAcrossChunks) {
  constexpr int kOther = 2;
  const int I = 300, Kc = 4, T = 13, slots = 2;  // I spans a partial channel block
  auto x = Random(T * I, 60), w = Random(Kc * I, 61, 0.5f), bias = Random(I, 62);
  DeviceBuffer dw = Upload(w), db = Upload(bias);
  DeviceBuffer state = Upload(std::vector<float>(slots * (Kc - 1) * I));
  std::vector<float> got(T * I);
  // Feed slot 1 in chunks of 5, 1, 7, each packed after 2 rows of another sequence in slot 0.
  int pos = 0;
  for (int len : {5, 1, 7}) {
    std::vector<float> rows = Random(kOther * I, 600 + pos);
    rows.insert(rows.end(), x.begin() + pos * I, x.begin() + (pos + len) * I);
    DeviceBuffer dx = Upload(rows);
    DeviceBuffer out = Upload(std::vector<float>((kOther + len) * I));
    std::vector<SeqSpan> spans = {{0, 0, kOther, pos}, {1, kOther, len, pos}};
    CausalConvArgs c;
    c.seqs = spans;
    c.x = dx.f32();
    c.ld_x = I;
    c.out = out.f32();
    c.ld_out = I;
    c.weight = dw.f32();
    c.bias = db.f32();
    c.state = state.f32();
    c.channels = I;
    c.kernel = Kc;
    backend_->CausalConv(c);
    auto o = Download(out, (kOther + len) * I);
    std::copy(o.begin() + kOther * I, o.end(), got.begin() + pos * I);
    pos += len;
  }
  for (int t = 0; t < T; ++t)
    for (int ch = 0; ch < I; ++ch) {
      double acc = bias[ch];
      for (int j = 0; j < Kc; ++j) {
        const int tau = t - (Kc - 1) + j;
        if (tau >= 0) acc += w[j * I + ch] * x[tau * I + ch];
      }
      ASSERT_NEAR(got[t * I + ch], acc * Sigmoid(acc), 1e-5) << t << "," << ch;
    }
  auto st = Download(state, slots * (Kc - 1) * I);
  for (int h = 0; h < Kc - 1; ++h)
    EXPECT_EQ(st[(Kc - 1) * I + h * I + 7], x[(T - Kc + 1 + h) * I + 7]);
  // Slot 0 holds its own last three inputs: the second row of its 2nd chunk, both of its 3rd.
  const auto c2 = Random(kOther * I, 605), c3 = Random(kOther * I, 606);
  EXPECT_EQ(st[0 * I + 7], c2[1 * I + 7]);
  EXPECT_EQ(st[1 * I + 7], c3[0 * I + 7]);
  EXPECT_EQ(st[2 * I + 7], c3[1 * I + 7]);
}

TEST_P(SequenceOpsTest, SelectiveScanChunkedEqualsSequential) {
  // I is a multiple of neither the kernel's channel block nor 16; N = 16 and 32 take the CPU's
  // vector path (states in lanes), N = 5 the per-channel one.
  for (int N : {5, 16, 32}) {
    SCOPED_TRACE(N);
    CheckSelectiveScan(N);
  }
}

void SequenceOpsTest::CheckSelectiveScan(int N) {
  const int I = 70, T = 11;
  auto xc = Random(T * I, 70), z = Random(T * I, 71), B = Random(T * N, 72), C = Random(T * N, 73);
  auto dt = Random(T * I, 74, 0.05f), Alog = Random(I * N, 75, 0.5f), D = Random(I, 76);
  for (auto& d : dt) d = std::fabs(d) + 1e-3f;
  std::vector<float> A(I * N);
  for (int i = 0; i < I * N; ++i) A[i] = -std::exp(Alog[i]);
  DeviceBuffer da = Upload(A), dd = Upload(D), state = Upload(std::vector<float>(2 * I * N));
  std::vector<float> got(T * I);
  int pos = 0;
  for (int len : {4, 4, 3}) {
    // Each chunk is packed after 3 rows of another sequence in slot 0.
    constexpr int kOther = 3;
    auto slice = [&](const std::vector<float>& v, int w) {
      std::vector<float> rows = Random(kOther * w, 700 + pos, 0.05f);
      for (auto& r : rows) r = std::fabs(r);  // valid as Δ too
      rows.insert(rows.end(), v.begin() + pos * w, v.begin() + (pos + len) * w);
      return rows;
    };
    DeviceBuffer bx = Upload(slice(xc, I)), bz = Upload(slice(z, I)), bdt = Upload(slice(dt, I)),
                 bb = Upload(slice(B, N)), bc = Upload(slice(C, N)),
                 by = Upload(std::vector<float>((kOther + len) * I));
    std::vector<SeqSpan> spans = {{0, 0, kOther, pos}, {1, kOther, len, pos}};
    SelectiveScanArgs s;
    s.seqs = spans;
    s.xc = bx.f32();
    s.ld_xc = I;
    s.dt = bdt.f32();
    s.ld_dt = I;
    s.b = bb.f32();
    s.ld_b = N;
    s.c = bc.f32();
    s.ld_c = N;
    s.z = bz.f32();
    s.ld_z = I;
    s.y = by.f32();
    s.ld_y = I;
    s.a = da.f32();
    s.d = dd.f32();
    s.state = state.f32();
    s.channels = I;
    s.d_state = N;
    backend_->SelectiveScan(s);
    auto y = Download(by, (kOther + len) * I);
    std::copy(y.begin() + kOther * I, y.end(), got.begin() + pos * I);
    pos += len;
  }
  std::vector<double> st(I * N, 0.0);
  for (int t = 0; t < T; ++t)
    for (int c = 0; c < I; ++c) {
      double y = 0;
      for (int n = 0; n < N; ++n) {
        double& s = st[c * N + n];
        s = std::exp(dt[t * I + c] * A[c * N + n]) * s +
            dt[t * I + c] * xc[t * I + c] * B[t * N + n];
        y += s * C[t * N + n];
      }
      y += D[c] * xc[t * I + c];
      const double zz = z[t * I + c];
      ASSERT_NEAR(got[t * I + c], y * zz * Sigmoid(zz), 1e-5) << t << "," << c;
    }
}

INSTANTIATE_TEST_SUITE_P(Backends, SequenceOpsTest, ::testing::Values("cpu", "cuda"));

}  // namespace
}  // namespace hymba::engine
