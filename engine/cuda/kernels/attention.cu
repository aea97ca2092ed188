// Attention over the shared meta prefix, the slot's ring and the entry's own rows, with the
// visibility rule of HYMBA.md (the CPU kernel's VisibleKeys, per query row), GQA and dv != dq.
//
// One block handles a tile of query rows of one entry, for the query heads of one KV head that
// share every K/V row it loads (GQA), over one contiguous range of the tile's visible keys
// ("split"). Keys stream through shared memory 32 at a time (one key per lane in the score pass);
// each warp owns a fixed set of query vectors and keeps their online-softmax state (running max,
// sum and weighted sum of V) in shared memory, so a warp never waits for another between the
// score and the V pass. Decode steps use tiles of one row and split the keys over several blocks
// (flash-decoding); a second kernel merges the splits' partial results.
//
// K/V rows reach shared memory through 4-byte cp.async copies, all of a warp's rows in flight at
// once. Faster designs left for measurements on the device: bf16 tensor-core MMAs for the score
// and V products of prefill tiles; 16-byte copies, double buffering (copy tile t+1 while
// computing tile t) and computing on bf16 directly for decode.
#include <cmath>

#include "engine/api/ring_index.h"
#include "engine/cuda/attention_plan.h"
#include "engine/cuda/kernels/cuda_kernels.h"
#include "engine/cuda/kernels/device_math.cuh"

