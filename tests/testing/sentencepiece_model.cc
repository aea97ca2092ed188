#include "tests/testing/sentencepiece_model.h"

// Only this file may include the SentencePiece header (see sentencepiece_model.h): no abseil here.
#include <sentencepiece_processor.h>

#include <cstdint>

namespace hymba::engine {
namespace {

// A minimal protobuf wire-format reader: enough to read two bools of ModelProto.normalizer_spec
// without the generated sentencepiece_model.pb.h, which Debian does not ship.
class WireReader {
 public:
  explicit WireReader(std::string_view data) : data_(data) {}
  bool done() const { return pos_ >= data_.size(); }

  bool ReadVarint(uint64_t* value) {
    *value = 0;
    for (int shift = 0; shift < 64 && pos_ < data_.size(); shift += 7) {
      const uint8_t byte = static_cast<uint8_t>(data_[pos_++]);
      *value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return false;
  }

  // Reads one field; for length-delimited fields `*payload` is its bytes.
  bool ReadField(uint32_t* field, uint64_t* varint, std::string_view* payload) {
    uint64_t key;
    if (!ReadVarint(&key)) return false;
    *field = static_cast<uint32_t>(key >> 3);
    switch (key & 7) {
      case 0:
        return ReadVarint(varint);
      case 1:
        return Skip(8);
      case 5:
        return Skip(4);
      case 2: {
        uint64_t size;
        if (!ReadVarint(&size) || size > data_.size() - pos_) return false;
        *payload = data_.substr(pos_, size);
        pos_ += size;
        return true;
      }
      default:
        return false;
    }
  }

 private:
  bool Skip(size_t n) {
    if (n > data_.size() - pos_) return false;
    pos_ += n;
    return true;
  }

  std::string_view data_;
  size_t pos_ = 0;
};

constexpr uint32_t kModelNormalizerSpec = 3;          // ModelProto.normalizer_spec
constexpr uint32_t kNormalizerAddDummyPrefix = 3;     // NormalizerSpec.add_dummy_prefix
constexpr uint32_t kNormalizerRemoveExtraSpaces = 4;  // NormalizerSpec.remove_extra_whitespaces

void ReadNormalizerFlags(std::string_view model_proto, bool* add_dummy_prefix,
                         bool* remove_extra_whitespaces) {
  WireReader model(model_proto);
  while (!model.done()) {
    uint32_t field;
    uint64_t varint = 0;
    std::string_view payload;
    if (!model.ReadField(&field, &varint, &payload)) return;
    if (field != kModelNormalizerSpec) continue;
    WireReader spec(payload);
    while (!spec.done()) {
      uint32_t spec_field;
      uint64_t value = 0;
      std::string_view unused;
      if (!spec.ReadField(&spec_field, &value, &unused)) break;
      if (spec_field == kNormalizerAddDummyPrefix) *add_dummy_prefix = value != 0;
      if (spec_field == kNormalizerRemoveExtraSpaces) *remove_extra_whitespaces = value != 0;
    }
  }
}

}  // namespace

SentencePieceModel::SentencePieceModel()
    : sp_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {}

SentencePieceModel::~SentencePieceModel() = default;

std::unique_ptr<SentencePieceModel> SentencePieceModel::Load(const std::string& path,
                                                             std::string* error) {
  std::unique_ptr<SentencePieceModel> model(new SentencePieceModel());
  const sentencepiece::util::Status status = model->sp_->Load(path);
  if (!status.ok()) {
    *error = status.ToString();
    return nullptr;
  }
  const std::string proto = model->sp_->serialized_model_proto();
  ReadNormalizerFlags(proto, &model->add_dummy_prefix_, &model->remove_extra_whitespaces_);
  return model;
}

bool SentencePieceModel::Encode(std::string_view text, std::vector<int>* ids,
                                std::string* error) const {
  std::vector<int> out;
  const sentencepiece::util::Status status = sp_->Encode(text, &out);
  if (!status.ok()) {
    *error = status.ToString();
    return false;
  }
  ids->insert(ids->end(), out.begin(), out.end());
  return true;
}

std::string SentencePieceModel::Decode(const std::vector<int>& ids) const {
  std::string text;
  if (!sp_->Decode(ids, &text).ok()) text.clear();
  return text;
}

int SentencePieceModel::piece_size() const { return sp_->GetPieceSize(); }
const std::string& SentencePieceModel::IdToPiece(int id) const { return sp_->IdToPiece(id); }

int SentencePieceModel::PieceToId(std::string_view piece) const {
  const int id = sp_->PieceToId(piece);
  if (sp_->IsUnknown(id) && sp_->IdToPiece(id) != piece) return -1;
  return id;
}

bool SentencePieceModel::IsByte(int id) const { return sp_->IsByte(id); }
bool SentencePieceModel::IsControl(int id) const { return sp_->IsControl(id); }
bool SentencePieceModel::IsUnknown(int id) const { return sp_->IsUnknown(id); }
int SentencePieceModel::bos_id() const { return sp_->bos_id(); }
int SentencePieceModel::eos_id() const { return sp_->eos_id(); }
int SentencePieceModel::pad_id() const { return sp_->pad_id(); }

}  // namespace hymba::engine
