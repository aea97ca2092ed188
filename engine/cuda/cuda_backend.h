// CudaBackend: the Backend on one NVIDIA GPU. Device memory comes from plain cudaMalloc through a
// caching pool (never managed memory); all work runs in order on one stream; GEMMs go through
// cuBLAS (bf16 weights with fp32 accumulation in bf16 precision, fp32 with TF32 off in f32
// precision); every other op is a kernel in cuda/kernels/<op>.cu with the semantics of the CPU
// kernel of the same name, which is its reference.
//
// Host pointers in the API (token ids, positions, gather rows, batch entries) are copied to the
// device inside the backend. Copies to and from the host wait for the stream; everything else is
// asynchronous, and a failure inside an op is reported by TakeError (checked once per step).
//
// This header is plain C++: CUDA types stay in the .cc files.
// Ownership: owns its stream, cuBLAS handle and memory pool; buffers and packed weights it
// returns must be destroyed before it.
// Errors: Create returns NotFound without a usable GPU and Internal when CUDA or cuBLAS fails to
// initialise.
// Thread safety: one caller at a time (the engine loop); PrepareThread binds a new calling thread
// to the device.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/api/backend.h"

namespace hymba::engine {

struct CudaBackendOptions {
  int device = 0;
  Precision precision = Precision::kBf16;
};

class CudaBackend final : public Backend {
 public:
  static absl::StatusOr<std::unique_ptr<CudaBackend>> Create(const CudaBackendOptions& options);
  ~CudaBackend() override;

  std::string name() const override;
  Precision precision() const override;

  absl::StatusOr<DeviceBuffer> Allocate(size_t bytes) override;
  void Free(void* data, size_t bytes) override;
  void CopyToDevice(void* dst, const void* src, size_t bytes) override;
  void CopyToHost(void* dst, const void* src, size_t bytes) override;
  void CopyDeviceToDevice(void* dst, const void* src, size_t bytes) override;
  void Fill(void* dst, size_t bytes, uint8_t value) override;
  void Synchronize() override;
  void PrepareThread() override;
  absl::Status TakeError() override;

  absl::StatusOr<std::unique_ptr<PackedWeight>> PackWeight(const HostMatrix& src) override;
  void Gemm(const float* x, int ld_x, int m, const PackedWeight& w, float* y, int ld_y,
            bool accumulate) override;
  void Embed(const int32_t* ids_host, int count, const void* table, bool table_bf16, int cols,
             float* out, int ld_out) override;
  void RmsNorm(const float* x, int ld_x, int rows, int cols, const float* w, float eps, float* y,
               int ld_y) override;
  void Rope(float* x, int ld_x, int rows, int heads, int head_dim, const int32_t* positions_host,
            double base) override;
  void Attention(const AttentionArgs& args) override;
  void KvWrite(const KvWriteArgs& args) override;
  void CausalConv(const CausalConvArgs& args) override;
  void SelectiveScan(const SelectiveScanArgs& args) override;
  void BiasSoftplus(float* dt, int ld, int rows, int cols, const float* bias) override;
  void GatedActivation(float* a, int ld_a, const float* b, int ld_b, int rows, int cols,
                       bool relu2) override;
  void FuseNorms(const float* a, int ld_a, const float* wa, const float* y, int ld_y,
                 const float* wy, int rows, int cols, float eps, float* out, int ld_out) override;
  void AddBias(float* x, int ld, int rows, int cols, const float* bias) override;
  void CopyMatrix(const float* src, int ld_src, int rows, int cols, float* dst,
                  int ld_dst) override;
  void GatherRows(const float* src, int ld_src, const int32_t* rows_host, int count, int cols,
                  float* dst, int ld_dst) override;

 private:
  struct Impl;  // CUDA handles, pool, uploads, scratch (cuda_backend_impl.h)
  explicit CudaBackend(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hymba::engine
