// StepResult: what Engine::Step returns for a BatchPlan.
//
// Thread safety: plain data.
#pragma once

#include <vector>

namespace hymba::engine {

struct StepResult {
  int vocab_size = 0;
  // Logits of every requested row, entry by entry in plan order: [num_rows, vocab_size].
  std::vector<float> logits;
  // For entry i of the plan, its rows are [row_begin[i], row_begin[i] + row_count[i]).
  std::vector<int> row_begin;
  std::vector<int> row_count;

  const float* row(int r) const { return logits.data() + static_cast<size_t>(r) * vocab_size; }
  // The last logits row of plan entry `entry` (REQUIRES: row_count[entry] > 0).
  const float* last_row(int entry) const { return row(row_begin[entry] + row_count[entry] - 1); }
};

}  // namespace hymba::engine
