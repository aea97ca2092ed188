// out[i, :] = table[ids[i], :] widened to fp32; one block per output row.
#include "engine/cuda/kernels/cuda_kernels.h"
#include "engine/cuda/kernels/device_math.cuh"

namespace hymba::engine::cuda {
namespace {

__global__ void EmbedKernel(const int32_t* ids, const void* table, bool table_bf16, int cols,
                            float* out, int ld_out) {
  const size_t offset = static_cast<size_t>(ids[blockIdx.x]) * cols;
  float* dst = out + static_cast<size_t>(blockIdx.x) * ld_out;
  for (int c = threadIdx.x; c < cols; c += blockDim.x)
    dst[c] = LoadCache(table, offset + c, table_bf16);
}

}  // namespace

cudaError_t LaunchEmbed(const int32_t* ids, int count, const void* table, bool table_bf16, int cols,
                        float* out, int ld_out, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  EmbedKernel<<<count, RowThreads(cols), 0, stream>>>(ids, table, table_bf16, cols, out, ld_out);
  return cudaGetLastError();
}

}  // namespace hymba::engine::cuda
