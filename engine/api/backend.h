// Backend: device memory plus the kernels Hymba's forward pass needs. The forward graph
// (model/hymba_forward.cc) is written once against this interface; the CPU and CUDA backends
// differ only in kernels.
//
// Conventions: activations are fp32 row-major matrices with leading dimensions in elements;
// weights live in PackedWeight objects built once at load in the backend's preferred layout and
// in the chosen compute precision; all accumulation is fp32.
// Ownership: DeviceBuffer and PackedWeight own their memory (move-only, freed on destruction) and
// must not outlive the Backend that made them.
// Errors: allocation and packing return ResourceExhausted / Internal; ops REQUIRE valid shapes.
// Thread safety: a backend is used by one thread at a time (the engine loop); ops may use
// internal worker threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/api/backend_ops.h"

namespace hymba::engine {

enum class Precision { kF32, kBf16 };
const char* PrecisionName(Precision p);

class Backend;

// Owned device memory.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(Backend* owner, void* data, size_t bytes)
      : owner_(owner), data_(data), bytes_(bytes) {}
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept { *this = std::move(other); }
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* data() const { return data_; }
  float* f32() const { return static_cast<float*>(data_); }
  size_t bytes() const { return bytes_; }

 private:
  Backend* owner_ = nullptr;
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

// A weight matrix W [n, k] (PyTorch Linear layout) ready for y = x·Wᵀ.
class PackedWeight {
 public:
  virtual ~PackedWeight() = default;
  virtual int n() const = 0;
  virtual int k() const = 0;
  virtual size_t bytes() const = 0;
};

// Host-side source of a weight: row-major [n, k] in f32 or bf16 bit patterns.
struct HostMatrix {
  const void* data = nullptr;
  bool is_bf16 = false;
  int n = 0, k = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string name() const = 0;  // "cpu", "cuda:0 (...)"
  virtual Precision precision() const = 0;

  // Memory. Allocate returns zero-filled memory.
  virtual absl::StatusOr<DeviceBuffer> Allocate(size_t bytes) = 0;
  virtual void Free(void* data, size_t bytes) = 0;
  virtual void CopyToDevice(void* dst, const void* src, size_t bytes) = 0;
  virtual void CopyToHost(void* dst, const void* src, size_t bytes) = 0;
  virtual void CopyDeviceToDevice(void* dst, const void* src, size_t bytes) = 0;
  virtual void Fill(void* dst, size_t bytes, uint8_t value) = 0;
  // Blocks until queued work is done.
  virtual void Synchronize() = 0;
  // Binds the calling thread to the backend's execution resources (the CPU backend applies its
  // worker-thread count, which OpenMP keeps per calling thread). Called at the start of every
  // forward pass, so any thread may drive the backend.
  virtual void PrepareThread() {}
  // Ops return nothing; a backend that fails inside one (a library exception, memory exhausted)
  // records the first failure here. The forward pass checks it once per step: the step then
  // fails with that status and the slots it touched must be reset.
  virtual absl::Status TakeError() { return absl::OkStatus(); }

  // Weights: packs `src` for Gemm in the backend's precision.
  virtual absl::StatusOr<std::unique_ptr<PackedWeight>> PackWeight(const HostMatrix& src) = 0;

  // y[m, n] = x[m, k]·Wᵀ (+ y when accumulate).
  virtual void Gemm(const float* x, int ld_x, int m, const PackedWeight& w, float* y, int ld_y,
                    bool accumulate) = 0;
  // out[i, :] = table[ids[i], :] as fp32; table is [rows, cols] in f32 or bf16 (device memory).
  virtual void Embed(const int32_t* ids_host, int count, const void* table, bool table_bf16,
                     int cols, float* out, int ld_out) = 0;
  // y = w ⊙ x / sqrt(mean(x²) + eps), row by row over `cols` values; x and y may alias.
  virtual void RmsNorm(const float* x, int ld_x, int rows, int cols, const float* w, float eps,
                       float* y, int ld_y) = 0;
  // Rotate-half RoPE in place on `heads` heads of `head_dim` per row, at positions_host[row].
  virtual void Rope(float* x, int ld_x, int rows, int heads, int head_dim,
                    const int32_t* positions_host, double base) = 0;
  virtual void Attention(const AttentionArgs& args) = 0;
  virtual void KvWrite(const KvWriteArgs& args) = 0;
  virtual void CausalConv(const CausalConvArgs& args) = 0;
  virtual void SelectiveScan(const SelectiveScanArgs& args) = 0;
  // dt[r, c] = softplus(dt[r, c] + bias[c]).
  virtual void BiasSoftplus(float* dt, int ld, int rows, int cols, const float* bias) = 0;
  // a[r, c] = SiLU(a[r, c]) ⊙ b[r, c]  (gated FFN), or relu(a)² when `relu2`.
  virtual void GatedActivation(float* a, int ld_a, const float* b, int ld_b, int rows, int cols,
                               bool relu2) = 0;
  // out = (RmsNorm(a; wa) + RmsNorm(y; wy)) / 2 (HYMBA.md "Fusion").
  virtual void FuseNorms(const float* a, int ld_a, const float* wa, const float* y, int ld_y,
                         const float* wy, int rows, int cols, float eps, float* out,
                         int ld_out) = 0;
  // x[r, c] += bias[c].
  virtual void AddBias(float* x, int ld, int rows, int cols, const float* bias) = 0;
  // dst[r, :cols] = src[r, :cols] for `rows` rows.
  virtual void CopyMatrix(const float* src, int ld_src, int rows, int cols, float* dst,
                          int ld_dst) = 0;
  // dst[i, :] = src[rows_host[i], :] for `count` rows of `cols`.
  virtual void GatherRows(const float* src, int ld_src, const int32_t* rows_host, int count,
                          int cols, float* dst, int ld_dst) = 0;
};

}  // namespace hymba::engine
