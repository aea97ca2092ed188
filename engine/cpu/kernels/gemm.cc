#include "engine/cpu/kernels/gemm.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/base/bf16.h"
#include "engine/cpu/kernels/bf16_panels.h"
#include "engine/cpu/kernels/gemm_f16.h"
#include "engine/cpu/kernels/gemv_bf16.h"

namespace hymba::engine::cpu {
namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

dnnl::engine& CpuEngine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// Per thread: whichever thread drives a backend has its own stream and scratch buffers, so two
// engines on two threads never share them.
dnnl::stream& CpuStream() {
  static thread_local dnnl::stream stream(CpuEngine());
  return stream;
}

// Up to this many rows, bf16 weights go through the GEMV in passes of kGemvMaxRows: re-reading
// them a few times costs less than widening all of them to fp32 for oneDNN (on the 1.5B shape,
// 16 decode rows took 954 ms per step through the widening path).
constexpr int kGemvPassRows = 4 * kGemvMaxRows;
// With fp16_rows, more rows than this run gemm_f16.h: from 33 rows it beat two or more GEMV passes
// (benchmarks/gemm_rows, weights in L3; from DRAM the passes cost more).
constexpr int kF16MinRows = 2 * kGemvMaxRows;

// Weights are packed for this row count; oneDNN's blocked layout serves every m.
constexpr int kPackRows = 16;

// Many-row GEMMs on bf16 weights without AMX widen W a column block at a time, each block about
// this size in fp32 (a core's L2 here), so that it is written and read back near the core that
// multiplies it (widening whole weights wrote ~6 GB per 512-token step through the caches: 7% of
// a long prefill). In two runs at 512 rows of the 1.5B shapes, 2 MiB blocks ran 1-8% faster than
// 1 MiB ones (wider blocks re-read the activations fewer times; the down projection gained most)
// and 3-4 MiB ones no faster.
constexpr size_t kWideBlockBytes = size_t{2} << 20;

// Dense copies of bf16 weights for many-row GEMMs, shared by all weights (one GEMM runs at a
// time): without AMX, fp32 column blocks (one per thread) or the whole weight when it is too
// small to split; with AMX, the whole weight in bf16.
std::vector<float>& WideScratch() {
  static thread_local std::vector<float> scratch;
  return scratch;
}
std::vector<uint16_t>& DenseBf16Scratch() {
  static thread_local std::vector<uint16_t> scratch;
  return scratch;
}

// Dense copies of the inputs, shared by all weights like the scratch above: one per weight held
// max_batch_tokens rows of each strided input (~360 MiB for the 1.5B shape at 512 rows), and
// faulted in its pages on each weight's first large call.
std::vector<uint16_t>& InputBf16Scratch() {
  static thread_local std::vector<uint16_t> scratch;
  return scratch;
}
std::vector<float>& InputF32Scratch() {
  static thread_local std::vector<float> scratch;
  return scratch;
}

// oneDNN's scratchpad, shared by every primitive: left to oneDNN it is allocated (and its pages
// zeroed by the kernel) on every call, which cost ~7% of a long prefill.
dnnl::memory Scratchpad(const dnnl::memory::desc& desc) {
  static thread_local std::vector<uint8_t> buffer;
  if (buffer.size() < desc.get_size()) buffer.resize(desc.get_size());
  return dnnl::memory(desc, CpuEngine(), buffer.data());
}

}  // namespace

bool CpuHasAmxBf16() {
  static const bool has = [] {
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpuinfo, line))
      if (line.rfind("flags", 0) == 0) return line.find(" amx_bf16") != std::string::npos;
    return false;
  }();
  return has;
}

