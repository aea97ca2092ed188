// AttentionPlan: how the CUDA attention kernel covers a batch (host-side, no CUDA): the tiles of
// query rows, the query heads per block, and the number of key splits.
//
// Each block handles `rows_per_tile` query rows of one entry for `heads_per_block` query heads of
// one KV head (at most kMaxQueryVectors query vectors), over one of `splits` ranges of the tile's
// keys. Decode-only batches use one-row tiles; when a batch gives too few blocks to fill the GPU
// (few sequences, or one short chunk), keys are split so every multiprocessor gets work, keeping
// at least kMinKeysPerSplit keys per split.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <vector>

namespace hymba::engine::cuda {

constexpr int kAttentionKeyTile = 32;  // keys per shared-memory tile (one per lane)
constexpr int kMaxQueryVectors = 64;
constexpr int kMinKeysPerSplit = 128;
constexpr int kMaxSplits = 64;

struct AttentionEntry {
  int len = 0, start_pos = 0;
};

struct AttentionPlanInput {
  std::vector<AttentionEntry> entries;
  int nh = 0, kvh = 0, dq = 0, dv = 0;
  int window = 0, prefix_len = 0;
  int multiprocessors = 1;
  size_t shared_limit = 48 * 1024;  // dynamic shared memory one block may use
};

struct AttentionPlan {
  struct Tile {
    int entry, i0, rows;
  };
  std::vector<Tile> tiles;
  int rows_per_tile = 1, heads_per_block = 1, splits = 1;
  size_t shared_bytes = 0;
  bool ok = false;  // false when even one row and one head exceed shared_limit
};

// Dynamic shared memory of one block (the kernel's layout in kernels/attention.cu): per key of a
// 32-key tile two 8-byte offsets and two ints; a raw K/V staging tile [32, dq + dv] of 4-byte
// words; fp32 Q [nq, dq], K tile [32, dq + 1], V tile [32, dv], probabilities [nq, 32], output
// [nq, dv], running max and sum [nq]; four ints per row.
size_t AttentionSharedBytes(int rows_per_tile, int heads_per_block, int dq, int dv);

AttentionPlan PlanAttention(const AttentionPlanInput& in);

}  // namespace hymba::engine::cuda
