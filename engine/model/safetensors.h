// SafetensorsArchive: read-only, memory-mapped view of a checkpoint's tensors, from a single
// `model.safetensors` or from shards listed in `model.safetensors.index.json`.
//
// Ownership: the archive owns the mappings; every TensorView it hands out borrows from them and
// is valid while the archive lives.
// Errors: Open returns NotFound when no safetensors file exists (naming the directory or shard),
// DataLoss for a truncated file, a malformed JSON header, offsets outside the data section or not
// matching shape x dtype size, a malformed index, or an index entry its shard lacks;
// InvalidArgument for an unsupported dtype (e.g. I64) or a tensor name found in two shards. Each
// message names the file and, where relevant, the tensor.
// Data: safetensors guarantees no alignment, so `TensorView::data` may be unaligned for its
// dtype; read it with memcpy or the Convert* functions of dtype.h.
// Thread safety: immutable after Open; safe to read from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/model/dtype.h"

namespace hymba::engine {

// A borrowed tensor: row-major, contiguous.
struct TensorView {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  bool file_backed = false;  // data lies in a SafetensorsArchive's read-only mapping

  int64_t numel() const;
  size_t nbytes() const { return static_cast<size_t>(numel()) * DTypeSize(dtype); }
};

class SafetensorsArchive {
 public:
  // Opens `<model_dir>/model.safetensors`, or the shards named by
  // `<model_dir>/model.safetensors.index.json` when that exists.
  static absl::StatusOr<std::unique_ptr<SafetensorsArchive>> Open(const std::string& model_dir);
  // Opens one safetensors file.
  static absl::StatusOr<std::unique_ptr<SafetensorsArchive>> OpenFile(const std::string& path);

  ~SafetensorsArchive();
  SafetensorsArchive(const SafetensorsArchive&) = delete;
  SafetensorsArchive& operator=(const SafetensorsArchive&) = delete;

  // nullptr when absent.
  const TensorView* Find(const std::string& name) const;
  const std::map<std::string, TensorView>& tensors() const { return tensors_; }

 private:
  struct Mapping;
  SafetensorsArchive() = default;
  // Maps `path` and adds its tensors; appends their names to `*added` when non-null.
  absl::Status AddFile(const std::string& path, std::vector<std::string>* added);

  std::vector<std::unique_ptr<Mapping>> mappings_;
  std::map<std::string, TensorView> tensors_;
};

// Drops the whole pages of a file-backed tensor from this process's resident memory, for use
// once the tensor has been copied: they stay in the kernel's page cache, and reading the view
// again faults them back in from the file. Without it, loading a checkpoint peaks at the mapped
// file plus the backend's copy. No effect on a view that is not file-backed.
void ReleaseResidentPages(const TensorView& t);

}  // namespace hymba::engine
