// Kernel launches of the CUDA stand-in: translate_cu.py rewrites `K<<<grid, block, smem,
// stream>>>(args)` into `::hymba_emu::Launcher(grid, block, smem, stream).Run(K, args)` and
// `extern __shared__ T name[];` into a pointer to the block's dynamic shared memory.
#pragma once

#include <cstddef>
#include <functional>

namespace hymba_emu {

// Runs `body` once per thread of every block of `grid` (1-D blocks), blocks one after another.
void RunGrid(dim3 grid, dim3 block, size_t shared_bytes, const std::function<void()>& body);
// The current block's dynamic shared memory (filled with 0xff bytes, NaN as floats, at launch).
unsigned char* DynamicShared();

class Launcher {
 public:
  Launcher(dim3 grid, dim3 block, size_t shared_bytes = 0, cudaStream_t = nullptr)
      : grid_(grid), block_(block), shared_(shared_bytes) {}
  template <typename Kernel, typename... Args>
  void Run(Kernel kernel, Args... args) {
    RunGrid(grid_, block_, shared_, [&] { kernel(args...); });
  }

 private:
  dim3 grid_, block_;
  size_t shared_;
};

}  // namespace hymba_emu
