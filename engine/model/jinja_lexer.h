// JinjaLexer: splits chat-template source into text, {{ output }} and {% statement %} segments,
// tokenizing the expressions inside tags, and applies Jinja's whitespace control ({%- -%} {{- -}},
// {%+ +%}) together with the settings Hugging Face renders chat templates with: trim_blocks (drop
// the newline after a block tag or comment), lstrip_blocks (drop the indentation before one) and
// keep_trailing_newline=False. Comments {# ... #} are dropped.
//
// Thread safety: stateless (Lex is a pure function).
// Errors: InvalidArgument from JinjaError (unterminated tag, comment or string; a character that
// starts no token).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace hymba::engine {

struct JinjaToken {
  enum class Kind { kName, kString, kInt, kFloat, kOp, kEnd };
  Kind kind = Kind::kEnd;
  std::string text;  // a name, an operator, or a string literal's decoded value
  int64_t int_value = 0;
  double float_value = 0;
  size_t pos = 0;  // byte offset in the source
};

struct JinjaSegment {
  enum class Kind { kText, kOutput, kStatement };
  Kind kind = Kind::kText;
  std::string text;                // kText
  std::vector<JinjaToken> tokens;  // kOutput / kStatement; ends with a kEnd token
  size_t pos = 0;
};

class JinjaLexer {
 public:
  static absl::StatusOr<std::vector<JinjaSegment>> Lex(absl::string_view source);

 private:
  explicit JinjaLexer(absl::string_view source);
  absl::StatusOr<std::vector<JinjaSegment>> Run();
  absl::Status LexTag(size_t start, size_t j, bool statement, std::vector<JinjaToken>* tokens,
                      size_t* next, char* end_mark);
  absl::Status LexWord(size_t* j, JinjaToken* token);
  absl::Status LexString(size_t* j, JinjaToken* token);

  absl::string_view src_;
};

// InvalidArgument "chat template: line L, column C: <message>" for byte offset `pos`.
absl::Status JinjaError(absl::string_view source, size_t pos, absl::string_view message);

}  // namespace hymba::engine
