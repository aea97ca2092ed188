// Device helpers shared by the CUDA kernels: fp32 activations with the CPU kernels' definitions,
// bf16 widening, warp and block reductions, and launch-shape helpers.
//
// Thread safety: pure device functions.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace hymba::engine::cuda {

constexpr int kWarp = 32;

__device__ __forceinline__ float Silu(float x) { return x / (1.0f + expf(-x)); }

// log(1 + e^x) without overflow (the CPU's FastSoftplus formulation).
__device__ __forceinline__ float Softplus(float x) {
  return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x)));
}

__device__ __forceinline__ float Bf16ToF32(uint16_t bits) {
  return __uint_as_float(static_cast<uint32_t>(bits) << 16);
}

__device__ __forceinline__ uint16_t F32ToBf16(float x) {
  return __bfloat16_as_ushort(__float2bfloat16_rn(x));
}

// Element `i` of a cache array holding fp32 or bf16 bit patterns.
__device__ __forceinline__ float LoadCache(const void* base, size_t i, bool bf16) {
  return bf16 ? Bf16ToF32(static_cast<const uint16_t*>(base)[i])
              : static_cast<const float*>(base)[i];
}

// Asynchronous 4-byte copy global -> shared (cp.async, sm_80+): the load does not hold a
// register, so a thread can have many in flight. REQUIRES: both addresses 4-byte aligned.
// Elsewhere (the host pass, the CPU stand-in of tests/cuda_emu) a plain copy.
__device__ __forceinline__ void CopyAsync4(uint32_t* shared_dst, const uint32_t* global_src) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(shared_dst));
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(dst), "l"(global_src));
#else
  *shared_dst = *global_src;
#endif
}

// Waits for this thread's CopyAsync4 copies (other threads' need a barrier after their wait).
__device__ __forceinline__ void WaitAsyncCopies() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_all;\n" ::: "memory");
#endif
}

__device__ __forceinline__ float WarpSum(float v) {
  for (int o = kWarp / 2; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float WarpMax(float v) {
  for (int o = kWarp / 2; o > 0; o /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum of `v` over the block; every thread gets the total. `scratch` holds kWarp floats.
// REQUIRES: blockDim.x is a multiple of kWarp; every thread of the block calls it.
__device__ __forceinline__ float BlockSum(float v, float* scratch) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  const int warps = blockDim.x / kWarp;
  v = WarpSum(v);
  __syncthreads();  // scratch may still be read by an earlier call
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float total = lane < warps ? scratch[lane] : 0.0f;
  return WarpSum(total);
}

// Threads per block for a row of `cols` values: a multiple of the warp size, at most 256.
inline int RowThreads(int cols) {
  int t = (cols + kWarp - 1) / kWarp * kWarp;
  return t < kWarp ? kWarp : (t > 256 ? 256 : t);
}

// Blocks for a grid-stride loop over `n` elements with 256 threads.
inline unsigned GridFor(size_t n) {
  const size_t blocks = (n + 255) / 256;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > 65536 ? 65536 : blocks));
}

}  // namespace hymba::engine::cuda
