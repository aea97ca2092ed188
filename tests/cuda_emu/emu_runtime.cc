// The CUDA stand-in's runtime (see include/cuda_runtime.h): device memory is host memory, every
// call completes before it returns, and kernels run block by block with one fiber per thread.
#include <setjmp.h>
#include <ucontext.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include "cublas_v2.h"
#include "cuda_runtime.h"

dim3 threadIdx, blockIdx, blockDim, gridDim;

namespace hymba_emu {
namespace {

constexpr size_t kStackBytes = 256 * 1024;
constexpr int kWarpSize = 32;

enum class State { kRunnable, kAtWarpBarrier, kAtBlockBarrier, kDone };

// Fiber t runs thread t of every block. It is entered once through its ucontext, then parks at
// `idle` between threads; switches are _setjmp/_longjmp (no system calls).
struct Fiber {
  ucontext_t context;
  jmp_buf idle;    // where the fiber starts its next thread
  jmp_buf resume;  // where a thread suspended at a barrier continues
  bool created = false, started = false;
  State state = State::kRunnable;
};

// The block being run: its fibers, shared-memory buffer and warp exchange slots.
struct Block {
  std::vector<Fiber> fibers;
  std::vector<std::vector<char>> stacks;
  // [2][threads] values of warp shuffles, alternating between two buffers so that one barrier
  // per shuffle suffices: a lane cannot write a buffer again before every lane of its warp has
  // passed the next shuffle's barrier, i.e. has read this one.
  std::vector<float> exchange;
  std::vector<unsigned char> parity;  // [threads] buffer of each lane's next shuffle
  std::vector<unsigned char> shared;
  const std::function<void()>* body = nullptr;
  ucontext_t scheduler_context;
  jmp_buf scheduler;
  int current = 0;
  bool in_fiber = false;  // false while threads run as plain calls (no barrier possible)
  bool yielded = false;   // some thread of this launch reached a barrier
  int active = 0;         // threads per block of the current launch (fibers [0, active))
};

Block& TheBlock() {
  static Block block;
  return block;
}

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "cuda emulator: %s (block %u, thread %u)\n", what, blockIdx.x, threadIdx.x);
  std::abort();
}

void FiberMain() {
  Block& b = TheBlock();
  const int t = b.current;
  for (;;) {
    if (_setjmp(b.fibers[t].idle) == 0) _longjmp(b.scheduler, 1);
    (*b.body)();
    b.fibers[t].state = State::kDone;
  }
}

void CreateFiber(Block& b, int t) {
  Fiber& f = b.fibers[t];
  getcontext(&f.context);
  f.context.uc_stack.ss_sp = b.stacks[t].data();
  f.context.uc_stack.ss_size = b.stacks[t].size();
  f.context.uc_link = nullptr;
  makecontext(&f.context, FiberMain, 0);
  b.current = t;
  if (_setjmp(b.scheduler) == 0) swapcontext(&b.scheduler_context, &f.context);
  f.created = true;
}

void Yield(State state) {
  Block& b = TheBlock();
  if (!b.in_fiber) Fail("a barrier in a block whose thread 0 passed none (divergent barrier)");
  b.yielded = true;
  Fiber& f = b.fibers[b.current];
  f.state = state;
  if (_setjmp(f.resume) == 0) _longjmp(b.scheduler, 1);
}

// Releases the barriers that every live thread concerned has reached; false when nothing can run.
bool ReleaseBarriers(Block& b) {
  const int n = b.active;
  bool released = false;
  for (int w = 0; w * kWarpSize < n; ++w) {
    int waiting = 0, other = 0;
    for (int t = w * kWarpSize; t < std::min(n, (w + 1) * kWarpSize); ++t) {
      if (b.fibers[t].state == State::kAtWarpBarrier) {
        ++waiting;
      } else if (b.fibers[t].state != State::kDone) {
        ++other;
      }
    }
    if (waiting > 0 && other == 0) {
      for (int t = w * kWarpSize; t < std::min(n, (w + 1) * kWarpSize); ++t) {
        if (b.fibers[t].state == State::kDone) Fail("warp-level sync with exited lanes");
        b.fibers[t].state = State::kRunnable;
      }
      released = true;
    }
  }
  if (released) return true;
  int live = 0, at_block = 0;
  for (int t = 0; t < n; ++t) {
    if (b.fibers[t].state != State::kDone) ++live;
    if (b.fibers[t].state == State::kAtBlockBarrier) ++at_block;
  }
  if (live == 0) return false;
  if (at_block != live) Fail("deadlock: threads wait at different barriers");
  for (int t = 0; t < n; ++t)
    if (b.fibers[t].state == State::kAtBlockBarrier) b.fibers[t].state = State::kRunnable;
  return true;
}

