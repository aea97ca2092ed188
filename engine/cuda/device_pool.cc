#include "engine/cuda/device_pool.h"

#include <cuda_runtime.h>

#include "absl/strings/str_cat.h"

namespace hymba::engine::cuda {
namespace {

// Small blocks round to 512 bytes, large ones to 2 MiB, so that the same shapes reuse blocks.
size_t RoundUp(size_t bytes) {
  const size_t unit = bytes < (size_t{1} << 20) ? 512 : (size_t{2} << 20);
  return (bytes + unit - 1) / unit * unit;
}

}  // namespace

DevicePool::~DevicePool() {
  Trim();
  for (auto& [block, size] : in_use_) cudaFree(block);  // leaked buffers; freed all the same
}

absl::StatusOr<void*> DevicePool::Allocate(size_t bytes) {
  const size_t size = RoundUp(bytes);
  // Best fit, but never a block more than twice the size asked for.
  auto it = cache_.lower_bound(size);
  if (it != cache_.end() && it->first <= 2 * size) {
    void* block = it->second;
    in_use_[block] = it->first;
    in_use_bytes_ += it->first;
    cached_bytes_ -= it->first;
    cache_.erase(it);
    return block;
  }
  void* block = nullptr;
  cudaError_t err = cudaMalloc(&block, size);
  if (err != cudaSuccess && !cache_.empty()) {
    cudaGetLastError();  // clear the allocation failure, then retry with the cache released
    Trim();
    err = cudaMalloc(&block, size);
  }
  if (err != cudaSuccess) {
    cudaGetLastError();
    size_t free_bytes = 0, total_bytes = 0;
    cudaMemGetInfo(&free_bytes, &total_bytes);
    return absl::ResourceExhaustedError(
        absl::StrCat("cuda: cannot allocate ", bytes, " bytes (", cudaGetErrorString(err), "; ",
                     free_bytes >> 20, " MiB free of ", total_bytes >> 20, " MiB, ",
                     in_use_bytes_ >> 20, " MiB held by this backend)"));
  }
  in_use_[block] = size;
  in_use_bytes_ += size;
  return block;
}

void DevicePool::Release(void* block) {
  auto it = in_use_.find(block);
  if (it == in_use_.end()) return;
  cache_.emplace(it->second, block);
  cached_bytes_ += it->second;
  in_use_bytes_ -= it->second;
  in_use_.erase(it);
}

void DevicePool::Trim() {
  if (cache_.empty()) return;
  cudaDeviceSynchronize();  // cudaFree would wait too; be explicit about it
  for (auto& [size, block] : cache_) cudaFree(block);
  cache_.clear();
  cached_bytes_ = 0;
}

}  // namespace hymba::engine::cuda
