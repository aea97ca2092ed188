// The CPU backend's kernels, one op per .cc file in this folder. Each runs multi-threaded with
// OpenMP (the thread count set on the backend) and accumulates in fp32. Shapes and semantics are
// those of the Backend method of the same name (engine/api/backend.h, backend_ops.h).
//
// Thread safety: each call is independent; callers serialize calls on one backend.
#pragma once

#include <cstdint>

#include "engine/api/backend_ops.h"

namespace hymba::engine::cpu {

void Embed(const int32_t* ids, int count, const void* table, bool table_bf16, int cols, float* out,
           int ld_out);
void RmsNorm(const float* x, int ld_x, int rows, int cols, const float* w, float eps, float* y,
             int ld_y);
void Rope(float* x, int ld_x, int rows, int heads, int head_dim, const int32_t* positions,
          double base);
void Attention(const AttentionArgs& args);
void KvWrite(const KvWriteArgs& args);
void CausalConv(const CausalConvArgs& args);
void SelectiveScan(const SelectiveScanArgs& args);
void BiasSoftplus(float* dt, int ld, int rows, int cols, const float* bias);
void GatedActivation(float* a, int ld_a, const float* b, int ld_b, int rows, int cols, bool relu2);
void FuseNorms(const float* a, int ld_a, const float* wa, const float* y, int ld_y, const float* wy,
               int rows, int cols, float eps, float* out, int ld_out);
void AddBias(float* x, int ld, int rows, int cols, const float* bias);
void CopyMatrix(const float* src, int ld_src, int rows, int cols, float* dst, int ld_dst);
void GatherRows(const float* src, int ld_src, const int32_t* rows, int count, int cols, float* dst,
                int ld_dst);

}  // namespace hymba::engine::cpu