namespace hymba::engine::cuda {
namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / kWarp;
constexpr int kKeyTile = kAttentionKeyTile;
static_assert(kKeyTile == kWarp, "the score pass gives each lane one key");

enum KeyKind : int { kNone = -1, kPrefix = 0, kRing = 1, kOwnMeta = 2, kOwn = 3 };

// The keys one query row sees, as in the CPU kernel: prefix [0, pc), ring positions [rl, start),
// own rows [0, o0) (meta positions of the meta pass) and [o1, i].
struct QueryRange {
  int pc, rl, o0, o1;
};

__device__ QueryRange RangeOf(const AttentionParams& a, const SeqDesc& s, int i) {
  const int q = s.start_pos + i;
  int lo = a.num_meta;
  if (a.window > 0) lo = max(lo, q - a.window);
  QueryRange r;
  r.pc = min(a.prefix_len, q + 1);
  r.rl = max(lo, a.prefix_len);
  r.o0 = max(0, min(q + 1, a.num_meta) - s.start_pos);
  r.o1 = max(lo, s.start_pos) - s.start_pos;
  return r;
}

__device__ __forceinline__ bool Visible(int kind, int value, const QueryRange& r, int i,
                                        int start_pos) {
  switch (kind) {
    case kPrefix:
      return value < r.pc;
    case kRing:
      return value >= r.rl && value < start_pos;
    case kOwnMeta:
      return value < r.o0;
    case kOwn:
      return value >= r.o1 && value <= i;
    default:
      return false;
  }
}

// The union of the tile rows' key ranges, as one index space [0, total): prefix keys, ring
// positions, own meta rows, own rows. Each row's own ranges lie inside (they grow with i).
struct TileKeys {
  int n_prefix, ring_lo, n_ring, n_meta, own_lo, n_own;
  __device__ int total() const { return n_prefix + n_ring + n_meta + n_own; }
};

struct Smem {
  size_t* key_off;  // [kKeyTile][2] element offsets of K and V rows
  uint32_t* stage;  // [kKeyTile][dq + dv] words: raw K then V rows as copied (fp32 or bf16)
  float *q, *k, *v, *p, *o, *m, *l;
  int* ranges;  // [rows][4] QueryRange
  int* key;     // [kKeyTile][2] kind, value
};

__device__ Smem Carve(void* raw, int nq, int rows, int dq, int dv) {
  Smem s;
  s.key_off = static_cast<size_t*>(raw);
  s.stage = reinterpret_cast<uint32_t*>(s.key_off + 2 * kKeyTile);
  s.q = reinterpret_cast<float*>(s.stage + kKeyTile * (dq + dv));
  s.k = s.q + nq * dq;
  s.v = s.k + kKeyTile * (dq + 1);
  s.p = s.v + kKeyTile * dv;
  s.o = s.p + nq * kKeyTile;
  s.m = s.o + nq * dv;
  s.l = s.m + nq;
  s.ranges = reinterpret_cast<int*>(s.l + nq);
  s.key = s.ranges + rows * 4;
  return s;
}

// Kind, position/row and K/V element offsets of key `idx` of the tile's index space.
__device__ void DescribeKey(const AttentionParams& a, const SeqDesc& s, const TileKeys& t, int g,
                            int idx, int* kind, int* value, size_t* k_off, size_t* v_off) {
  if (idx < t.n_prefix) {
    *kind = kPrefix;
    *value = idx;
    *k_off = (static_cast<size_t>(idx) * a.kvh + g) * a.dq;
    *v_off = (static_cast<size_t>(idx) * a.kvh + g) * a.dv;
    return;
  }
  idx -= t.n_prefix;
  if (idx < t.n_ring) {
    const int pos = t.ring_lo + idx;
    const size_t row =
        static_cast<size_t>(s.slot) * a.capacity + RingIndex{a.capacity, a.num_meta}.Row(pos);
    *kind = kRing;
    *value = pos;
    *k_off = (row * a.kvh + g) * a.dq;
    *v_off = (row * a.kvh + g) * a.dv;
    return;
  }
  idx -= t.n_ring;
  int j;
  if (idx < t.n_meta) {
    *kind = kOwnMeta;
    j = idx;
  } else {
    *kind = kOwn;
    j = t.own_lo + idx - t.n_meta;
  }
  *value = j;
  *k_off = static_cast<size_t>(s.row + j) * a.ld_k + static_cast<size_t>(g) * a.dq;
  *v_off = static_cast<size_t>(s.row + j) * a.ld_v + static_cast<size_t>(g) * a.dv;
}

__device__ __forceinline__ float LoadKey(const AttentionParams& a, int kind, size_t off,
                                         const void* prefix, const void* ring, const float* own) {
  if (kind == kPrefix) return LoadCache(prefix, off, a.cache_bf16);
  if (kind == kRing) return LoadCache(ring, off, a.cache_bf16);
  return own[off];
}

// Start of a K or V row and whether it holds bf16 (cache rows of a bf16 cache) or fp32.
__device__ __forceinline__ const void* RowStart(const AttentionParams& a, int kind, size_t off,
                                                const void* prefix, const void* ring,
                                                const float* own, bool* bf16) {
  *bf16 = kind != kOwn && kind != kOwnMeta && a.cache_bf16;
  if (kind == kOwn || kind == kOwnMeta) return own + off;
  const void* base = kind == kPrefix ? prefix : ring;
  return *bf16 ? static_cast<const void*>(static_cast<const uint16_t*>(base) + off)
               : static_cast<const void*>(static_cast<const float*>(base) + off);
}

// Fills the fp32 K and V tiles for the keys described in shared memory; keys past the range are
// zeros (their probability is 0, and 0·garbage could be NaN). Warp w handles keys w, w + 4, ...
// With async_loads, every 4-byte word of the tile's rows is first requested at once with cp.async
// into the stage (many loads in flight per warp), then widened; otherwise each element is loaded
// and stored in turn (rows whose bf16 length is odd).
__device__ void LoadKeyTile(const AttentionParams& a, const Smem& sm, int warp, int lane) {
  if (a.async_loads) {
    for (int kk = warp; kk < kKeyTile; kk += kWarps) {
      const int kind = sm.key[2 * kk];
      if (kind == kNone) continue;
      bool bf16;
      const uint32_t* k = static_cast<const uint32_t*>(
          RowStart(a, kind, sm.key_off[2 * kk], a.prefix_k, a.ring_k, a.k, &bf16));
      const uint32_t* v = static_cast<const uint32_t*>(
          RowStart(a, kind, sm.key_off[2 * kk + 1], a.prefix_v, a.ring_v, a.v, &bf16));
      uint32_t* stage = sm.stage + kk * (a.dq + a.dv);
      const int k_words = bf16 ? a.dq / 2 : a.dq, v_words = bf16 ? a.dv / 2 : a.dv;
      for (int w = lane; w < k_words; w += kWarp) CopyAsync4(stage + w, k + w);
      for (int w = lane; w < v_words; w += kWarp) CopyAsync4(stage + a.dq + w, v + w);
    }
    WaitAsyncCopies();
    __syncwarp();  // each warp widens the rows it copied
  }
  for (int kk = warp; kk < kKeyTile; kk += kWarps) {
    const int kind = sm.key[2 * kk];
    const size_t ko = sm.key_off[2 * kk], vo = sm.key_off[2 * kk + 1];
    float* kd = sm.k + kk * (a.dq + 1);
    float* vd = sm.v + kk * a.dv;
    if (kind == kNone) {
      for (int d = lane; d < a.dq; d += kWarp) kd[d] = 0.0f;
      for (int c = lane; c < a.dv; c += kWarp) vd[c] = 0.0f;
    } else if (a.async_loads) {
      const uint32_t* stage = sm.stage + kk * (a.dq + a.dv);
      const bool bf16 = kind != kOwn && kind != kOwnMeta && a.cache_bf16;
      for (int d = lane; d < a.dq; d += kWarp) kd[d] = LoadCache(stage, d, bf16);
      for (int c = lane; c < a.dv; c += kWarp) vd[c] = LoadCache(stage + a.dq, c, bf16);
    } else {
      for (int d = lane; d < a.dq; d += kWarp)
        kd[d] = LoadKey(a, kind, ko + d, a.prefix_k, a.ring_k, a.k);
      for (int c = lane; c < a.dv; c += kWarp)
        vd[c] = LoadKey(a, kind, vo + c, a.prefix_v, a.ring_v, a.v);
    }
  }
}

// Warp `warp`'s query vector qi against the key tile in shared memory: scores, online softmax,
// V accumulation.
__device__ void AttendTile(const AttentionParams& a, const Smem& sm, int qi, int nheads, int i0,
                           int n, int start_pos, int lane) {
  const int r = qi / nheads;
  const QueryRange range{sm.ranges[4 * r], sm.ranges[4 * r + 1], sm.ranges[4 * r + 2],
                         sm.ranges[4 * r + 3]};
  float score = -INFINITY;
  if (lane < n && Visible(sm.key[2 * lane], sm.key[2 * lane + 1], range, i0 + r, start_pos)) {
    const float* q = sm.q + qi * a.dq;
    const float* k = sm.k + lane * (a.dq + 1);
    float dot = 0.0f;
    for (int d = 0; d < a.dq; ++d) dot += q[d] * k[d];
    score = dot * a.scale;
  }
  const float m_old = sm.m[qi];
  const float m_new = fmaxf(m_old, WarpMax(score));
  float prob = 0.0f, alpha = 1.0f;
  if (m_new != -INFINITY) {
    prob = expf(score - m_new);
    alpha = expf(m_old - m_new);
  }
  const float sum = WarpSum(prob);
  float* p = sm.p + qi * kKeyTile;
  p[lane] = prob;
  __syncwarp();
  float* o = sm.o + qi * a.dv;
  for (int c = lane; c < a.dv; c += kWarp) {
    float acc = o[c] * alpha;
    for (int kk = 0; kk < n; ++kk) acc += p[kk] * sm.v[kk * a.dv + c];
    o[c] = acc;
  }
  if (lane == 0) {
    sm.m[qi] = m_new;
    sm.l[qi] = sm.l[qi] * alpha + sum;
  }
  __syncwarp();
}

__global__ void __launch_bounds__(kThreads) AttentionKernel(AttentionParams a) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  const AttentionTile tile = a.tiles[blockIdx.x];
  const SeqDesc s = a.seqs[tile.seq];
  const int group = a.nh / a.kvh, head_blocks = (group + a.heads_per_block - 1) / a.heads_per_block;
  const int g = blockIdx.y / head_blocks;
  const int h0 = g * group + (blockIdx.y % head_blocks) * a.heads_per_block;
  const int nheads = min(a.heads_per_block, (g + 1) * group - h0);
  const int nq = tile.rows * nheads;  // query vector qi = row r * nheads + head
  const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
  const Smem sm = Carve(smem_raw, a.rows_per_tile * a.heads_per_block, a.rows_per_tile, a.dq, a.dv);

