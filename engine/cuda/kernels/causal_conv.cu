// xc = SiLU(depthwise causal conv over [conv state ; x] + bias), then the conv state keeps the
// last Kc-1 inputs. Two kernels: every output (row, channel) is independent, and the state is
// rewritten only after all outputs have read it.
#include "engine/cuda/kernels/cuda_kernels.h"
#include "engine/cuda/kernels/device_math.cuh"

namespace hymba::engine::cuda {
namespace {

// in(τ) of one entry and channel: history rows for τ < 0, then the entry's rows.
__device__ __forceinline__ float ConvInput(const CausalConvParams& p, const SeqDesc& s, int tau,
                                           int ch) {
  const int hist = p.kernel - 1;
  if (tau < 0) return p.state[(static_cast<size_t>(s.slot) * hist + hist + tau) * p.channels + ch];
  return p.x[static_cast<size_t>(s.row + tau) * p.ld_x + ch];
}

__global__ void ConvOutputKernel(CausalConvParams p) {
  const size_t n = static_cast<size_t>(p.rows) * p.channels;
  const int hist = p.kernel - 1;
  for (size_t e = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; e < n;
       e += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const int r = static_cast<int>(e / p.channels), ch = static_cast<int>(e % p.channels);
    const int entry = p.row_seq[r];
    if (entry < 0) continue;  // a row outside every entry
    const SeqDesc s = p.seqs[entry];
    const int t = r - s.row;
    float acc = p.bias ? p.bias[ch] : 0.0f;
    for (int j = 0; j < p.kernel; ++j)
      acc += p.weight[static_cast<size_t>(j) * p.channels + ch] * ConvInput(p, s, t - hist + j, ch);
    p.out[static_cast<size_t>(r) * p.ld_out + ch] = Silu(acc);
  }
}

__global__ void ConvStateKernel(CausalConvParams p) {
  const size_t n = static_cast<size_t>(p.num_seqs) * p.channels;
  const int hist = p.kernel - 1;
  for (size_t e = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; e < n;
       e += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const SeqDesc s = p.seqs[e / p.channels];
    const int ch = static_cast<int>(e % p.channels);
    // Read every new history value before writing any (they may come from the old history).
    float next[kMaxConvKernel - 1];
#pragma unroll
    for (int h = 0; h < kMaxConvKernel - 1; ++h)
      if (h < hist) next[h] = ConvInput(p, s, s.len - hist + h, ch);
#pragma unroll
    for (int h = 0; h < kMaxConvKernel - 1; ++h)
      if (h < hist) p.state[(static_cast<size_t>(s.slot) * hist + h) * p.channels + ch] = next[h];
  }
}

}  // namespace

cudaError_t LaunchCausalConv(const CausalConvParams& p, cudaStream_t stream) {
  if (p.kernel < 1 || p.kernel > kMaxConvKernel) return cudaErrorInvalidValue;
  const size_t outputs = static_cast<size_t>(p.rows) * p.channels;
  if (outputs == 0) return cudaSuccess;
  ConvOutputKernel<<<GridFor(outputs), 256, 0, stream>>>(p);
  if (p.kernel > 1) {
    const size_t columns = static_cast<size_t>(p.num_seqs) * p.channels;
    ConvStateKernel<<<GridFor(columns), 256, 0, stream>>>(p);
  }
  return cudaGetLastError();
}

}  // namespace hymba::engine::cuda
