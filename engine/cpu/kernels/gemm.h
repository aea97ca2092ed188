// y = x·Wᵀ on the CPU through oneDNN matmul, with W pre-packed once into the layout oneDNN's
// kernels prefer, in f32 or bf16. Activations stay fp32: in bf16 precision the rows of x are
// rounded to bf16 into a scratch buffer first; accumulation is fp32 either way.
//
// Ownership: DnnlWeight owns its packed copy and its primitive cache.
// Errors: Pack returns Internal when oneDNN rejects the shape.
// Thread safety: not thread-safe (the primitive cache is unguarded); one engine thread uses it.
#pragma once

#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/api/backend.h"

namespace hymba::engine::cpu {

class DnnlWeight : public PackedWeight {
 public:
  static absl::StatusOr<std::unique_ptr<DnnlWeight>> Pack(const HostMatrix& src, bool bf16);
  ~DnnlWeight() override;

  int n() const override { return n_; }
  int k() const override { return k_; }
  size_t bytes() const override;

  // y[m, n] = x[m, k]·Wᵀ (+ y when accumulate).
  void Apply(const float* x, int ld_x, int m, float* y, int ld_y, bool accumulate) const;

 private:
  struct Impl;
  DnnlWeight(int n, int k, std::unique_ptr<Impl> impl);
  int n_, k_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hymba::engine::cpu
