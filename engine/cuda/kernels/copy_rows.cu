// Strided matrix copy and row gather.
#include "engine/cuda/kernels/cuda_kernels.h"
#include "engine/cuda/kernels/device_math.cuh"

namespace hymba::engine::cuda {
namespace {

__global__ void CopyMatrixKernel(const float* src, int ld_src, int rows, int cols, float* dst,
                                 int ld_dst) {
  const size_t n = static_cast<size_t>(rows) * cols;
  for (size_t e = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; e < n;
       e += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t r = e / cols, c = e % cols;
    dst[r * ld_dst + c] = src[r * ld_src + c];
  }
}

__global__ void GatherRowsKernel(const float* src, int ld_src, const int32_t* rows, int cols,
                                 float* dst, int ld_dst) {
  const float* s = src + static_cast<size_t>(rows[blockIdx.x]) * ld_src;
  float* d = dst + static_cast<size_t>(blockIdx.x) * ld_dst;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) d[c] = s[c];
}

}  // namespace

cudaError_t LaunchCopyMatrix(const float* src, int ld_src, int rows, int cols, float* dst,
                             int ld_dst, cudaStream_t stream) {
  const size_t n = static_cast<size_t>(rows) * cols;
  if (n == 0) return cudaSuccess;
  CopyMatrixKernel<<<GridFor(n), 256, 0, stream>>>(src, ld_src, rows, cols, dst, ld_dst);
  return cudaGetLastError();
}

cudaError_t LaunchGatherRows(const float* src, int ld_src, const int32_t* rows, int count, int cols,
                             float* dst, int ld_dst, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  GatherRowsKernel<<<count, RowThreads(cols), 0, stream>>>(src, ld_src, rows, cols, dst, ld_dst);
  return cudaGetLastError();
}

}  // namespace hymba::engine::cuda