  for (int r = threadIdx.x; r < tile.rows; r += kThreads) {
    const QueryRange q = RangeOf(a, s, tile.i0 + r);
    sm.ranges[4 * r] = q.pc;
    sm.ranges[4 * r + 1] = q.rl;
    sm.ranges[4 * r + 2] = q.o0;
    sm.ranges[4 * r + 3] = q.o1;
  }
  for (int qi = warp; qi < nq; qi += kWarps) {
    const int row = s.row + tile.i0 + qi / nheads, h = h0 + qi % nheads;
    const float* src = a.q + static_cast<size_t>(row) * a.ld_q + static_cast<size_t>(h) * a.dq;
    for (int d = lane; d < a.dq; d += kWarp) sm.q[qi * a.dq + d] = src[d];
    for (int c = lane; c < a.dv; c += kWarp) sm.o[qi * a.dv + c] = 0.0f;
    if (lane == 0) {
      sm.m[qi] = -INFINITY;
      sm.l[qi] = 0.0f;
    }
  }
  const QueryRange first = RangeOf(a, s, tile.i0), last = RangeOf(a, s, tile.i0 + tile.rows - 1);
  TileKeys keys;
  keys.n_prefix = last.pc;
  keys.ring_lo = first.rl;
  keys.n_ring = max(0, s.start_pos - first.rl);
  keys.n_meta = last.o0;
  keys.own_lo = first.o1;
  keys.n_own = max(0, tile.i0 + tile.rows - first.o1);
  const int total = keys.total();
  const int chunk = ((total + a.splits - 1) / a.splits + kKeyTile - 1) / kKeyTile * kKeyTile;
  const int begin = blockIdx.z * chunk, end = min(total, begin + chunk);

