// SentencePieceModel: libsentencepiece behind a std-only interface, kept for tests as the
// reference the native tokenizer (engine/model/spm_bpe.h) is compared with.
//
// Why a separate wrapper: <sentencepiece_processor.h> (0.1.97) declares `absl::string_view` as
// `std::string_view`, which is ambiguous with Debian's abseil (built with its own string_view), so
// that header may only be included by sentencepiece_model.cc, which includes no abseil header.
//
// Ownership: Load returns the sole owner. Thread safety: immutable after Load; const methods are
// safe to call concurrently. Errors: reported as bool + message (no abseil types here).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}  // namespace sentencepiece

namespace hymba::engine {

class SentencePieceModel {
 public:
  // Returns nullptr and sets `*error` when SentencePiece rejects the file.
  static std::unique_ptr<SentencePieceModel> Load(const std::string& path, std::string* error);

  ~SentencePieceModel();
  SentencePieceModel(const SentencePieceModel&) = delete;
  SentencePieceModel& operator=(const SentencePieceModel&) = delete;

  // Appends the ids of `text` to `*ids`; false with `*error` set on failure.
  bool Encode(std::string_view text, std::vector<int>* ids, std::string* error) const;
  // SentencePiece's decoder. REQUIRES: every id in [0, piece_size()).
  std::string Decode(const std::vector<int>& ids) const;

  int piece_size() const;
  // REQUIRES: 0 <= id < piece_size().
  const std::string& IdToPiece(int id) const;
  // -1 when `piece` is not in the vocabulary.
  int PieceToId(std::string_view piece) const;
  bool IsByte(int id) const;
  bool IsControl(int id) const;
  bool IsUnknown(int id) const;
  int bos_id() const;  // -1 when the model defines none
  int eos_id() const;
  int pad_id() const;

  // NormalizerSpec flags (sentencepiece_model.proto fields 3 and 4, both default true).
  bool add_dummy_prefix() const { return add_dummy_prefix_; }
  bool remove_extra_whitespaces() const { return remove_extra_whitespaces_; }

 private:
  SentencePieceModel();

  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  bool add_dummy_prefix_ = true;
  bool remove_extra_whitespaces_ = true;
};

}  // namespace hymba::engine
