// SpmBpe: a SentencePiece BPE model (`tokenizer.model`, as Llama and Hymba ship it) read and run
// natively: the model file is parsed with a small protobuf wire-format reader and encoding runs
// SentencePiece's BPE (merge the adjacent pair whose merged piece scores highest, leftmost first;
// byte fallback for characters outside the vocabulary). Libsentencepiece is not used: Debian's
// copy carries its own protobuf runtime, which aborts in a process that also loads gRPC's.
//
// Supported: model_type BPE, identity normalization (spaces become U+2581), add_dummy_prefix,
// remove_extra_whitespaces, byte_fallback; user-defined pieces match as whole symbols. Load
// refuses other model types and normalization rules, naming them.
// Ownership: Load returns the sole owner. Thread safety: immutable after Load.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"

namespace hymba::engine {

class SpmBpe {
 public:
  enum class PieceType {
    kNormal = 1,
    kUnknown = 2,
    kControl = 3,
    kUserDefined = 4,
    kUnused = 5,
    kByte = 6
  };

  static absl::StatusOr<std::unique_ptr<SpmBpe>> Load(const std::string& path);
  static absl::StatusOr<std::unique_ptr<SpmBpe>> Parse(std::string_view model_proto,
                                                       const std::string& source);

  // Appends the ids of `text` (no BOS/EOS) to `*ids`.
  void Encode(std::string_view text, std::vector<int>* ids) const;
  // Pieces joined, U+2581 -> space, bytes reassembled, control pieces skipped, the dummy prefix
  // space removed. REQUIRES: ids in [0, piece_size()).
  std::string Decode(const std::vector<int>& ids) const;

  int piece_size() const { return static_cast<int>(pieces_.size()); }
  const std::string& IdToPiece(int id) const { return pieces_[id].text; }
  int PieceToId(std::string_view piece) const;  // -1 when absent
  PieceType type(int id) const { return pieces_[id].type; }
  int unk_id() const { return unk_id_; }
  int bos_id() const { return bos_id_; }
  int eos_id() const { return eos_id_; }
  int pad_id() const { return pad_id_; }
  bool add_dummy_prefix() const { return add_dummy_prefix_; }
  bool remove_extra_whitespaces() const { return remove_extra_whitespaces_; }

 private:
  struct Piece {
    std::string text;
    float score = 0.0f;
    PieceType type = PieceType::kNormal;
  };
  std::string Normalize(std::string_view text) const;

  std::vector<Piece> pieces_;
  std::unordered_map<std::string, int> index_;
  std::vector<int> byte_ids_ = std::vector<int>(256, -1);  // <0xXX> pieces
  std::vector<std::string> user_defined_;                  // matched before splitting
  int unk_id_ = 0, bos_id_ = 1, eos_id_ = 2, pad_id_ = -1;
  bool byte_fallback_ = false;
  bool add_dummy_prefix_ = true;
  bool remove_extra_whitespaces_ = true;
};

}  // namespace hymba::engine
