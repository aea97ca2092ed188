#include "engine/cuda/cublas_api.h"

#include <dlfcn.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace hymba::engine::cuda {
namespace {

template <typename F>
bool Resolve(void* library, const char* name, F* out) {
  *out = reinterpret_cast<F>(dlsym(library, name));
  return *out != nullptr;
}

absl::StatusOr<CublasApi> Open() {
  const std::string name = absl::StrCat("libcublas.so.", CUBLAS_VER_MAJOR);
  void* library = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    return absl::NotFoundError(absl::StrCat("cuda: cannot load ", name, " (", dlerror(),
                                            "): install cuBLAS ", CUBLAS_VER_MAJOR,
                                            " or add its folder to LD_LIBRARY_PATH"));
  }
  CublasApi api;
  // cublas_v2.h maps cublasCreate, cublasDestroy and cublasSetStream to their _v2 symbols.
  const char* missing = nullptr;
  if (!Resolve(library, "cublasCreate_v2", &api.create)) missing = "cublasCreate_v2";
  if (!Resolve(library, "cublasDestroy_v2", &api.destroy)) missing = "cublasDestroy_v2";
  if (!Resolve(library, "cublasSetStream_v2", &api.set_stream)) missing = "cublasSetStream_v2";
  if (!Resolve(library, "cublasSetMathMode", &api.set_math_mode)) missing = "cublasSetMathMode";
  if (!Resolve(library, "cublasGemmEx", &api.gemm_ex)) missing = "cublasGemmEx";
  if (missing != nullptr)
    return absl::NotFoundError(absl::StrCat("cuda: ", name, " has no symbol ", missing));
  return api;
}

}  // namespace

absl::StatusOr<const CublasApi*> CublasApi::Load() {
  static const absl::StatusOr<CublasApi>* loaded = new absl::StatusOr<CublasApi>(Open());
  if (!loaded->ok()) return loaded->status();
  return &loaded->value();
}

}  // namespace hymba::engine::cuda
