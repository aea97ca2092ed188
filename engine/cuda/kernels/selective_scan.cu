// Mamba-1 selective scan (HYMBA.md "SSM path"), sequential over an entry's rows with the state in
// registers. A channel's N states are spread over G = min(32, N rounded up to a power of two)
// lanes of one warp (N/G states per lane); y_t = s·C_t is reduced with shuffles inside the
// group. The next row's inputs are loaded before the current row's update so their latency
// overlaps it.
//
// Faster design for long prefills (not done yet): a chunked scan (per-chunk local scans in
// parallel, then a pass carrying the state across chunk boundaries), as in Mamba-2's SSD.
#include "engine/cuda/kernels/cuda_kernels.h"
#include "engine/cuda/kernels/device_math.cuh"

namespace hymba::engine::cuda {
namespace {

constexpr int kThreads = 128;
constexpr int kMaxPerLane = kMaxScanState / kWarp;

struct StepInputs {
  float dt, x, z;
  float b[kMaxPerLane], c[kMaxPerLane];
};

__device__ __forceinline__ void LoadStep(const SelectiveScanParams& p, size_t r, int ch, int lane,
                                         int group, StepInputs& in) {
  in.dt = p.dt[r * p.ld_dt + ch];
  in.x = p.xc[r * p.ld_xc + ch];
  in.z = p.z[r * p.ld_z + ch];
#pragma unroll
  for (int k = 0; k < kMaxPerLane; ++k) {
    const int n = lane + k * group;
    const bool ok = n < p.d_state;
    in.b[k] = ok ? p.b[r * p.ld_b + n] : 0.0f;
    in.c[k] = ok ? p.c[r * p.ld_c + n] : 0.0f;
  }
}

__global__ void __launch_bounds__(kThreads) SelectiveScanKernel(SelectiveScanParams p, int group) {
  const SeqDesc s = p.seqs[blockIdx.y];
  const int per_block = kThreads / group;
  const int ch_raw = blockIdx.x * per_block + threadIdx.x / group;
  const bool valid = ch_raw < p.channels;
  const int ch = valid ? ch_raw : p.channels - 1;  // idle lanes still take part in shuffles
  const int lane = threadIdx.x % group;
  const int N = p.d_state;
  float* state = p.state + (static_cast<size_t>(s.slot) * p.channels + ch) * N;
  float st[kMaxPerLane], a[kMaxPerLane];
#pragma unroll
  for (int k = 0; k < kMaxPerLane; ++k) {
    const int n = lane + k * group;
    st[k] = n < N ? state[n] : 0.0f;
    a[k] = n < N ? p.a[static_cast<size_t>(ch) * N + n] : 0.0f;
  }
  const float d = p.d[ch];
  StepInputs cur, next;
  if (s.len > 0) LoadStep(p, s.row, ch, lane, group, cur);
  for (int t = 0; t < s.len; ++t) {
    if (t + 1 < s.len) LoadStep(p, static_cast<size_t>(s.row) + t + 1, ch, lane, group, next);
    const float dx = cur.dt * cur.x;
    float acc = 0.0f;
#pragma unroll
    for (int k = 0; k < kMaxPerLane; ++k) {
      st[k] = expf(cur.dt * a[k]) * st[k] + dx * cur.b[k];
      acc += st[k] * cur.c[k];
    }
    for (int o = group / 2; o > 0; o /= 2) acc += __shfl_xor_sync(0xffffffffu, acc, o);
    if (valid && lane == 0)
      p.y[static_cast<size_t>(s.row + t) * p.ld_y + ch] = (acc + d * cur.x) * Silu(cur.z);
    cur = next;
  }
  if (valid) {
#pragma unroll
    for (int k = 0; k < kMaxPerLane; ++k) {
      const int n = lane + k * group;
      if (n < N) state[n] = st[k];
    }
  }
}

}  // namespace

cudaError_t LaunchSelectiveScan(const SelectiveScanParams& p, cudaStream_t stream) {
  if (p.d_state < 1 || p.d_state > kMaxScanState) return cudaErrorInvalidValue;
  if (p.num_seqs == 0 || p.channels == 0) return cudaSuccess;
  if (p.num_seqs > 65535) return cudaErrorInvalidValue;
  int group = 1;
  while (group < p.d_state && group < kWarp) group *= 2;
  const int per_block = kThreads / group;
  dim3 grid((p.channels + per_block - 1) / per_block, p.num_seqs);
  SelectiveScanKernel<<<grid, kThreads, 0, stream>>>(p, group);
  return cudaGetLastError();
}

}  // namespace hymba::engine::cuda
