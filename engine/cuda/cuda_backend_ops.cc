// CudaBackend's kernel ops: host-side index arrays are uploaded, launch shapes chosen, and the
// kernels of cuda/kernels/ enqueued on the backend's stream.
#include <algorithm>
#include <vector>

#include "engine/api/ring_index.h"
#include "engine/cuda/attention_plan.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/cuda_backend_impl.h"
#include "engine/cuda/kernels/cuda_kernels.h"

namespace hymba::engine {
namespace {

using cuda::IndexChannel;

static_assert(cuda::kMaxScanState == kMaxSsmState, "the scan kernel's state limit");

std::vector<cuda::SeqDesc> Descs(absl::Span<const SeqSpan> seqs) {
  std::vector<cuda::SeqDesc> out;
  out.reserve(seqs.size());
  for (const SeqSpan& s : seqs) out.push_back({s.slot, s.row, s.len, s.start_pos});
  return out;
}

// Packed rows covered by the entries: [0, max(row + len)).
int TotalRows(absl::Span<const SeqSpan> seqs) {
  int rows = 0;
  for (const SeqSpan& s : seqs) rows = std::max(rows, s.row + s.len);
  return rows;
}

}  // namespace

void CudaBackend::Embed(const int32_t* ids_host, int count, const void* table, bool table_bf16,
                        int cols, float* out, int ld_out) {
  if (count == 0) return;
  const int32_t* ids = impl_->Upload(IndexChannel::kIds, ids_host, count);
  if (ids == nullptr) return;
  impl_->Check(cuda::LaunchEmbed(ids, count, table, table_bf16, cols, out, ld_out, impl_->stream),
               "Embed");
}

void CudaBackend::RmsNorm(const float* x, int ld_x, int rows, int cols, const float* w, float eps,
                          float* y, int ld_y) {
  impl_->Check(cuda::LaunchRmsNorm(x, ld_x, rows, cols, w, eps, y, ld_y, impl_->stream), "RmsNorm");
}

void CudaBackend::Rope(float* x, int ld_x, int rows, int heads, int head_dim,
                       const int32_t* positions_host, double base) {
  if (rows == 0) return;
  const int32_t* positions = impl_->Upload(IndexChannel::kPositions, positions_host, rows);
  if (positions == nullptr) return;
  impl_->Check(cuda::LaunchRope(x, ld_x, rows, heads, head_dim, positions, base, impl_->stream),
               "Rope");
}

void CudaBackend::Attention(const AttentionArgs& a) {
  if (a.seqs.empty()) return;
  cuda::AttentionPlanInput in;
  for (const SeqSpan& s : a.seqs) in.entries.push_back({s.len, s.start_pos});
  in.nh = a.nh;
  in.kvh = a.kvh;
  in.dq = a.dq;
  in.dv = a.dv;
  in.window = a.window;
  in.prefix_len = a.prefix_len;
  in.multiprocessors = impl_->multiprocessors;
  in.shared_limit = impl_->shared_optin;
  const cuda::AttentionPlan plan = cuda::PlanAttention(in);
  if (!plan.ok) {
    impl_->Record(absl::InvalidArgumentError(
        "cuda attention: head dims too large for one block's shared memory"));
    return;
  }
  if (plan.tiles.empty()) return;
  std::vector<cuda::AttentionTile> tiles;
  tiles.reserve(plan.tiles.size());
  for (const auto& t : plan.tiles) tiles.push_back({t.entry, t.i0, t.rows});
  const std::vector<cuda::SeqDesc> descs = Descs(a.seqs);
  cuda::AttentionParams p;
  p.seqs = impl_->Upload(IndexChannel::kSeqs, descs.data(), descs.size());
  p.tiles = impl_->Upload(IndexChannel::kTiles, tiles.data(), tiles.size());
  if (p.seqs == nullptr || p.tiles == nullptr) return;
  p.num_tiles = static_cast<int>(tiles.size());
  p.total_rows = TotalRows(a.seqs);
  p.q = a.q;
  p.ld_q = a.ld_q;
  p.k = a.k;
  p.ld_k = a.ld_k;
  p.v = a.v;
  p.ld_v = a.ld_v;
  p.out = a.out;
  p.ld_out = a.ld_out;
  p.cache_bf16 = a.cache_bf16;
  p.prefix_k = a.prefix_k;
  p.prefix_v = a.prefix_v;
  p.prefix_len = a.prefix_len;
  p.ring_k = a.ring_k;
  p.ring_v = a.ring_v;
  p.capacity = a.capacity;
  p.window = a.window;
  p.num_meta = a.num_meta;
  p.nh = a.nh;
  p.kvh = a.kvh;
  p.dq = a.dq;
  p.dv = a.dv;
  p.scale = a.scale;
  p.rows_per_tile = plan.rows_per_tile;
  p.heads_per_block = plan.heads_per_block;
  p.splits = plan.splits;
  p.async_loads = !a.cache_bf16 || (a.dq % 2 == 0 && a.dv % 2 == 0);
  if (p.splits > 1) {
    const size_t floats =
        static_cast<size_t>(p.total_rows) * a.nh * p.splits * (static_cast<size_t>(a.dv) + 2);
    p.partial = static_cast<float*>(impl_->Scratch(Impl::kAttentionPartial, floats * 4));
    if (p.partial == nullptr) return;
  }
  impl_->Check(cuda::LaunchAttention(p, impl_->stream), "Attention");
}

void CudaBackend::KvWrite(const KvWriteArgs& a) {
  // Only the last `capacity` rows of each entry can ever be read again.
  std::vector<int2> pairs;
  const RingIndex ring{a.capacity, a.ring_base};
  for (const SeqSpan& s : a.seqs)
    for (int i = std::max(0, s.len - a.capacity); i < s.len; ++i)
      pairs.push_back({s.row + i, s.slot * a.capacity + ring.Row(s.start_pos + i)});
  if (pairs.empty()) return;
  cuda::KvWriteParams p;
  p.pairs = impl_->Upload(IndexChannel::kKvPairs, pairs.data(), pairs.size());
  if (p.pairs == nullptr) return;
  p.count = static_cast<int>(pairs.size());
  p.k = a.k;
  p.ld_k = a.ld_k;
  p.v = a.v;
  p.ld_v = a.ld_v;
  p.cache_bf16 = a.cache_bf16;
  p.ring_k = a.ring_k;
  p.ring_v = a.ring_v;
  p.k_width = a.k_width;
  p.v_width = a.v_width;
  impl_->Check(cuda::LaunchKvWrite(p, impl_->stream), "KvWrite");
}

void CudaBackend::CausalConv(const CausalConvArgs& a) {
  if (a.seqs.empty()) return;
  if (a.kernel > cuda::kMaxConvKernel) {
    impl_->Record(absl::InvalidArgumentError("cuda causal conv: mamba_d_conv above 16"));
    return;
  }
  const std::vector<cuda::SeqDesc> descs = Descs(a.seqs);
  std::vector<int32_t> row_seq(TotalRows(a.seqs), -1);
  for (size_t e = 0; e < a.seqs.size(); ++e)
    std::fill_n(row_seq.begin() + a.seqs[e].row, a.seqs[e].len, static_cast<int32_t>(e));
  if (row_seq.empty()) return;
  cuda::CausalConvParams p;
  p.seqs = impl_->Upload(IndexChannel::kSeqs, descs.data(), descs.size());
  p.row_seq = impl_->Upload(IndexChannel::kRowSeq, row_seq.data(), row_seq.size());
  if (p.seqs == nullptr || p.row_seq == nullptr) return;
  p.num_seqs = static_cast<int>(descs.size());
  p.rows = static_cast<int>(row_seq.size());
  p.x = a.x;
  p.ld_x = a.ld_x;
  p.out = a.out;
  p.ld_out = a.ld_out;
  p.weight = a.weight;
  p.bias = a.bias;
  p.state = a.state;
  p.channels = a.channels;
  p.kernel = a.kernel;
  impl_->Check(cuda::LaunchCausalConv(p, impl_->stream), "CausalConv");
}

void CudaBackend::SelectiveScan(const SelectiveScanArgs& a) {
  if (a.seqs.empty()) return;
  const std::vector<cuda::SeqDesc> descs = Descs(a.seqs);
  cuda::SelectiveScanParams p;
  p.seqs = impl_->Upload(IndexChannel::kSeqs, descs.data(), descs.size());
  if (p.seqs == nullptr) return;
  p.num_seqs = static_cast<int>(descs.size());
  p.xc = a.xc;
  p.ld_xc = a.ld_xc;
  p.dt = a.dt;
  p.ld_dt = a.ld_dt;
  p.b = a.b;
  p.ld_b = a.ld_b;
  p.c = a.c;
  p.ld_c = a.ld_c;
  p.z = a.z;
  p.ld_z = a.ld_z;
  p.y = a.y;
  p.ld_y = a.ld_y;
  p.a = a.a;
  p.d = a.d;
  p.state = a.state;
  p.channels = a.channels;
  p.d_state = a.d_state;
  impl_->Check(cuda::LaunchSelectiveScan(p, impl_->stream), "SelectiveScan");
}

void CudaBackend::BiasSoftplus(float* dt, int ld, int rows, int cols, const float* bias) {
  impl_->Check(cuda::LaunchBiasSoftplus(dt, ld, rows, cols, bias, impl_->stream), "BiasSoftplus");
}

void CudaBackend::GatedActivation(float* a, int ld_a, const float* b, int ld_b, int rows, int cols,
                                  bool relu2) {
  impl_->Check(cuda::LaunchGatedActivation(a, ld_a, b, ld_b, rows, cols, relu2, impl_->stream),
               "GatedActivation");
}

void CudaBackend::FuseNorms(const float* a, int ld_a, const float* wa, const float* y, int ld_y,
                            const float* wy, int rows, int cols, float eps, float* out,
                            int ld_out) {
  impl_->Check(
      cuda::LaunchFuseNorms(a, ld_a, wa, y, ld_y, wy, rows, cols, eps, out, ld_out, impl_->stream),
      "FuseNorms");
}

void CudaBackend::AddBias(float* x, int ld, int rows, int cols, const float* bias) {
  impl_->Check(cuda::LaunchAddBias(x, ld, rows, cols, bias, impl_->stream), "AddBias");
}

void CudaBackend::CopyMatrix(const float* src, int ld_src, int rows, int cols, float* dst,
                             int ld_dst) {
  impl_->Check(cuda::LaunchCopyMatrix(src, ld_src, rows, cols, dst, ld_dst, impl_->stream),
               "CopyMatrix");
}

void CudaBackend::GatherRows(const float* src, int ld_src, const int32_t* rows_host, int count,
                             int cols, float* dst, int ld_dst) {
  if (count == 0) return;
  const int32_t* rows = impl_->Upload(IndexChannel::kRows, rows_host, count);
  if (rows == nullptr) return;
  impl_->Check(cuda::LaunchGatherRows(src, ld_src, rows, count, cols, dst, ld_dst, impl_->stream),
               "GatherRows");
}

}  // namespace hymba::engine