// Runs fiber t until it finishes or reaches a barrier.
void Resume(Block& b, int t) {
  Fiber& f = b.fibers[t];
  b.current = t;
  threadIdx = dim3(t);
  if (_setjmp(b.scheduler) != 0) return;  // the fiber yielded or finished
  if (f.started) _longjmp(f.resume, 1);
  f.started = true;
  _longjmp(f.idle, 1);
}

void RunBlock(Block& b) {
  const int n = b.active;
  for (int t = 0; t < n; ++t) {
    b.fibers[t].started = false;
    b.fibers[t].state = State::kRunnable;
  }
  // Thread 0 first: if it finishes without a barrier, so do the others (a barrier must be
  // reached by all threads of a block, or of a warp), and they run as plain calls.
  b.in_fiber = true;
  Resume(b, 0);
  if (b.fibers[0].state == State::kDone && !b.yielded) {
    b.in_fiber = false;
    for (int t = 1; t < n; ++t) {
      b.current = t;
      threadIdx = dim3(t);
      (*b.body)();
    }
    return;
  }
  do {
    for (int t = 0; t < n; ++t)
      if (b.fibers[t].state == State::kRunnable) Resume(b, t);
  } while (ReleaseBarriers(b));
}

}  // namespace

void RunGrid(dim3 grid, dim3 block, size_t shared_bytes, const std::function<void()>& body) {
  if (block.y != 1 || block.z != 1) Fail("only 1-D blocks are emulated");
  if (block.x == 0 || block.x > 1024 || block.x % kWarpSize != 0)
    Fail("block size must be a multiple of 32 up to 1024");
  CheckSharedBytes(shared_bytes);
  Block& b = TheBlock();
  const int n = static_cast<int>(block.x);
  if (static_cast<int>(b.fibers.size()) < n) {
    const int old = static_cast<int>(b.fibers.size());
    b.fibers.resize(n);
    b.stacks.resize(n, std::vector<char>(kStackBytes));
    for (int t = old; t < n; ++t) CreateFiber(b, t);
  }
  b.active = n;
  b.exchange.assign(2 * n, 0.0f);
  b.parity.assign(n, 0);
  b.body = &body;
  gridDim = grid;
  blockDim = block;
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) {
        blockIdx = dim3(x, y, z);
        b.shared.assign(shared_bytes + 16, 0xff);
        b.yielded = false;
        RunBlock(b);
      }
  b.body = nullptr;
}

unsigned char* DynamicShared() { return TheBlock().shared.data(); }

void CheckSharedBytes(size_t bytes) {
  if (bytes > kSharedOptin) Fail("dynamic shared memory above the device limit");
}

}  // namespace hymba_emu

void __syncthreads() { hymba_emu::Yield(hymba_emu::State::kAtBlockBarrier); }
void __syncwarp(unsigned) { hymba_emu::Yield(hymba_emu::State::kAtWarpBarrier); }

float __shfl_xor_sync(unsigned, float value, int lane_mask) {
  hymba_emu::Block& b = hymba_emu::TheBlock();
  const int t = b.current, lane = t % hymba_emu::kWarpSize;
  float* slots = b.exchange.data() + b.parity[t] * b.active;
  b.parity[t] ^= 1;
  slots[t] = value;
  __syncwarp();
  return slots[t - lane + (lane ^ lane_mask)];
}

