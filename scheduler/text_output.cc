#include "scheduler/text_output.h"

namespace hymba::scheduler {

TextOutput::TextOutput(const engine::TextCodec& codec, bool strip_leading_space,
                       std::vector<std::string> stop_strings)
    : codec_(codec),
      decoder_(codec.NewStreamDecoder(strip_leading_space)),
      matcher_(std::move(stop_strings)) {}

std::string TextOutput::Push(absl::Span<const int32_t> tokens) {
  std::string out;
  for (int32_t id : tokens) {
    if (stopped()) break;
    ++accepted_;
    if (codec_.IsSpecial(id)) continue;
    out += matcher_.Push(decoder_->Push(id));
  }
  return out;
}

std::string TextOutput::Finish() {
  if (stopped()) return "";
  std::string out = matcher_.Push(decoder_->Flush());
  return out + matcher_.Flush();
}

}  // namespace hymba::scheduler