struct CpuWeight::Impl {
  bool bf16 = false;
  dnnl::memory::desc weights_desc;  // f32 precision: oneDNN's packed layout
  dnnl::memory weights;
  std::unique_ptr<Bf16Panels> panels;  // bf16 precision: W in the GEMV's column panels
  std::vector<float> f16_scales;       // fp16_rows: W's column scales (gemm_f16.h)
  // Primitives by shape: decode batches and prefill chunks repeat the same few row counts.
  struct Key {
    int m, n, ld_y;
    dt src_type;
    bool accumulate, single_thread;
    bool operator<(const Key& o) const {
      return std::tie(m, n, ld_y, src_type, accumulate, single_thread) <
             std::tie(o.m, o.n, o.ld_y, o.src_type, o.accumulate, o.single_thread);
    }
  };
  struct Matmul {
    dnnl::matmul primitive;
    dnnl::memory::desc scratchpad;
  };
  // Bounded: with every row count up to max_batch_tokens possible, a long-running server would
  // otherwise keep thousands of primitives per weight.
  static constexpr size_t kMaxPrimitives = 32;
  mutable std::map<Key, Matmul> primitives;

  // single_thread: a primitive planned for one thread, to run inside a parallel region (oneDNN
  // sizes its work split by the thread count when the primitive is made; one planned for more
  // threads would open a nested OpenMP region there, which libgomp serializes at a cost).
  const Matmul& Primitive(int m, int k, int n, int ld_y, dt type, bool accumulate,
                          const dnnl::memory::desc& wdesc, bool single_thread = false) const {
    const Key key{m, n, ld_y, type, accumulate, single_thread};
    auto it = primitives.find(key);
    if (it != primitives.end()) return it->second;
    MakeRoom(1);
    dnnl::memory::desc src({m, k}, type, tag::ab);
    dnnl::memory::desc dst({m, n}, dt::f32, dnnl::memory::dims{ld_y, 1});
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (accumulate) {
      dnnl::post_ops ops;
      ops.append_sum(1.0f);
      attr.set_post_ops(ops);
    }
    // oneDNN plans for omp_get_max_threads(); restored however the creation ends.
    struct ThreadCount {
      int saved = omp_get_max_threads();
      explicit ThreadCount(bool one) {
        if (one) omp_set_num_threads(1);
      }
      ~ThreadCount() { omp_set_num_threads(saved); }
    };
    dnnl::matmul::primitive_desc pd;
    dnnl::matmul primitive;
    {
      ThreadCount plan(single_thread);
      pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, wdesc, dst), attr, CpuEngine());
      primitive = dnnl::matmul(pd);
    }
    return primitives.emplace(key, Matmul{primitive, pd.scratchpad_desc()}).first->second;
  }
  // Clears the cache unless `count` more primitives fit, so that references to the next
  // `count` primitives made stay valid together.
  void MakeRoom(size_t count) const {
    if (primitives.size() + count > kMaxPrimitives) primitives.clear();
  }
};

CpuWeight::CpuWeight(int n, int k, std::unique_ptr<Impl> impl)
    : n_(n), k_(k), impl_(std::move(impl)) {}
CpuWeight::~CpuWeight() = default;

size_t CpuWeight::bytes() const {
  return impl_->bf16 ? impl_->panels->bytes() : impl_->weights_desc.get_size();
}

absl::StatusOr<std::unique_ptr<CpuWeight>> CpuWeight::Pack(const HostMatrix& src, bool bf16,
                                                           bool fp16_rows) {
  const int n = src.n, k = src.k;
  const size_t count = static_cast<size_t>(n) * k;
  auto impl = std::make_unique<Impl>();
  impl->bf16 = bf16;
  try {
    if (bf16) {
      if (src.is_bf16) {
        impl->panels = std::make_unique<Bf16Panels>(static_cast<const uint16_t*>(src.data), n, k);
      } else {
        std::vector<uint16_t> rounded(count);
        const float* f = static_cast<const float*>(src.data);
        for (size_t i = 0; i < count; ++i) rounded[i] = F32ToBf16Bits(f[i]);
        impl->panels = std::make_unique<Bf16Panels>(rounded.data(), n, k);
      }
      if (fp16_rows) impl->f16_scales = F16ColumnScales(*impl->panels);
    } else {
      dnnl::matmul::primitive_desc pd(
          dnnl::matmul::desc(dnnl::memory::desc({kPackRows, k}, dt::f32, tag::ab),
                             dnnl::memory::desc({k, n}, dt::f32, tag::any),
                             dnnl::memory::desc({kPackRows, n}, dt::f32, tag::ab)),
          CpuEngine());
      impl->weights_desc = pd.weights_desc();
      impl->weights = dnnl::memory(impl->weights_desc, CpuEngine());
      // The source [n, k] row-major is W with shape {k, n} in layout "ba".
      dnnl::memory source(dnnl::memory::desc({k, n}, src.is_bf16 ? dt::bf16 : dt::f32, tag::ba),
                          CpuEngine(), const_cast<void*>(src.data));
      dnnl::reorder(source, impl->weights).execute(CpuStream(), source, impl->weights);
      CpuStream().wait();
    }
  } catch (const dnnl::error& e) {
    return absl::InternalError(
        absl::StrCat("oneDNN could not pack a [", n, ", ", k, "] weight: ", e.what()));
  }
  return std::unique_ptr<CpuWeight>(new CpuWeight(n, k, std::move(impl)));
}

