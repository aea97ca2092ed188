#include "engine/model/jinja_lexer.h"

#include <algorithm>
#include <cstdlib>
#include <string_view>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"

namespace hymba::engine {
namespace {

constexpr char kWhitespace[] = " \t\n\r\f\v";
constexpr size_t kNpos = absl::string_view::npos;

// Appends code point `cp` (< 0x10000, from a \uXXXX escape) as UTF-8.
void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

// Where the next "{{", "{%" or "{#" starts at or after `from`; npos when none.
size_t FindTag(absl::string_view src, size_t from) {
  for (size_t p = src.find('{', from); p != kNpos && p + 1 < src.size(); p = src.find('{', p + 1)) {
    if (src[p + 1] == '{' || src[p + 1] == '%' || src[p + 1] == '#') return p;
  }
  return kNpos;
}

}  // namespace

absl::Status JinjaError(absl::string_view source, size_t pos, absl::string_view message) {
  int line = 1;
  int column = 1;
  for (size_t k = 0; k < pos && k < source.size(); ++k) {
    line += source[k] == '\n' ? 1 : 0;
    column = source[k] == '\n' ? 1 : column + 1;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("chat template: line ", line, ", column ", column, ": ", message));
}

JinjaLexer::JinjaLexer(absl::string_view source) : src_(source) {
  if (absl::EndsWith(src_, "\n")) src_.remove_suffix(1);  // keep_trailing_newline=False
}

absl::StatusOr<std::vector<JinjaSegment>> JinjaLexer::Lex(absl::string_view source) {
  return JinjaLexer(source).Run();
}

absl::StatusOr<std::vector<JinjaSegment>> JinjaLexer::Run() {
  std::vector<JinjaSegment> segments;
  bool strip_next = false;  // the previous tag ended with '-': drop all leading whitespace
  bool trim_next = false;   // the previous tag was a block or comment: drop one newline
  size_t i = 0;
  while (true) {
    const size_t p = FindTag(src_, i);
    std::string text(src_.substr(i, p == kNpos ? kNpos : p - i));
    if (strip_next) {
      text.erase(0, std::min(text.size(), text.find_first_not_of(kWhitespace)));
    } else if (trim_next && absl::StartsWith(text, "\n")) {
      text.erase(0, 1);
    }
    const char kind = p == kNpos ? 0 : src_[p + 1];
    const char mark = p != kNpos && p + 2 < src_.size() ? src_[p + 2] : 0;
    if (mark == '-') {
      text.erase(text.find_last_not_of(kWhitespace) + 1);
    } else if (p != kNpos && kind != '{' && mark != '+') {
      // lstrip_blocks: a block tag preceded on its line by blanks only takes them away.
      size_t q = p;
      while (q > i && (src_[q - 1] == ' ' || src_[q - 1] == '\t')) --q;
      if (q == 0 || src_[q - 1] == '\n') text.resize(text.size() - std::min(text.size(), p - q));
    }
    if (!text.empty()) {
      segments.push_back({JinjaSegment::Kind::kText, std::move(text), {}, i});
    }
    if (p == kNpos) return segments;
    const size_t body = p + 2 + (mark == '-' || mark == '+' ? 1 : 0);
    if (kind == '#') {
      const size_t end = src_.find("#}", body);
      if (end == kNpos) return JinjaError(src_, p, "unterminated comment");
      const char end_mark = end > body ? src_[end - 1] : 0;
      strip_next = end_mark == '-';
      trim_next = end_mark != '-' && end_mark != '+';
      i = end + 2;
      continue;
    }
    JinjaSegment segment;
    segment.kind = kind == '{' ? JinjaSegment::Kind::kOutput : JinjaSegment::Kind::kStatement;
    segment.pos = p;
    char end_mark = 0;
    HY_RETURN_IF_ERROR(LexTag(p, body, kind == '%', &segment.tokens, &i, &end_mark));
    strip_next = end_mark == '-';
    trim_next = kind == '%' && end_mark == 0;
    segments.push_back(std::move(segment));
  }
}

absl::Status JinjaLexer::LexTag(size_t start, size_t j, bool statement,
                                std::vector<JinjaToken>* tokens, size_t* next, char* end_mark) {
  const absl::string_view close = statement ? "%}" : "}}";
  int depth = 0;  // open brackets: "}}" inside `{'a': {'b': 1}}` does not end the tag
  while (true) {
    while (j < src_.size() && absl::ascii_isspace(src_[j])) ++j;
    if (j >= src_.size()) return JinjaError(src_, start, "unterminated tag");
    const absl::string_view rest = src_.substr(j);
    const bool marked = rest[0] == '-' || rest[0] == '+';
    if (depth == 0 &&
        (absl::StartsWith(rest, close) || (marked && absl::StartsWith(rest.substr(1), close)))) {
      *end_mark = absl::StartsWith(rest, close) ? 0 : rest[0];
      *next = j + close.size() + (*end_mark != 0 ? 1 : 0);
      tokens->push_back(JinjaToken{JinjaToken::Kind::kEnd, "", 0, 0, j});
      return absl::OkStatus();
    }
    JinjaToken token;
    token.pos = j;
    if (rest[0] == '\'' || rest[0] == '"') {
      HY_RETURN_IF_ERROR(LexString(&j, &token));
    } else {
      HY_RETURN_IF_ERROR(LexWord(&j, &token));
      if (token.kind == JinjaToken::Kind::kOp && token.text.size() == 1) {
        depth += std::string_view("([{").find(token.text[0]) != kNpos ? 1 : 0;
        depth -= std::string_view(")]}").find(token.text[0]) != kNpos && depth > 0 ? 1 : 0;
      }
    }
    tokens->push_back(std::move(token));
  }
}

// A name, a number or an operator.
absl::Status JinjaLexer::LexWord(size_t* j, JinjaToken* token) {
  const size_t start = *j;
  const char c = src_[start];
  if (absl::ascii_isalpha(c) || c == '_') {
    while (*j < src_.size() && (absl::ascii_isalnum(src_[*j]) || src_[*j] == '_')) ++*j;
    token->kind = JinjaToken::Kind::kName;
  } else if (absl::ascii_isdigit(c)) {
    while (*j < src_.size() && absl::ascii_isdigit(src_[*j])) ++*j;
    token->kind = JinjaToken::Kind::kInt;
    if (*j + 1 < src_.size() && src_[*j] == '.' && absl::ascii_isdigit(src_[*j + 1])) {
      for (++*j; *j < src_.size() && absl::ascii_isdigit(src_[*j]);) ++*j;
      token->kind = JinjaToken::Kind::kFloat;
    }
    // An exponent: 1e3, 2.5E-2.
    size_t e = *j + 1;
    if (e < src_.size() && (src_[e] == '+' || src_[e] == '-')) ++e;
    if (*j < src_.size() && (src_[*j] == 'e' || src_[*j] == 'E') && e < src_.size() &&
        absl::ascii_isdigit(src_[e])) {
      for (*j = e; *j < src_.size() && absl::ascii_isdigit(src_[*j]);) ++*j;
      token->kind = JinjaToken::Kind::kFloat;
    }
  } else {
    static constexpr const char* kOps[] = {"//", "**", "==", "!=", "<=", ">="};
    token->kind = JinjaToken::Kind::kOp;
    size_t size = std::string_view("+-*/%~<>=()[]{}.,:|").find(c) != kNpos ? 1 : 0;
    for (const char* op : kOps) {
      if (absl::StartsWith(src_.substr(start), op)) size = 2;
    }
    if (size == 0) {
      return JinjaError(src_, start,
                        absl::StrCat("unexpected character '", src_.substr(start, 1), "'"));
    }
    *j += size;
  }
  token->text = std::string(src_.substr(start, *j - start));
  token->int_value = std::strtoll(token->text.c_str(), nullptr, 10);
  token->float_value = std::strtod(token->text.c_str(), nullptr);
  return absl::OkStatus();
}

// A quoted string with Python escapes (\n \t \r \\ \' \" \b \f \0 \xHH \uXXXX); others stay
// as written.
absl::Status JinjaLexer::LexString(size_t* j, JinjaToken* token) {
  const char quote = src_[(*j)++];
  token->kind = JinjaToken::Kind::kString;
  while (*j < src_.size() && src_[*j] != quote) {
    const char c = src_[(*j)++];
    if (c != '\\' || *j >= src_.size()) {
      token->text += c;
      continue;
    }
    const char e = src_[(*j)++];
    const size_t simple = std::string_view("ntr\\'\"bf0").find(e);
    if (simple != kNpos) {
      token->text += std::string_view("\n\t\r\\'\"\b\f\0", 9)[simple];
    } else if ((e == 'u' || e == 'x') && *j + (e == 'u' ? 4 : 2) <= src_.size()) {
      const size_t digits = e == 'u' ? 4 : 2;
      AppendUtf8(std::strtoul(std::string(src_.substr(*j, digits)).c_str(), nullptr, 16),
                 &token->text);
      *j += digits;
    } else {
      token->text += '\\';
      token->text += e;
    }
  }
  if (*j >= src_.size()) return JinjaError(src_, token->pos, "unterminated string");
  ++*j;
  return absl::OkStatus();
}

}  // namespace hymba::engine
