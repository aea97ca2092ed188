// Launchers of the CUDA backend's kernels, one op per .cu file in this folder. Shapes and
// semantics are those of the Backend method of the same name (engine/api/backend.h,
// backend_ops.h); the CPU kernels (engine/cpu/kernels/) are the behavioural reference. Every
// pointer is a device pointer. Each launcher enqueues its work on `stream` and returns the launch
// status (errors inside a kernel surface at the next synchronisation).
//
// This header is internal to engine/cuda: it includes the CUDA runtime and must not reach
// public headers.
// Thread safety: launchers are thread-safe; the caller orders work through its stream.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace hymba::engine::cuda {

// SeqSpan (backend_ops.h) as kernels see it.
struct SeqDesc {
  int slot, row, len, start_pos;
};

// Largest mamba_d_conv the conv kernels support (the kernel history is kept in registers).
constexpr int kMaxConvKernel = 16;
// Largest mamba_d_state the scan supports (equals kMaxSsmState of backend_ops.h).
constexpr int kMaxScanState = 256;

// out[r, :cols] = bf16(x[r, :cols]) (round to nearest even), dense (ld = cols).
cudaError_t LaunchToBf16(const float* x, int ld_x, int rows, int cols, uint16_t* out,
                         cudaStream_t stream);
cudaError_t LaunchEmbed(const int32_t* ids, int count, const void* table, bool table_bf16, int cols,
                        float* out, int ld_out, cudaStream_t stream);
cudaError_t LaunchRmsNorm(const float* x, int ld_x, int rows, int cols, const float* w, float eps,
                          float* y, int ld_y, cudaStream_t stream);
cudaError_t LaunchFuseNorms(const float* a, int ld_a, const float* wa, const float* y, int ld_y,
                            const float* wy, int rows, int cols, float eps, float* out, int ld_out,
                            cudaStream_t stream);
cudaError_t LaunchRope(float* x, int ld_x, int rows, int heads, int head_dim,
                       const int32_t* positions, double base, cudaStream_t stream);
cudaError_t LaunchBiasSoftplus(float* dt, int ld, int rows, int cols, const float* bias,
                               cudaStream_t stream);
cudaError_t LaunchGatedActivation(float* a, int ld_a, const float* b, int ld_b, int rows, int cols,
                                  bool relu2, cudaStream_t stream);
cudaError_t LaunchAddBias(float* x, int ld, int rows, int cols, const float* bias,
                          cudaStream_t stream);
cudaError_t LaunchCopyMatrix(const float* src, int ld_src, int rows, int cols, float* dst,
                             int ld_dst, cudaStream_t stream);
cudaError_t LaunchGatherRows(const float* src, int ld_src, const int32_t* rows, int count, int cols,
                             float* dst, int ld_dst, cudaStream_t stream);

// K/V ring writes: row pairs[i] = {packed source row, destination row in [slots·capacity]}.
struct KvWriteParams {
  const int2* pairs = nullptr;
  int count = 0;
  const float* k = nullptr;
  int ld_k = 0;
  const float* v = nullptr;
  int ld_v = 0;
  bool cache_bf16 = false;
  void* ring_k = nullptr;
  void* ring_v = nullptr;
  int k_width = 0, v_width = 0;
};
cudaError_t LaunchKvWrite(const KvWriteParams& p, cudaStream_t stream);

struct CausalConvParams {
  const SeqDesc* seqs = nullptr;
  int num_seqs = 0;
  const int32_t* row_seq = nullptr;  // [rows] index into seqs of every packed row, or -1
  int rows = 0;
  const float* x = nullptr;
  int ld_x = 0;
  float* out = nullptr;
  int ld_out = 0;
  const float* weight = nullptr;  // [Kc, I]
  const float* bias = nullptr;    // [I] or nullptr
  float* state = nullptr;         // [slots, Kc-1, I]
  int channels = 0, kernel = 0;
};
// REQUIRES: kernel <= kMaxConvKernel.
cudaError_t LaunchCausalConv(const CausalConvParams& p, cudaStream_t stream);

struct SelectiveScanParams {
  const SeqDesc* seqs = nullptr;
  int num_seqs = 0;
  const float* xc = nullptr;
  int ld_xc = 0;
  const float* dt = nullptr;
  int ld_dt = 0;
  const float* b = nullptr;
  int ld_b = 0;
  const float* c = nullptr;
  int ld_c = 0;
  const float* z = nullptr;
  int ld_z = 0;
  float* y = nullptr;
  int ld_y = 0;
  const float* a = nullptr;  // [I, N]
  const float* d = nullptr;  // [I]
  float* state = nullptr;    // [slots, I, N]
  int channels = 0, d_state = 0;
};
// REQUIRES: d_state <= kMaxScanState.
cudaError_t LaunchSelectiveScan(const SelectiveScanParams& p, cudaStream_t stream);

// Attention work unit: `rows` consecutive query rows of one entry, starting at row i0 of it.
struct AttentionTile {
  int seq, i0, rows;
};

struct AttentionParams {
  const SeqDesc* seqs = nullptr;
  const AttentionTile* tiles = nullptr;
  int num_tiles = 0;
  int total_rows = 0;  // packed rows T
  const float* q = nullptr;
  int ld_q = 0;
  const float* k = nullptr;
  int ld_k = 0;
  const float* v = nullptr;
  int ld_v = 0;
  float* out = nullptr;
  int ld_out = 0;
  bool cache_bf16 = false;
  const void* prefix_k = nullptr;
  const void* prefix_v = nullptr;
  int prefix_len = 0;
  const void* ring_k = nullptr;
  const void* ring_v = nullptr;
  int capacity = 0, window = 0, num_meta = 0;
  int nh = 0, kvh = 0, dq = 0, dv = 0;
  float scale = 1.0f;
  // Launch shape (attention_plan.h chooses it within the device's shared-memory limit).
  int rows_per_tile = 1;     // largest tile
  int heads_per_block = 1;   // query heads of one KV group handled by one block
  int splits = 1;            // key ranges per tile reduced by a second kernel when > 1
  bool async_loads = false;  // K/V rows in whole 4-byte words (fp32, or bf16 with even dq, dv)
  float* partial = nullptr;  // [T, nh, splits, dv + 2] (o, max, sum) when splits > 1
};
cudaError_t LaunchAttention(const AttentionParams& p, cudaStream_t stream);

}  // namespace hymba::engine::cuda
