#include "engine/cuda/attention_plan.h"

#include <algorithm>

namespace hymba::engine::cuda {
namespace {

constexpr int kKeyTile = kAttentionKeyTile;

// Keys the last row of an entry can see (an upper bound for each of its tiles).
int MaxKeys(const AttentionPlanInput& in, const AttentionEntry& e) {
  const int end = e.start_pos + e.len;
  const int prefix = std::min(in.prefix_len, end);
  const int rest = end - prefix;
  return prefix + (in.window > 0 ? std::min(rest, in.window + 1) : rest);
}

}  // namespace

size_t AttentionSharedBytes(int rows_per_tile, int heads_per_block, int dq, int dv) {
  const size_t nq = static_cast<size_t>(rows_per_tile) * heads_per_block;
  const size_t stage_words = static_cast<size_t>(kKeyTile) * (dq + dv);
  const size_t floats = stage_words + nq * dq + static_cast<size_t>(kKeyTile) * (dq + 1) +
                        static_cast<size_t>(kKeyTile) * dv + nq * kKeyTile + nq * dv + 2 * nq;
  const size_t ints = static_cast<size_t>(rows_per_tile) * 4 + 2 * kKeyTile;
  return 2 * kKeyTile * sizeof(size_t) + floats * sizeof(float) + ints * sizeof(int);
}

AttentionPlan PlanAttention(const AttentionPlanInput& in) {
  AttentionPlan plan;
  const int group = std::max(1, in.nh / std::max(1, in.kvh));
  int heads = std::min(group, kMaxQueryVectors);
  while (heads > 1 && AttentionSharedBytes(1, heads, in.dq, in.dv) > in.shared_limit) --heads;
  if (AttentionSharedBytes(1, heads, in.dq, in.dv) > in.shared_limit) return plan;
  bool decode_only = true;
  for (const AttentionEntry& e : in.entries) decode_only = decode_only && e.len <= 1;
  int rows = decode_only ? 1 : std::max(1, kMaxQueryVectors / heads);
  while (rows > 1 && AttentionSharedBytes(rows, heads, in.dq, in.dv) > in.shared_limit) --rows;
  plan.rows_per_tile = rows;
  plan.heads_per_block = heads;
  plan.shared_bytes = AttentionSharedBytes(rows, heads, in.dq, in.dv);
  int max_keys = 1;
  for (int e = 0; e < static_cast<int>(in.entries.size()); ++e) {
    const AttentionEntry& entry = in.entries[e];
    for (int i0 = 0; i0 < entry.len; i0 += rows)
      plan.tiles.push_back({e, i0, std::min(rows, entry.len - i0)});
    max_keys = std::max(max_keys, MaxKeys(in, entry));
  }
  // Two blocks per multiprocessor at least, where the keys allow it.
  const long blocks = static_cast<long>(plan.tiles.size()) * in.kvh * ((group + heads - 1) / heads);
  const long wanted = 2L * in.multiprocessors;
  if (blocks > 0 && blocks < wanted) {
    const int by_blocks = static_cast<int>((wanted + blocks - 1) / blocks);
    const int by_keys = std::max(1, max_keys / kMinKeysPerSplit);
    plan.splits = std::max(1, std::min({by_blocks, by_keys, kMaxSplits}));
  }
  plan.ok = true;
  return plan;
}

}  // namespace hymba::engine::cuda
