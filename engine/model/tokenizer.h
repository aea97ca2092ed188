// Tokenizer: a checkpoint's SentencePiece model (`tokenizer.model`) plus the Hugging Face settings
// in `tokenizer_config.json` (BOS/EOS handling, added tokens such as Hymba's `[PAD]` = 32000, the
// chat template). See HYMBA.md, "Tokenizer and chat".
//
// Ids below the SentencePiece piece count are SentencePiece pieces; added tokens may extend the
// vocabulary past it. At load every id is classified once into a `TokenPiece` (text, byte-fallback
// byte, or special) so that streaming detokenization never calls into SentencePiece per token.
//
// Ownership: Load returns the sole owner. Borrowers (IncrementalDetokenizer) must not outlive it.
// Thread safety: immutable after Load; every method is const and safe to call concurrently.
// Errors: Load returns NotFound naming `tokenizer.model` when it is missing, InvalidArgument naming
// the file when SentencePiece or the JSON parser rejects it. Encode returns InvalidArgument when
// SentencePiece fails on the input.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "engine/api/text_codec.h"
#include "engine/model/chat_template.h"

namespace hymba::engine {

class SpmBpe;

// What one id contributes to decoded text.
struct TokenPiece {
  enum class Kind : unsigned char {
    kText,  // `text` (SentencePiece "▁" already replaced by " ")
    kByte,  // a byte-fallback piece `<0xNN>`: raw byte `byte`, possibly part of a UTF-8 character
    kSpecial,  // BOS/EOS/unknown/pad/added special token: contributes nothing when decoding
  };
  Kind kind = Kind::kSpecial;
  unsigned char byte = 0;
  // For kText from SentencePiece: the piece began with "▁", so `text[0]` is that space (the one
  // SentencePiece drops at the start of a decoded text).
  bool leading_space = false;
  // For kText that is an added (non-special) token: decoding restarts at the token that follows, as
  // Hugging Face decodes the text on each side of an added token separately.
  bool added = false;
  std::string text;
};

class Tokenizer final : public TextCodec {
 public:
  // Reads `<model_dir>/tokenizer.model` and, when present, `<model_dir>/tokenizer_config.json`
  // (add_bos_token, add_eos_token, bos/eos/pad token strings, added_tokens_decoder, chat_template;
  // a `chat_template.jinja` file is used when the JSON has no template).
  static absl::StatusOr<std::unique_ptr<Tokenizer>> Load(const std::string& model_dir);

  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Encodes `text`. Occurrences of special and added token strings (e.g. "</s>", "[PAD]") map to
  // their ids and the text between them is encoded by SentencePiece, as Hugging Face's slow
  // tokenizer does. With `add_special`, prepends BOS when add_bos_token() and appends EOS when
  // add_eos_token().
  absl::StatusOr<std::vector<int>> Encode(absl::string_view text, bool add_special) const override;

  // Decodes `ids` with SentencePiece's own decoder, skipping special tokens (BOS, EOS, unknown,
  // pad, added special tokens) and ids outside [0, vocab_size()). Invalid UTF-8 from byte-fallback
  // pieces becomes U+FFFD, one per byte; the first piece's leading "▁" space is dropped.
  std::string Decode(absl::Span<const int> ids) const override;
  std::unique_ptr<TextStreamDecoder> NewStreamDecoder(bool strip_leading_space) const override;

  // SentencePiece pieces plus added tokens past them.
  int vocab_size() const override { return static_cast<int>(pieces_.size()); }
  int bos_id() const { return bos_id_; }
  int eos_id() const override { return eos_id_; }
  int pad_id() const { return pad_id_; }  // -1 when the checkpoint names none
  bool add_bos_token() const { return add_bos_token_; }
  bool add_eos_token() const { return add_eos_token_; }
  const std::string& bos_token() const { return bos_token_; }
  const std::string& eos_token() const { return eos_token_; }
  // The Jinja chat template; empty when the checkpoint ships none.
  const std::string& chat_template() const override { return chat_template_; }
  // Renders with chat_template(), parsed at load; bos_token() and eos_token() are its variables.
  absl::StatusOr<std::string> RenderChat(const std::vector<ChatMessage>& messages,
                                         bool add_generation_prompt) const override;

  // True for ids that decoding skips; false for out-of-range ids.
  bool IsSpecial(int id) const override;
  // REQUIRES: 0 <= id < vocab_size().
  const TokenPiece& piece(int id) const { return pieces_[id]; }

  // SentencePiece's normalizer flags that decide which leading "▁" decoding drops.
  bool add_dummy_prefix() const { return add_dummy_prefix_; }
  bool remove_extra_whitespaces() const { return remove_extra_whitespaces_; }

 private:
  Tokenizer();
  absl::Status BuildPieceTable();
  absl::Status LoadConfig(const std::string& model_dir);
  // The id of a token string named in tokenizer_config.json (an added token or a piece).
  absl::StatusOr<int> ResolveToken(const std::string& content, const std::string& file) const;
  absl::Status EncodeText(absl::string_view text, std::vector<int>* ids) const;

  std::unique_ptr<SpmBpe> sp_;
  std::vector<TokenPiece> pieces_;  // [vocab_size]
  // Special and added token strings matched verbatim by Encode, longest first, with their ids.
  std::vector<std::pair<std::string, int>> token_strings_;
  int bos_id_ = -1;
  int eos_id_ = -1;
  int pad_id_ = -1;
  bool add_bos_token_ = true;
  bool add_eos_token_ = false;
  bool add_dummy_prefix_ = true;
  bool remove_extra_whitespaces_ = true;
  std::string bos_token_;
  std::string eos_token_;
  std::string chat_template_;
  std::optional<ChatTemplate> parsed_template_;
  // Why parsed_template_ is empty.
  absl::Status template_status_ = absl::FailedPreconditionError("the model has no chat template");
};

}  // namespace hymba::engine