void CpuWeight::Apply(const float* x, int ld_x, int m, float* y, int ld_y, bool accumulate) const {
  if (m == 0) return;
  if (!impl_->f16_scales.empty() && m > kF16MinRows) {
    GemmF16(*impl_->panels, impl_->f16_scales, x, ld_x, m, y, ld_y, accumulate);
    return;
  }
  if (impl_->bf16 && m <= kGemvPassRows && GemvBf16Available()) {
    // Up to kGemvMaxRows rows per pass over the weights.
    for (int r = 0; r < m; r += kGemvMaxRows)
      GemvBf16(*impl_->panels, x + static_cast<size_t>(r) * ld_x, ld_x,
               std::min(kGemvMaxRows, m - r), y + static_cast<size_t>(r) * ld_y, ld_y, accumulate);
    return;
  }
  // oneDNN's optimized matmul wants a dense source: a strided one falls back to its reference
  // kernel (orders of magnitude slower).
  const bool amx_bf16 = impl_->bf16 && CpuHasAmxBf16();
  const void* src = x;
  dt src_type = dt::f32;
  if (amx_bf16) {
    std::vector<uint16_t>& x_bf16 = InputBf16Scratch();
    if (x_bf16.size() < static_cast<size_t>(m) * k_) x_bf16.resize(static_cast<size_t>(m) * k_);
    uint16_t* dst = x_bf16.data();
#pragma omp parallel for schedule(static)
    for (int r = 0; r < m; ++r) {
      const float* xr = x + static_cast<size_t>(r) * ld_x;
      uint16_t* dr = dst + static_cast<size_t>(r) * k_;
      for (int c = 0; c < k_; ++c) dr[c] = F32ToBf16Bits(xr[c]);
    }
    src = dst;
    src_type = dt::bf16;
  } else if (ld_x != k_) {
    std::vector<float>& x_f32 = InputF32Scratch();
    if (x_f32.size() < static_cast<size_t>(m) * k_) x_f32.resize(static_cast<size_t>(m) * k_);
    float* dst = x_f32.data();
#pragma omp parallel for schedule(static) if (m > 64)
    for (int r = 0; r < m; ++r)
      std::memcpy(dst + static_cast<size_t>(r) * k_, x + static_cast<size_t>(r) * ld_x,
                  k_ * sizeof(float));
    src = dst;
  }
  if (impl_->bf16 && !amx_bf16) {
    ApplyWidenedBlocks(static_cast<const float*>(src), m, y, ld_y, accumulate);
    return;
  }
  dnnl::memory weights = impl_->weights;
  dnnl::memory::desc wdesc = impl_->weights_desc;
  if (amx_bf16) {
    // A dense bf16 W [n, k] (oneDNN's {k, n} in layout "ba"), cheap next to a many-row GEMM.
    const size_t count = static_cast<size_t>(n_) * k_;
    std::vector<uint16_t>& dense = DenseBf16Scratch();
    if (dense.size() < count) dense.resize(count);
    UnpackBf16Panels(*impl_->panels, dense.data());
    wdesc = dnnl::memory::desc({k_, n_}, dt::bf16, tag::ba);
    weights = dnnl::memory(wdesc, CpuEngine(), dense.data());
  }
  const Impl::Matmul& mm = impl_->Primitive(m, k_, n_, ld_y, src_type, accumulate, wdesc);
  dnnl::memory src_mem(dnnl::memory::desc({m, k_}, src_type, tag::ab), CpuEngine(),
                       const_cast<void*>(src));
  dnnl::memory dst_mem(dnnl::memory::desc({m, n_}, dt::f32, dnnl::memory::dims{ld_y, 1}),
                       CpuEngine(), y);
  mm.primitive.execute(CpuStream(), {{DNNL_ARG_SRC, src_mem},
                                     {DNNL_ARG_WEIGHTS, weights},
                                     {DNNL_ARG_DST, dst_mem},
                                     {DNNL_ARG_SCRATCHPAD, Scratchpad(mm.scratchpad)}});
  CpuStream().wait();
}

