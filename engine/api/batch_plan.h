// BatchPlan: the work of one engine step, as the scheduler hands it to Engine::Step.
//
// Prefill, chunked prefill and decode are one thing here: an entry feeds N >= 1 tokens of one
// sequence, starting at `start_pos`, into that sequence's slot. All entries' tokens are packed
// into one [T, hidden] activation matrix inside the engine.
//
// Positions are counted in prompt tokens: 0 is the first token after the model's meta tokens.
// Ownership: `tokens` borrows; the caller keeps the ids alive until Step returns.
// Thread safety: plain data.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/types/span.h"

namespace hymba::engine {

// Which logits an entry wants back.
enum class LogitsMode {
  kNone,  // a prefill chunk that is not the last one
  kLast,  // the last fed token's logits (to sample the next token)
  kAll,   // every fed token's logits (scoring, tests)
};

struct BatchEntry {
  int slot = 0;             // state slot in [0, max_slots)
  bool reset_slot = false;  // start a new sequence: the slot is reset to the meta-token state
  int start_pos = 0;        // position of tokens[0]; must equal the slot's current length
  absl::Span<const int32_t> tokens;  // [N], N >= 1, ids in [0, vocab)
  LogitsMode logits = LogitsMode::kLast;
};

struct BatchPlan {
  std::vector<BatchEntry> entries;  // each slot at most once

  int total_tokens() const {
    int n = 0;
    for (const auto& e : entries) n += static_cast<int>(e.tokens.size());
    return n;
  }
};

}  // namespace hymba::engine
