// The CUDA attention launch plan (host-side): tiles cover every query row once, decode batches
// use one-row tiles and split their keys only while blocks are scarce, and blocks fit in shared
// memory.
#include "engine/cuda/attention_plan.h"

#include <gtest/gtest.h>

#include <vector>

namespace hymba::engine::cuda {
namespace {

AttentionPlanInput Input(std::vector<AttentionEntry> entries, int multiprocessors = 132) {
  AttentionPlanInput in;
  in.entries = std::move(entries);
  in.nh = 25;
  in.kvh = 5;
  in.dq = 64;
  in.dv = 128;
  in.window = 1024;
  in.prefix_len = 128;
  in.multiprocessors = multiprocessors;
  in.shared_limit = 227 * 1024;
  return in;
}

TEST(AttentionPlanTest, TilesCoverEveryRowOnce) {
  const AttentionPlanInput in = Input({{1, 4000}, {700, 128}, {13, 900}});
  const AttentionPlan plan = PlanAttention(in);
  ASSERT_TRUE(plan.ok);
  EXPECT_EQ(plan.heads_per_block, 5);
  EXPECT_EQ(plan.rows_per_tile, kMaxQueryVectors / 5);
  std::vector<std::vector<int>> seen(in.entries.size());
  for (size_t e = 0; e < in.entries.size(); ++e) seen[e].assign(in.entries[e].len, 0);
  for (const auto& t : plan.tiles) {
    ASSERT_GE(t.rows, 1);
    ASSERT_LE(t.rows, plan.rows_per_tile);
    for (int r = 0; r < t.rows; ++r) ++seen[t.entry][t.i0 + r];
  }
  for (const auto& rows : seen)
    for (int count : rows) EXPECT_EQ(count, 1);
  EXPECT_LE(plan.shared_bytes, in.shared_limit);
  EXPECT_EQ(plan.shared_bytes, AttentionSharedBytes(plan.rows_per_tile, 5, 64, 128));
}

TEST(AttentionPlanTest, DecodeSplitsKeysOnlyWhenBlocksAreScarce) {
  // One sequence at 8K context: 5 blocks for 132 multiprocessors; split, >= 128 keys each.
  AttentionPlan one = PlanAttention(Input({{1, 128 + 8192}}));
  ASSERT_TRUE(one.ok);
  EXPECT_EQ(one.rows_per_tile, 1);
  EXPECT_GT(one.splits, 1);
  EXPECT_LE(one.splits, kMaxSplits);
  // Short contexts do not split below kMinKeysPerSplit keys.
  EXPECT_EQ(PlanAttention(Input({{1, 128 + 10}})).splits, 1);
  // 128 sequences: 640 blocks already fill the GPU.
  std::vector<AttentionEntry> batch(128, AttentionEntry{1, 128 + 8192});
  EXPECT_EQ(PlanAttention(Input(batch)).splits, 1);
}

TEST(AttentionPlanTest, LargeGroupsAndHeadsFitSharedMemory) {
  AttentionPlanInput in = Input({{50, 0}});
  in.nh = 96;
  in.kvh = 1;  // a group of 96 query heads
  in.dq = 256;
  in.dv = 512;
  in.shared_limit = 227 * 1024;
  const AttentionPlan plan = PlanAttention(in);
  ASSERT_TRUE(plan.ok);
  EXPECT_LE(plan.shared_bytes, in.shared_limit);
  EXPECT_LT(plan.heads_per_block, 96);
  in.dv = 1 << 16;  // cannot fit even one head of one row
  EXPECT_FALSE(PlanAttention(in).ok);
}

}  // namespace
}  // namespace hymba::engine::cuda
