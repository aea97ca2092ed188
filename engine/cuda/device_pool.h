// DevicePool: device memory from plain cudaMalloc (never managed memory), with freed blocks
// cached for reuse. All work of the owning backend runs on one stream, so a block freed while
// kernels that use it are still queued can be handed out again at once: whatever the next owner
// enqueues runs after them.
//
// Ownership: owns every block it returned or cached; the destructor frees them all.
// Errors: Allocate returns ResourceExhausted when cudaMalloc fails even after the cache is
// released.
// Thread safety: not thread-safe; the backend's single user calls it.
#pragma once

#include <cstddef>
#include <map>
#include <unordered_map>

#include "absl/status/statusor.h"

namespace hymba::engine::cuda {

class DevicePool {
 public:
  DevicePool() = default;
  ~DevicePool();
  DevicePool(const DevicePool&) = delete;
  DevicePool& operator=(const DevicePool&) = delete;

  // A block of at least `bytes` (contents undefined). REQUIRES: bytes > 0; the device is current.
  absl::StatusOr<void*> Allocate(size_t bytes);
  // Returns a block from Allocate to the cache.
  void Release(void* block);
  // cudaFree of every cached block (waits for the device).
  void Trim();

  size_t in_use_bytes() const { return in_use_bytes_; }
  size_t cached_bytes() const { return cached_bytes_; }

 private:
  std::multimap<size_t, void*> cache_;        // size -> free block
  std::unordered_map<void*, size_t> in_use_;  // block -> size
  size_t in_use_bytes_ = 0, cached_bytes_ = 0;
};

}  // namespace hymba::engine::cuda
