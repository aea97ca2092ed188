#include "engine/api/ring_index.h"

#include <gtest/gtest.h>

namespace hymba::engine {
namespace {

TEST(RingIndexTest, PositionsAfterTheMetaTokensWrap) {
  const RingIndex ring{4, 3};  // W = 4, M = 3
  EXPECT_EQ(ring.Row(3), 0);
  EXPECT_EQ(ring.Row(6), 3);
  EXPECT_EQ(ring.Row(7), 0);
  EXPECT_EQ(ring.Row(12), 1);
  EXPECT_EQ(ring.OldestHeld(3), 3);
  EXPECT_EQ(ring.OldestHeld(7), 3);
  EXPECT_EQ(ring.OldestHeld(8), 4);
}

TEST(RingIndexTest, LastCapacityPositionsOccupyDistinctRows) {
  for (int cap : {1, 5, 16})
    for (int base : {0, 7})
      for (int end = base + 1; end < base + 40; ++end) {
        const RingIndex ring{cap, base};
        std::vector<bool> used(cap, false);
        for (int p = ring.OldestHeld(end); p < end; ++p) {
          EXPECT_FALSE(used[ring.Row(p)]);
          used[ring.Row(p)] = true;
        }
      }
}

}  // namespace
}  // namespace hymba::engine
