// StopStringMatcher: text-level stop sequences over a stream of text deltas. It never releases
// text that might still turn out to begin a stop string (hold-back), catches matches that span
// deltas (and so token boundaries), and never releases the stop string itself.
//
// Errors: Validate returns InvalidArgument naming "stop" for empty, too many or too long stop
// strings.
// Thread safety: not thread-safe; one per request.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace hymba::scheduler {

class StopStringMatcher {
 public:
  static constexpr int kMaxStopStrings = 16;
  static constexpr int kMaxStopLength = 256;  // bytes

  static absl::Status Validate(const std::vector<std::string>& stops);
  // REQUIRES: Validate(stops).ok().
  explicit StopStringMatcher(std::vector<std::string> stops);

  // Appends `delta`; returns the text now safe to emit. After a match it returns only the text
  // before the stop string, and every later call returns "".
  std::string Push(absl::string_view delta);
  // End of stream without a match: everything held back.
  std::string Flush();

  bool matched() const { return matched_ >= 0; }
  const std::string& matched_string() const;

 private:
  std::vector<std::string> stops_;
  std::string pending_;  // held back: a suffix that may begin a stop string
  int matched_ = -1;
};

}  // namespace hymba::scheduler
