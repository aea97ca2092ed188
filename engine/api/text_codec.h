// TextCodec: the tokenizer as the layers above the engine see it (the server tokenizes and
// detokenizes on its own threads without knowing SentencePiece). engine/model's Tokenizer
// implements it.
//
// Ownership: a TextStreamDecoder borrows its codec, which must outlive it.
// Errors: Encode returns InvalidArgument for text the tokenizer rejects.
// Thread safety: TextCodec is immutable and thread-safe; a TextStreamDecoder is used by one
// thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace hymba::engine {

// One turn of a conversation.
struct ChatMessage {
  std::string role;  // "system", "user", "assistant", "tool", ...
  std::string content;
};

// Incremental detokenization: Push returns only whole UTF-8 characters and follows the
// tokenizer's leading-space rule across token boundaries.
class TextStreamDecoder {
 public:
  virtual ~TextStreamDecoder() = default;
  virtual std::string Push(int id) = 0;
  // End of stream: whatever is held back (incomplete bytes become U+FFFD).
  virtual std::string Flush() = 0;
};

class TextCodec {
 public:
  virtual ~TextCodec() = default;
  // `add_special`: add BOS/EOS as the tokenizer's configuration says.
  virtual absl::StatusOr<std::vector<int>> Encode(absl::string_view text,
                                                  bool add_special) const = 0;
  virtual std::string Decode(absl::Span<const int> ids) const = 0;
  // `strip_leading_space`: the output starts a text (no prompt before it).
  virtual std::unique_ptr<TextStreamDecoder> NewStreamDecoder(bool strip_leading_space) const = 0;
  virtual bool IsSpecial(int id) const = 0;
  virtual int vocab_size() const = 0;
  virtual int eos_id() const = 0;
  virtual const std::string& chat_template() const = 0;
  // The conversation as prompt text, through the model's chat template. FailedPrecondition when
  // the model has none (or it does not parse); InvalidArgument when the template rejects the
  // conversation (its own raise_exception message, or a rendering error).
  virtual absl::StatusOr<std::string> RenderChat(const std::vector<ChatMessage>& messages,
                                                 bool add_generation_prompt) const = 0;
};

}  // namespace hymba::engine
