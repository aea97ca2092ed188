#include "engine/model/detokenizer.h"

#include <cstdint>

#include "absl/strings/string_view.h"

namespace hymba::engine {
namespace {

constexpr char kReplacement[] = "\xef\xbf\xbd";  // U+FFFD

// Sequence length announced by a lead byte; 0 when `lead` cannot start a character.
int SequenceLength(uint8_t lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xe0) == 0xc0) return 2;
  if ((lead & 0xf0) == 0xe0) return 3;
  if ((lead & 0xf8) == 0xf0) return 4;
  return 0;
}

bool IsTrail(uint8_t byte) { return (byte & 0xc0) == 0x80; }

// Whether bytes[0, n) (n = SequenceLength(bytes[0])) is one valid character by SentencePiece's
// rules (util.cc DecodeUTF8): no overlong forms, no surrogates, nothing above U+10FFFF.
bool IsValidSequence(const uint8_t* bytes, int n) {
  for (int i = 1; i < n; ++i) {
    if (!IsTrail(bytes[i])) return false;
  }
  uint32_t cp = 0;
  uint32_t min = 0;
  switch (n) {
    case 1:
      return true;
    case 2:
      cp = ((bytes[0] & 0x1fu) << 6) | (bytes[1] & 0x3fu);
      min = 0x80;
      break;
    case 3:
      cp = ((bytes[0] & 0x0fu) << 12) | ((bytes[1] & 0x3fu) << 6) | (bytes[2] & 0x3fu);
      min = 0x800;
      break;
    case 4:
      cp = ((bytes[0] & 0x07u) << 18) | ((bytes[1] & 0x3fu) << 12) | ((bytes[2] & 0x3fu) << 6) |
           (bytes[3] & 0x3fu);
      min = 0x10000;
      break;
    default:
      return false;
  }
  return cp >= min && (cp < 0xd800 || (cp >= 0xe000 && cp <= 0x10ffff));
}

// Whether the first `have` bytes of an `n`-byte sequence can still become a valid character. The
// range limits depend only on the lead and the second byte, so with two or more bytes it suffices
// to complete the sequence with 0x80 and check it.
bool CanComplete(const uint8_t* bytes, int have, int n) {
  if (have == 1) {
    const uint8_t lead = bytes[0];
    return (lead >= 0xc2 && lead <= 0xdf) || (lead >= 0xe0 && lead <= 0xef) ||
           (lead >= 0xf0 && lead <= 0xf4);
  }
  uint8_t completed[4] = {0x80, 0x80, 0x80, 0x80};
  for (int i = 0; i < have; ++i) completed[i] = bytes[i];
  return IsValidSequence(completed, n);
}

}  // namespace

IncrementalDetokenizer::IncrementalDetokenizer(const Tokenizer& tokenizer, bool strip_leading_space)
    : tokenizer_(tokenizer),
      strip_leading_space_(strip_leading_space),
      strip_next_space_(strip_leading_space) {}

std::string IncrementalDetokenizer::Push(int id) {
  if (id < 0 || id >= tokenizer_.vocab_size()) return "";
  const TokenPiece& piece = tokenizer_.piece(id);
  switch (piece.kind) {
    case TokenPiece::Kind::kSpecial:
      return "";
    case TokenPiece::Kind::kByte:
      pending_.push_back(static_cast<char>(piece.byte));
      return DrainBytes(/*end_of_run=*/false);
    case TokenPiece::Kind::kText:
      break;
  }
  // A text piece ends the byte sequence before it, as in SentencePiece's decoder.
  std::string out = DrainBytes(/*end_of_run=*/true);
  if (piece.added) {
    // Tokenizer::Decode decodes the ids after an added token as a new text.
    out += piece.text;
    strip_next_space_ = strip_leading_space_;
    dropped_space_ = false;
    run_has_text_ = false;
    return out;
  }
  // SentencePiece drops the "▁" of the first piece of a text (normalizer add_dummy_prefix), or of
  // every leading piece when it also collapses whitespace (remove_extra_whitespaces).
  if (dropped_space_ || run_has_text_) strip_next_space_ = false;
  absl::string_view text = piece.text;
  dropped_space_ = false;
  if (strip_next_space_ && piece.leading_space &&
      (tokenizer_.add_dummy_prefix() || tokenizer_.remove_extra_whitespaces())) {
    text.remove_prefix(1);
    dropped_space_ = !tokenizer_.remove_extra_whitespaces();
  }
  out.append(text.data(), text.size());
  if (!out.empty()) run_has_text_ = true;
  return out;
}

std::string IncrementalDetokenizer::Flush() { return DrainBytes(/*end_of_run=*/true); }

std::string IncrementalDetokenizer::DrainBytes(bool end_of_run) {
  std::string out;
  const auto* bytes = reinterpret_cast<const uint8_t*>(pending_.data());
  const int size = static_cast<int>(pending_.size());
  int i = 0;
  while (i < size) {
    const int n = SequenceLength(bytes[i]);
    const int have = size - i;
    if (n > 0 && have >= n && IsValidSequence(bytes + i, n)) {
      out.append(pending_, i, n);
      i += n;
    } else if (n == 0 || have >= n || end_of_run || !CanComplete(bytes + i, have, n)) {
      out += kReplacement;  // SentencePiece replaces an invalid sequence one byte at a time
      ++i;
    } else {
      break;  // an incomplete character that may still complete
    }
  }
  pending_.erase(0, i);
  if (!out.empty()) run_has_text_ = true;
  return out;
}

}  // namespace hymba::engine

namespace hymba::engine {

std::unique_ptr<TextStreamDecoder> Tokenizer::NewStreamDecoder(bool strip_leading_space) const {
  return std::make_unique<IncrementalDetokenizer>(*this, strip_leading_space);
}

}  // namespace hymba::engine
