// IndexUploads: copies the small host-side index arrays the Backend API passes (token ids,
// positions, gather rows, batch entries, attention tiles, ring rows) to the device, one buffer
// per channel. A channel whose content equals its previous upload is not copied again: within a
// step every layer passes the same positions and entries, so each is uploaded once per step.
//
// Copies are stream-ordered: the kernels that read an upload run before the channel's next copy
// overwrites it. Host sources are pageable memory, which cudaMemcpyAsync stages before returning,
// so callers may reuse them at once.
//
// Ownership: owns its device buffers (from the DevicePool, which must outlive it).
// Errors: Upload returns the pool's ResourceExhausted or the copy's error.
// Thread safety: not thread-safe; the backend's single user calls it.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/cuda/device_pool.h"

namespace hymba::engine::cuda {

enum class IndexChannel {
  kIds,        // token ids of Embed
  kPositions,  // RoPE positions
  kRows,       // GatherRows rows
  kSeqs,       // batch entries (SeqDesc)
  kRowSeq,     // packed row -> entry
  kTiles,      // attention tiles
  kKvPairs,    // (source row, ring row) of KvWrite
  kCount,
};

class IndexUploads {
 public:
  IndexUploads(DevicePool* pool, cudaStream_t stream) : pool_(pool), stream_(stream) {}
  ~IndexUploads();
  IndexUploads(const IndexUploads&) = delete;
  IndexUploads& operator=(const IndexUploads&) = delete;

  // Device copy of `bytes` bytes at `host`, valid for work enqueued before the channel's next
  // Upload. REQUIRES: bytes > 0.
  absl::StatusOr<const void*> Upload(IndexChannel channel, const void* host, size_t bytes);

  template <typename T>
  absl::StatusOr<const T*> Upload(IndexChannel channel, const std::vector<T>& host) {
    auto p = Upload(channel, host.data(), host.size() * sizeof(T));
    if (!p.ok()) return p.status();
    return static_cast<const T*>(*p);
  }

 private:
  struct Channel {
    void* device = nullptr;
    size_t capacity = 0;
    std::vector<uint8_t> last;  // content of the last upload
  };
  DevicePool* pool_;
  cudaStream_t stream_;
  Channel channels_[static_cast<int>(IndexChannel::kCount)];
};

}  // namespace hymba::engine::cuda