  for (int base = begin; base < end; base += kKeyTile) {
    const int n = min(kKeyTile, end - base);
    __syncthreads();  // the previous tile's keys are no longer read; setup is visible
    if (threadIdx.x < kKeyTile) {
      int kind = kNone, value = 0;
      size_t ko = 0, vo = 0;
      if (threadIdx.x < n) DescribeKey(a, s, keys, g, base + threadIdx.x, &kind, &value, &ko, &vo);
      sm.key[2 * threadIdx.x] = kind;
      sm.key[2 * threadIdx.x + 1] = value;
      sm.key_off[2 * threadIdx.x] = ko;
      sm.key_off[2 * threadIdx.x + 1] = vo;
    }
    __syncthreads();
    LoadKeyTile(a, sm, warp, lane);
    __syncthreads();
    for (int qi = warp; qi < nq; qi += kWarps)
      AttendTile(a, sm, qi, nheads, tile.i0, n, s.start_pos, lane);
  }

  for (int qi = warp; qi < nq; qi += kWarps) {
    const int row = s.row + tile.i0 + qi / nheads, h = h0 + qi % nheads;
    const float* o = sm.o + qi * a.dv;
    if (a.splits == 1) {
      float* dst = a.out + static_cast<size_t>(row) * a.ld_out + static_cast<size_t>(h) * a.dv;
      const float inv = 1.0f / sm.l[qi];
      for (int c = lane; c < a.dv; c += kWarp) dst[c] = o[c] * inv;
    } else {
      float* dst =
          a.partial + ((static_cast<size_t>(row) * a.nh + h) * a.splits + blockIdx.z) * (a.dv + 2);
      for (int c = lane; c < a.dv; c += kWarp) dst[c] = o[c];
      if (lane == 0) {
        dst[a.dv] = sm.m[qi];
        dst[a.dv + 1] = sm.l[qi];
      }
    }
  }
}

// Merges the splits of every (row, head): out = Σ o_z·e^(m_z - M) / Σ l_z·e^(m_z - M).
__global__ void CombineSplitsKernel(AttentionParams a) {
  const int row = blockIdx.x / a.nh, h = blockIdx.x % a.nh;
  const float* part = a.partial + static_cast<size_t>(blockIdx.x) * a.splits * (a.dv + 2);
  float mx = -INFINITY;
  for (int z = 0; z < a.splits; ++z) mx = fmaxf(mx, part[z * (a.dv + 2) + a.dv]);
  float total = 0.0f;
  for (int z = 0; z < a.splits; ++z) {
    const float m = part[z * (a.dv + 2) + a.dv];
    if (m != -INFINITY) total += part[z * (a.dv + 2) + a.dv + 1] * expf(m - mx);
  }
  float* dst = a.out + static_cast<size_t>(row) * a.ld_out + static_cast<size_t>(h) * a.dv;
  for (int c = threadIdx.x; c < a.dv; c += blockDim.x) {
    float acc = 0.0f;
    for (int z = 0; z < a.splits; ++z) {
      const float m = part[z * (a.dv + 2) + a.dv];
      if (m != -INFINITY) acc += part[z * (a.dv + 2) + c] * expf(m - mx);
    }
    dst[c] = acc / total;
  }
}

}  // namespace

cudaError_t LaunchAttention(const AttentionParams& p, cudaStream_t stream) {
  if (p.num_tiles == 0) return cudaSuccess;
  const int group = p.nh / p.kvh;
  const int head_blocks = (group + p.heads_per_block - 1) / p.heads_per_block;
  const size_t smem = AttentionSharedBytes(p.rows_per_tile, p.heads_per_block, p.dq, p.dv);
  if (smem > 48 * 1024) {
    const cudaError_t e = cudaFuncSetAttribute(
        AttentionKernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem));
    if (e != cudaSuccess) return e;
  }
  const dim3 grid(p.num_tiles, p.kvh * head_blocks, p.splits);
  AttentionKernel<<<grid, kThreads, smem, stream>>>(p);
  if (p.splits > 1) {
    CombineSplitsKernel<<<p.total_rows * p.nh, RowThreads(p.dv), 0, stream>>>(p);
  }
  return cudaGetLastError();
}

}  // namespace hymba::engine::cuda