void CpuWeight::ApplyWidenedBlocks(const float* x, int m, float* y, int ld_y,
                                   bool accumulate) const {
  const Bf16Panels& panels = *impl_->panels;
  const int threads = omp_get_max_threads();
  // Blocks of about kWideBlockBytes in fp32, as many as a multiple of the thread count, of
  // equal panel counts but the last.
  const size_t panel_bytes = static_cast<size_t>(kPanelCols) * k_ * sizeof(float);
  const int total = panels.panels();
  int blocks = static_cast<int>((total * panel_bytes + kWideBlockBytes - 1) / kWideBlockBytes);
  blocks = std::min(total, (std::max(blocks, threads) + threads - 1) / threads * threads);
  const int block_panels = (total + blocks - 1) / blocks;
  blocks = (total + block_panels - 1) / block_panels;
  auto wdesc = [this](int cols) { return dnnl::memory::desc({k_, cols}, dt::f32, tag::ba); };
  const dnnl::memory::desc src_desc({m, k_}, dt::f32, tag::ab);
  auto run = [&](const Impl::Matmul& mm, int col, int cols, const float* wide) {
    dnnl::memory src_mem(src_desc, CpuEngine(), const_cast<float*>(x));
    dnnl::memory weights(wdesc(cols), CpuEngine(), const_cast<float*>(wide));
    dnnl::memory dst_mem(dnnl::memory::desc({m, cols}, dt::f32, dnnl::memory::dims{ld_y, 1}),
                         CpuEngine(), y + col);
    mm.primitive.execute(CpuStream(), {{DNNL_ARG_SRC, src_mem},
                                       {DNNL_ARG_WEIGHTS, weights},
                                       {DNNL_ARG_DST, dst_mem},
                                       {DNNL_ARG_SCRATCHPAD, Scratchpad(mm.scratchpad)}});
    CpuStream().wait();
  };
  if (blocks == 1 || threads == 1) {
    // Too small to split (or one thread): widen all of W, one matmul over the threads.
    std::vector<float>& wide = WideScratch();
    if (wide.size() < static_cast<size_t>(n_) * k_) wide.resize(static_cast<size_t>(n_) * k_);
    WidenBf16Panels(panels, wide.data());
    run(impl_->Primitive(m, k_, n_, ld_y, dt::f32, accumulate, wdesc(n_)), 0, n_, wide.data());
    return;
  }
  const int block_cols = block_panels * kPanelCols;
  const int tail_cols = n_ - (blocks - 1) * block_cols;
  // Each thread widens a block of W into its own scratch ({k, cols} in layout "ba") and runs a
  // single-threaded matmul on it. The primitives are made here, before the threads share them.
  impl_->MakeRoom(2);
  const Impl::Matmul& full =
      impl_->Primitive(m, k_, block_cols, ld_y, dt::f32, accumulate, wdesc(block_cols), true);
  const Impl::Matmul& tail =
      impl_->Primitive(m, k_, tail_cols, ld_y, dt::f32, accumulate, wdesc(tail_cols), true);
#pragma omp parallel for schedule(dynamic, 1)
  for (int b = 0; b < blocks; ++b) {
    const int cols = b + 1 < blocks ? block_cols : tail_cols;
    std::vector<float>& wide = WideScratch();
    const size_t count = static_cast<size_t>(cols) * k_;
    if (wide.size() < count) wide.resize(count);
    WidenBf16Panels(panels, b * block_panels, (cols + kPanelCols - 1) / kPanelCols, wide.data());
    run(b + 1 < blocks ? full : tail, b * block_cols, cols, wide.data());
  }
}

}  // namespace hymba::engine::cpu
