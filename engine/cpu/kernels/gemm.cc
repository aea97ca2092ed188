#include "engine/cpu/kernels/gemm.h"

#include <cstring>
#include <map>
#include <tuple>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "absl/strings/str_cat.h"
#include "engine/base/bf16.h"

namespace hymba::engine::cpu {
namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

dnnl::engine& CpuEngine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& CpuStream() {
  static dnnl::stream stream(CpuEngine());
  return stream;
}

// Weights are packed for this row count; oneDNN's blocked layout serves every m.
constexpr int kPackRows = 16;

}  // namespace

struct DnnlWeight::Impl {
  bool bf16 = false;
  dnnl::memory::desc weights_desc;
  dnnl::memory weights;
  // (m, ld_x, ld_y, accumulate) -> primitive; shapes repeat step after step.
  mutable std::map<std::tuple<int, int, int, bool>, dnnl::matmul> primitives;
  mutable std::vector<uint16_t> x_bf16;  // [m, k] scratch for bf16 inputs
  mutable std::vector<float> x_f32;      // [m, k] scratch for strided f32 inputs

  const dnnl::matmul& Primitive(int m, int k, int n, int ld_x, int ld_y, bool accumulate) const {
    auto key = std::make_tuple(m, ld_x, ld_y, accumulate);
    auto it = primitives.find(key);
    if (it != primitives.end()) return it->second;
    const dt src_type = bf16 ? dt::bf16 : dt::f32;
    dnnl::memory::desc src({m, k}, src_type, dnnl::memory::dims{ld_x, 1});
    dnnl::memory::desc dst({m, n}, dt::f32, dnnl::memory::dims{ld_y, 1});
    dnnl::primitive_attr attr;
    if (accumulate) {
      dnnl::post_ops ops;
      ops.append_sum(1.0f);
      attr.set_post_ops(ops);
    }
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, weights_desc, dst), attr, CpuEngine());
    return primitives.emplace(key, dnnl::matmul(pd)).first->second;
  }
};

DnnlWeight::DnnlWeight(int n, int k, std::unique_ptr<Impl> impl)
    : n_(n), k_(k), impl_(std::move(impl)) {}
DnnlWeight::~DnnlWeight() = default;

size_t DnnlWeight::bytes() const { return impl_->weights_desc.get_size(); }

absl::StatusOr<std::unique_ptr<DnnlWeight>> DnnlWeight::Pack(const HostMatrix& src, bool bf16) {
  try {
    auto impl = std::make_unique<Impl>();
    impl->bf16 = bf16;
    const dt wt = bf16 ? dt::bf16 : dt::f32;
    const int n = src.n, k = src.k;
    dnnl::memory::desc any({k, n}, wt, tag::any);
    dnnl::matmul::primitive_desc pd(
        dnnl::matmul::desc(dnnl::memory::desc({kPackRows, k}, wt, tag::ab), any,
                           dnnl::memory::desc({kPackRows, n}, dt::f32, tag::ab)),
        CpuEngine());
    impl->weights_desc = pd.weights_desc();
    impl->weights = dnnl::memory(impl->weights_desc, CpuEngine());
    // The source [n, k] row-major is W with shape {k, n} in layout "ba".
    std::vector<uint16_t> bf16_src;
    const void* plain = src.data;
    dt plain_type = src.is_bf16 ? dt::bf16 : dt::f32;
    if (bf16 && !src.is_bf16) {
      bf16_src.resize(static_cast<size_t>(n) * k);
      const float* f = static_cast<const float*>(src.data);
      for (size_t i = 0; i < bf16_src.size(); ++i) bf16_src[i] = F32ToBf16Bits(f[i]);
      plain = bf16_src.data();
      plain_type = dt::bf16;
    }
    dnnl::memory source(dnnl::memory::desc({k, n}, plain_type, tag::ba), CpuEngine(),
                        const_cast<void*>(plain));
    dnnl::reorder(source, impl->weights).execute(CpuStream(), source, impl->weights);
    CpuStream().wait();
    return std::unique_ptr<DnnlWeight>(new DnnlWeight(n, k, std::move(impl)));
  } catch (const dnnl::error& e) {
    return absl::InternalError(
        absl::StrCat("oneDNN could not pack a [", src.n, ", ", src.k, "] weight: ", e.what()));
  }
}

void DnnlWeight::Apply(const float* x, int ld_x, int m, float* y, int ld_y, bool accumulate) const {
  if (m == 0) return;
  // oneDNN's optimized matmul wants a dense source: a strided one falls back to its reference
  // kernel (orders of magnitude slower). Rows are packed into scratch first, converted to bf16
  // on the way in bf16 precision.
  const void* src = x;
  int src_ld = ld_x;
  if (impl_->bf16) {
    impl_->x_bf16.resize(static_cast<size_t>(m) * k_);
    uint16_t* dst = impl_->x_bf16.data();
#pragma omp parallel for schedule(static) if (m > 1)
    for (int r = 0; r < m; ++r) {
      const float* xr = x + static_cast<size_t>(r) * ld_x;
      uint16_t* dr = dst + static_cast<size_t>(r) * k_;
      for (int c = 0; c < k_; ++c) dr[c] = F32ToBf16Bits(xr[c]);
    }
    src = dst;
    src_ld = k_;
  } else if (ld_x != k_) {
    impl_->x_f32.resize(static_cast<size_t>(m) * k_);
    float* dst = impl_->x_f32.data();
#pragma omp parallel for schedule(static) if (m > 64)
    for (int r = 0; r < m; ++r)
      std::memcpy(dst + static_cast<size_t>(r) * k_, x + static_cast<size_t>(r) * ld_x,
                  k_ * sizeof(float));
    src = dst;
    src_ld = k_;
  }
  const dnnl::matmul& prim = impl_->Primitive(m, k_, n_, src_ld, ld_y, accumulate);
  const dt src_type = impl_->bf16 ? dt::bf16 : dt::f32;
  dnnl::memory src_mem(dnnl::memory::desc({m, k_}, src_type, dnnl::memory::dims{src_ld, 1}),
                       CpuEngine(), const_cast<void*>(src));
  dnnl::memory dst_mem(dnnl::memory::desc({m, n_}, dt::f32, dnnl::memory::dims{ld_y, 1}),
                       CpuEngine(), y);
  prim.execute(CpuStream(), {{DNNL_ARG_SRC, src_mem},
                             {DNNL_ARG_WEIGHTS, impl_->weights},
                             {DNNL_ARG_DST, dst_mem}});
  CpuStream().wait();
}

}  // namespace hymba::engine::cpu
