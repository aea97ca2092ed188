#include "engine/cuda/cuda_backend.h"

#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/base/bf16.h"
#include "engine/base/status_macros.h"
#include "engine/cuda/cuda_backend_impl.h"
#include "engine/cuda/cuda_device.h"
#include "engine/cuda/cuda_weight.h"

namespace hymba::engine {

using cuda::CudaStatus;

absl::StatusOr<std::unique_ptr<CudaBackend>> CudaBackend::Create(
    const CudaBackendOptions& options) {
  const int count = cuda::DeviceCount();
  if (count == 0)
    return absl::NotFoundError(absl::StrCat("device 'cuda': ", cuda::DescribeDevice(0)));
  if (options.device < 0 || options.device >= count)
    return absl::NotFoundError(absl::StrCat("device 'cuda:", options.device, "': only ", count,
                                            " CUDA device(s) present"));
  auto impl = std::make_unique<Impl>();
  impl->device = options.device;
  impl->precision = options.precision;
  HY_RETURN_IF_ERROR(CudaStatus(cudaSetDevice(options.device), "cudaSetDevice"));
  cudaDeviceProp prop;
  HY_RETURN_IF_ERROR(
      CudaStatus(cudaGetDeviceProperties(&prop, options.device), "cudaGetDeviceProperties"));
  impl->multiprocessors = prop.multiProcessorCount;
  impl->shared_optin = prop.sharedMemPerBlockOptin;
  impl->name = cuda::DescribeDevice(options.device);
  HY_RETURN_IF_ERROR(CudaStatus(cudaStreamCreateWithFlags(&impl->stream, cudaStreamNonBlocking),
                                "cudaStreamCreate"));
  // From here on the backend owns the stream (its destructor releases it).
  std::unique_ptr<CudaBackend> backend(new CudaBackend(std::move(impl)));
  Impl& s = *backend->impl_;
  HY_ASSIGN_OR_RETURN(s.blas, cuda::CublasApi::Load());
  HY_RETURN_IF_ERROR(cuda::CublasStatus(s.blas->create(&s.cublas), "cublasCreate"));
  HY_RETURN_IF_ERROR(cuda::CublasStatus(s.blas->set_stream(s.cublas, s.stream), "cublasSetStream"));
  HY_RETURN_IF_ERROR(cuda::CublasStatus(s.blas->set_math_mode(s.cublas, CUBLAS_DEFAULT_MATH),
                                        "cublasSetMathMode"));
  s.uploads = std::make_unique<cuda::IndexUploads>(&s.pool, s.stream);
  return backend;
}

CudaBackend::CudaBackend(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

CudaBackend::~CudaBackend() {
  Impl& s = *impl_;
  cudaSetDevice(s.device);
  if (s.stream != nullptr) cudaStreamSynchronize(s.stream);
  s.uploads.reset();
  for (int k = 0; k < Impl::kScratchKinds; ++k)
    if (s.scratch[k] != nullptr) s.pool.Release(s.scratch[k]);
  s.pool.Trim();
  if (s.cublas != nullptr) s.blas->destroy(s.cublas);
  if (s.stream != nullptr) cudaStreamDestroy(s.stream);
}

std::string CudaBackend::name() const { return impl_->name; }
Precision CudaBackend::precision() const { return impl_->precision; }

absl::StatusOr<DeviceBuffer> CudaBackend::Allocate(size_t bytes) {
  if (bytes == 0) return DeviceBuffer(this, nullptr, 0);
  HY_ASSIGN_OR_RETURN(void* block, impl_->pool.Allocate(bytes));
  const cudaError_t err = cudaMemsetAsync(block, 0, bytes, impl_->stream);
  if (err != cudaSuccess) {
    impl_->pool.Release(block);
    return CudaStatus(err, "zeroing a new buffer");
  }
  return DeviceBuffer(this, block, bytes);
}

void CudaBackend::Free(void* data, size_t) {
  if (data != nullptr) impl_->pool.Release(data);
}

void CudaBackend::CopyToDevice(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  if (impl_->Check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, impl_->stream),
                   "copy to device"))
    impl_->Check(cudaStreamSynchronize(impl_->stream), "copy to device");
}

void CudaBackend::CopyToHost(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  if (impl_->Check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, impl_->stream),
                   "copy to host"))
    impl_->Check(cudaStreamSynchronize(impl_->stream), "copy to host");
}

void CudaBackend::CopyDeviceToDevice(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  impl_->Check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, impl_->stream),
               "device-to-device copy");
}

void CudaBackend::Fill(void* dst, size_t bytes, uint8_t value) {
  if (bytes == 0) return;
  impl_->Check(cudaMemsetAsync(dst, value, bytes, impl_->stream), "fill");
}

void CudaBackend::Synchronize() {
  impl_->Check(cudaStreamSynchronize(impl_->stream), "synchronize");
}

void CudaBackend::PrepareThread() { impl_->Check(cudaSetDevice(impl_->device), "cudaSetDevice"); }

absl::Status CudaBackend::TakeError() {
  impl_->Check(cudaGetLastError(), "kernel launch");
  // Faults inside kernels that already ran (without waiting for the rest).
  const cudaError_t queued = cudaStreamQuery(impl_->stream);
  if (queued != cudaErrorNotReady) impl_->Check(queued, "stream");
  return std::exchange(impl_->error, absl::OkStatus());
}

absl::StatusOr<std::unique_ptr<PackedWeight>> CudaBackend::PackWeight(const HostMatrix& src) {
  const size_t count = static_cast<size_t>(src.n) * src.k;
  const bool bf16 = impl_->precision == Precision::kBf16;
  const size_t bytes = count * (bf16 ? 2 : 4);
  // Converted on the host (once, at load) so the device copy is already in the compute type.
  std::vector<uint16_t> half;
  std::vector<float> full;
  const void* host = src.data;
  if (bf16 && !src.is_bf16) {
    half.resize(count);
    const float* f = static_cast<const float*>(src.data);
    for (size_t i = 0; i < count; ++i) half[i] = F32ToBf16Bits(f[i]);
    host = half.data();
  } else if (!bf16 && src.is_bf16) {
    full.resize(count);
    const uint16_t* h = static_cast<const uint16_t*>(src.data);
    for (size_t i = 0; i < count; ++i) full[i] = Bf16BitsToF32(h[i]);
    host = full.data();
  }
  HY_ASSIGN_OR_RETURN(DeviceBuffer buffer, Allocate(bytes));
  CopyToDevice(buffer.data(), host, bytes);
  HY_RETURN_IF_ERROR(TakeError());
  return std::unique_ptr<PackedWeight>(
      std::make_unique<cuda::CudaWeight>(std::move(buffer), src.n, src.k, bf16));
}

void CudaBackend::Gemm(const float* x, int ld_x, int m, const PackedWeight& w, float* y, int ld_y,
                       bool accumulate) {
  if (m == 0) return;
  const auto& weight = static_cast<const cuda::CudaWeight&>(w);
  uint16_t* x_bf16 = nullptr;
  if (weight.bf16()) {
    x_bf16 = static_cast<uint16_t*>(
        impl_->Scratch(Impl::kGemmInput, static_cast<size_t>(m) * weight.k() * 2));
    if (x_bf16 == nullptr) return;
  }
  impl_->Record(weight.Apply(*impl_->blas, impl_->cublas, impl_->stream, x, ld_x, m, y, ld_y,
                             accumulate, x_bf16));
}

}  // namespace hymba::engine
