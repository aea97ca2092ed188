#include "engine/cuda/index_uploads.h"

#include <cstring>

#include "engine/cuda/cuda_status.h"

namespace hymba::engine::cuda {

IndexUploads::~IndexUploads() {
  for (Channel& c : channels_)
    if (c.device != nullptr) pool_->Release(c.device);
}

absl::StatusOr<const void*> IndexUploads::Upload(IndexChannel channel, const void* host,
                                                 size_t bytes) {
  Channel& c = channels_[static_cast<int>(channel)];
  if (c.device != nullptr && c.last.size() == bytes && std::memcmp(c.last.data(), host, bytes) == 0)
    return static_cast<const void*>(c.device);
  if (bytes > c.capacity) {
    if (c.device != nullptr) pool_->Release(c.device);  // stream order keeps earlier readers safe
    c.device = nullptr;
    c.capacity = 0;
    c.last.clear();
    auto block = pool_->Allocate(bytes);
    if (!block.ok()) return block.status();
    c.device = *block;
    c.capacity = bytes;
  }
  const cudaError_t err = cudaMemcpyAsync(c.device, host, bytes, cudaMemcpyHostToDevice, stream_);
  if (err != cudaSuccess) {
    c.last.clear();
    return CudaStatus(err, "uploading indices");
  }
  c.last.assign(static_cast<const uint8_t*>(host), static_cast<const uint8_t*>(host) + bytes);
  return static_cast<const void*>(c.device);
}

}  // namespace hymba::engine::cuda
