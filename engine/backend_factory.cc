#include "engine/backend_factory.h"

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/cpu/cpu_backend.h"
#if HYMBA_WITH_CUDA
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/cuda_device.h"
#endif

namespace hymba::engine {

bool CudaCompiledIn() {
#if HYMBA_WITH_CUDA
  return true;
#else
  return false;
#endif
}

absl::StatusOr<Precision> ResolvePrecision(const std::string& name, const std::string& device) {
  if (name == "f32") return Precision::kF32;
  if (name == "bf16") return Precision::kBf16;
  if (name == "auto") {
    if (device == "cuda") return Precision::kBf16;
    return CpuHasAvx512Bf16() ? Precision::kBf16 : Precision::kF32;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("precision '", name, "': expected f32, bf16 or auto"));
}

bool CudaDevicePresent() {
#if HYMBA_WITH_CUDA
  return cuda::DeviceCount() > 0;
#else
  return false;
#endif
}

absl::StatusOr<std::unique_ptr<Backend>> CreateBackend(const BackendOptions& options) {
  std::string device = options.device;
  if (device == "auto") device = CudaDevicePresent() ? "cuda" : "cpu";
  if (device == "cuda" && options.prefill_gemm_fp16)
    return absl::InvalidArgumentError("prefill_gemm fp16: only the CPU backend has it");
  if (device == "cuda") {
    if (!CudaCompiledIn()) {
      return absl::UnimplementedError(
          "device 'cuda': this build has no CUDA backend (configure with -DHYMBA_WITH_CUDA=ON)");
    }
#if HYMBA_WITH_CUDA
    if (!CudaDevicePresent())
      return absl::NotFoundError(absl::StrCat("device 'cuda': ", cuda::DescribeDevice(0)));
    HY_ASSIGN_OR_RETURN(Precision precision, ResolvePrecision(options.precision, device));
    CudaBackendOptions cuda_options;
    cuda_options.precision = precision;
    HY_ASSIGN_OR_RETURN(auto backend, CudaBackend::Create(cuda_options));
    return std::unique_ptr<Backend>(std::move(backend));
#endif
  }
  if (device != "cpu") {
    return absl::InvalidArgumentError(
        absl::StrCat("device '", options.device, "': expected auto, cpu or cuda"));
  }
  HY_ASSIGN_OR_RETURN(Precision precision, ResolvePrecision(options.precision, device));
  CpuBackendOptions cpu;
  cpu.threads = options.threads;
  cpu.precision = precision;
  cpu.prefill_gemm_fp16 = options.prefill_gemm_fp16;
  HY_ASSIGN_OR_RETURN(auto backend, CpuBackend::Create(cpu));
  return std::unique_ptr<Backend>(std::move(backend));
}

}  // namespace hymba::engine
