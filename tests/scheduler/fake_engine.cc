#include "tests/scheduler/fake_engine.h"

#include "absl/strings/str_cat.h"

namespace hymba::testing {

FakeEngine::FakeEngine(int slots, int max_seq_len, int vocab, int eos) : history_(slots) {
  info_.max_slots = slots;
  info_.max_seq_len = max_seq_len;
  info_.vocab_size = vocab;
  info_.eos_token_id = eos;
}

void FakeEngine::Logits(const std::vector<int32_t>& history, int vocab, int eos, float* out) {
  uint64_t h = 1469598103934665603ull;
  for (int32_t t : history) h = (h ^ static_cast<uint64_t>(t)) * 1099511628211ull;
  for (int v = 0; v < vocab; ++v) {
    uint64_t x = (h ^ static_cast<uint64_t>(v) * 0x9E3779B97F4A7C15ull) * 0xBF58476D1CE4E5B9ull;
    out[v] = static_cast<float>((x >> 40) % 1000) / 100.0f;
  }
  // EOS wins now and then, so some requests end early.
  if (h % 13 == 0) out[eos] = 100.0f;
}

absl::StatusOr<engine::StepResult> FakeEngine::Step(const engine::BatchPlan& plan) {
  ++steps_;
  if (fail_next_) {
    fail_next_ = false;
    return absl::InternalError("injected device failure");
  }
  std::vector<bool> seen(history_.size(), false);
  for (const auto& e : plan.entries) {
    if (e.slot < 0 || e.slot >= static_cast<int>(history_.size()) || seen[e.slot])
      return absl::InvalidArgumentError(absl::StrCat("bad slot ", e.slot));
    seen[e.slot] = true;
    const int length = e.reset_slot ? 0 : SlotLength(e.slot);
    if (e.start_pos != length || e.tokens.empty() ||
        length + static_cast<int>(e.tokens.size()) > info_.max_seq_len)
      return absl::InvalidArgumentError(absl::StrCat("bad entry for slot ", e.slot));
    for (int32_t t : e.tokens)
      if (t < 0 || t >= info_.vocab_size) return absl::InvalidArgumentError("bad token");
  }
  engine::StepResult r;
  r.vocab_size = info_.vocab_size;
  for (const auto& e : plan.entries) {
    auto& h = history_[e.slot];
    if (e.reset_slot) h.clear();
    r.row_begin.push_back(static_cast<int>(r.logits.size() / info_.vocab_size));
    for (size_t i = 0; i < e.tokens.size(); ++i) {
      h.push_back(e.tokens[i]);
      const bool want = e.logits == engine::LogitsMode::kAll ||
                        (e.logits == engine::LogitsMode::kLast && i + 1 == e.tokens.size());
      if (!want) continue;
      r.logits.resize(r.logits.size() + info_.vocab_size);
      Logits(h, info_.vocab_size, info_.eos_token_id,
             r.logits.data() + r.logits.size() - info_.vocab_size);
    }
    r.row_count.push_back(static_cast<int>(r.logits.size() / info_.vocab_size) -
                          r.row_begin.back());
  }
  return r;
}

}  // namespace hymba::testing
