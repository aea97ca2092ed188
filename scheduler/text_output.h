// TextOutput: one request's generated tokens turned into the text deltas a client receives:
// incremental detokenization (whole UTF-8 characters, the leading-space rule), special tokens
// skipped, and stop strings held back and cut (the stop string itself is never emitted). It runs
// on the consumer's thread, which cancels the request once stopped() turns true.
//
// Ownership: borrows the codec, which must outlive it.
// Thread safety: not thread-safe; one per request.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "engine/api/text_codec.h"
#include "scheduler/stop_string_matcher.h"

namespace hymba::scheduler {

class TextOutput {
 public:
  // REQUIRES: StopStringMatcher::Validate(stop_strings).ok().
  TextOutput(const engine::TextCodec& codec, bool strip_leading_space,
             std::vector<std::string> stop_strings);

  // The text these tokens complete; "" once a stop string matched.
  std::string Push(absl::Span<const int32_t> tokens);
  // End of the stream (no stop string matched): what was held back.
  std::string Finish();

  bool stopped() const { return matcher_.matched(); }
  const std::string& stop_string() const { return matcher_.matched_string(); }
  // Tokens consumed up to and including the one that completed the stop string.
  int accepted_tokens() const { return accepted_; }

 private:
  const engine::TextCodec& codec_;
  std::unique_ptr<engine::TextStreamDecoder> decoder_;
  StopStringMatcher matcher_;
  int accepted_ = 0;
};

}  // namespace hymba::scheduler
