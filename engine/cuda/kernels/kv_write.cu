// Stores packed K/V rows into ring rows (fp32, or bf16 rounded to nearest even); one block per
// (source row, ring row) pair. The caller keeps only the last `capacity` rows of each entry, so
// no two pairs of one launch share a ring row.
#include "engine/cuda/kernels/cuda_kernels.h"
#include "engine/cuda/kernels/device_math.cuh"

namespace hymba::engine::cuda {
namespace {

__global__ void KvWriteKernel(KvWriteParams p) {
  const int2 pair = p.pairs[blockIdx.x];
  const float* k = p.k + static_cast<size_t>(pair.x) * p.ld_k;
  const float* v = p.v + static_cast<size_t>(pair.x) * p.ld_v;
  const size_t kd = static_cast<size_t>(pair.y) * p.k_width;
  const size_t vd = static_cast<size_t>(pair.y) * p.v_width;
  if (p.cache_bf16) {
    uint16_t* rk = static_cast<uint16_t*>(p.ring_k) + kd;
    uint16_t* rv = static_cast<uint16_t*>(p.ring_v) + vd;
    for (int c = threadIdx.x; c < p.k_width; c += blockDim.x) rk[c] = F32ToBf16(k[c]);
    for (int c = threadIdx.x; c < p.v_width; c += blockDim.x) rv[c] = F32ToBf16(v[c]);
  } else {
    float* rk = static_cast<float*>(p.ring_k) + kd;
    float* rv = static_cast<float*>(p.ring_v) + vd;
    for (int c = threadIdx.x; c < p.k_width; c += blockDim.x) rk[c] = k[c];
    for (int c = threadIdx.x; c < p.v_width; c += blockDim.x) rv[c] = v[c];
  }
}

}  // namespace

cudaError_t LaunchKvWrite(const KvWriteParams& p, cudaStream_t stream) {
  if (p.count == 0) return cudaSuccess;
  const int widest = p.k_width > p.v_width ? p.k_width : p.v_width;
  KvWriteKernel<<<p.count, RowThreads(widest), 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace hymba::engine::cuda