// Runtime API.
namespace {
cudaError_t g_last_error = cudaSuccess;
cudaError_t Fail(cudaError_t e) {
  g_last_error = e;
  return e;
}
}  // namespace

cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (device != 0) return Fail(cudaErrorInvalidValue);
  std::memset(prop, 0, sizeof(*prop));
  std::snprintf(prop->name, sizeof(prop->name), "CUDA emulator on the CPU");
  prop->major = 9;
  prop->minor = 0;
  prop->totalGlobalMem = size_t{1} << 30;
  prop->multiProcessorCount = hymba_emu::kMultiprocessors;
  prop->sharedMemPerBlockOptin = hymba_emu::kSharedOptin;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) {
  return device == 0 ? cudaSuccess : Fail(cudaErrorInvalidValue);
}
const char* cudaGetErrorName(cudaError_t e) {
  return e == cudaSuccess ? "cudaSuccess" : "cudaError";
}
const char* cudaGetErrorString(cudaError_t e) {
  return e == cudaSuccess ? "no error" : "emulated error";
}
cudaError_t cudaGetLastError() {
  const cudaError_t e = g_last_error;
  g_last_error = cudaSuccess;
  return e;
}
cudaError_t cudaMalloc(void** ptr, size_t bytes) {
  *ptr = std::malloc(bytes);
  if (*ptr == nullptr) return Fail(cudaErrorMemoryAllocation);
  std::memset(*ptr, 0xff, bytes);  // like device memory, not zeroed
  return cudaSuccess;
}
cudaError_t cudaFree(void* ptr) {
  std::free(ptr);
  return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  *free_bytes = *total_bytes = size_t{1} << 30;
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t) {
  std::memset(dst, value, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind,
                            cudaStream_t) {
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned) {
  *stream = reinterpret_cast<cudaStream_t>(new char);
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  delete reinterpret_cast<char*>(stream);
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaStreamQuery(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }

// cuBLAS.
cublasStatus_t cublasCreate(cublasHandle_t* handle) {
  *handle = reinterpret_cast<cublasHandle_t>(new char);
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy(cublasHandle_t handle) {
  delete reinterpret_cast<char*>(handle);
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream(cublasHandle_t, cudaStream_t) { return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetMathMode(cublasHandle_t, cublasMath_t) { return CUBLAS_STATUS_SUCCESS; }

namespace {
double Element(const void* base, cudaDataType_t type, size_t i) {
  if (type == CUDA_R_32F) return static_cast<const float*>(base)[i];
  const uint32_t bits = static_cast<uint32_t>(static_cast<const uint16_t*>(base)[i]) << 16;
  return __uint_as_float(bits);
}
}  // namespace

// Column-major C[m, n] = alpha·op(A)·op(B) + beta·C.
cublasStatus_t cublasGemmEx(cublasHandle_t, cublasOperation_t transa, cublasOperation_t transb,
                            int m, int n, int k, const void* alpha, const void* A,
                            cudaDataType_t a_type, int lda, const void* B, cudaDataType_t b_type,
                            int ldb, const void* beta, void* C, cudaDataType_t c_type, int ldc,
                            cublasComputeType_t, cublasGemmAlgo_t) {
  if (c_type != CUDA_R_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
  const float al = *static_cast<const float*>(alpha), be = *static_cast<const float*>(beta);
  float* c = static_cast<float*>(C);
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      double acc = 0;
      for (int l = 0; l < k; ++l) {
        const size_t ai = transa == CUBLAS_OP_N ? static_cast<size_t>(l) * lda + i
                                                : static_cast<size_t>(i) * lda + l;
        const size_t bi = transb == CUBLAS_OP_N ? static_cast<size_t>(j) * ldb + l
                                                : static_cast<size_t>(l) * ldb + j;
        acc += Element(A, a_type, ai) * Element(B, b_type, bi);
      }
      float& out = c[static_cast<size_t>(j) * ldc + i];
      out = static_cast<float>(al * acc + (be == 0.0f ? 0.0 : be * out));
    }
  return CUBLAS_STATUS_SUCCESS;
}
