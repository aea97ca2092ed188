// IncrementalDetokenizer: turns a stream of generated token ids into text deltas that are safe to
// send one by one (HYMBA.md, "Tokenizer and chat": whole UTF-8 characters only, SentencePiece's
// leading-space rule across token boundaries).
//
// Contract: with `strip_leading_space`, the concatenation of every Push result followed by Flush
// equals Tokenizer::Decode of the whole id sequence. Without it (continuing after a prompt), the
// first piece keeps its leading space. Every returned string is valid UTF-8: bytes from
// byte-fallback pieces are held until they complete a character; a byte that can no longer be part
// of a valid character becomes U+FFFD as soon as that is certain, exactly as SentencePiece decodes
// it (one U+FFFD per byte). Special tokens produce nothing and do not interrupt a byte sequence.
//
// Ownership: borrows `tokenizer`, which must outlive this object. Never calls SentencePiece; it
// reads the per-id table Tokenizer builds at load.
// Thread safety: not thread-safe; one instance per output stream (the Tokenizer may be shared).
// Errors: none; ids outside [0, vocab_size()) are ignored like special tokens.
#pragma once

#include <string>

#include "engine/api/text_codec.h"
#include "engine/model/tokenizer.h"

namespace hymba::engine {

class IncrementalDetokenizer final : public TextStreamDecoder {
 public:
  // `strip_leading_space`: true when the output is a text of its own (decoding from its start, as
  // SentencePiece does); false when it continues a prompt, so a leading "▁" is a real space.
  IncrementalDetokenizer(const Tokenizer& tokenizer, bool strip_leading_space);

  IncrementalDetokenizer(const IncrementalDetokenizer&) = delete;
  IncrementalDetokenizer& operator=(const IncrementalDetokenizer&) = delete;

  // Appends `id`; returns the text it completes (often empty while bytes are held).
  std::string Push(int id) override;

  // Ends the stream: returns held bytes, each as U+FFFD (they can no longer complete).
  std::string Flush() override;

  // Bytes held back waiting for the rest of a UTF-8 character.
  size_t pending_bytes() const { return pending_.size(); }

 private:
  // Emits the held bytes that form whole characters or are certainly invalid; with `end_of_run`,
  // all of them.
  std::string DrainBytes(bool end_of_run);

  const Tokenizer& tokenizer_;
  const bool strip_leading_space_;
  std::string pending_;
  // SentencePiece's decoder state for the current run (ids since the start or the last added
  // token): whether a leading "▁" may still be dropped, whether the previous piece dropped one,
  // and whether the run has produced any text.
  bool strip_next_space_;
  bool dropped_space_ = false;
  bool run_has_text_ = false;
};

}  // namespace hymba::engine
