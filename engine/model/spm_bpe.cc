#include "engine/model/spm_bpe.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <queue>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace hymba::engine {
namespace {

constexpr char kSpace[] = "\xe2\x96\x81";  // U+2581, SentencePiece's visible space

// Protobuf wire format, as much as ModelProto needs (sentencepiece_model.proto field numbers).
class Wire {
 public:
  explicit Wire(std::string_view data) : data_(data) {}
  bool done() const { return pos_ >= data_.size(); }
  // One field: varint value, fixed32 bits or length-delimited bytes.
  bool Next(uint32_t* field, uint64_t* varint, uint32_t* fixed32, std::string_view* bytes) {
    uint64_t key;
    if (!Varint(&key)) return false;
    *field = static_cast<uint32_t>(key >> 3);
    switch (key & 7) {
      case 0:
        return Varint(varint);
      case 1:
        return Skip(8);
      case 5:
        if (data_.size() - pos_ < 4) return false;
        std::memcpy(fixed32, data_.data() + pos_, 4);
        pos_ += 4;
        return true;
      case 2: {
        uint64_t n;
        if (!Varint(&n) || n > data_.size() - pos_) return false;
        *bytes = data_.substr(pos_, n);
        pos_ += n;
        return true;
      }
      default:
        return false;
    }
  }

 private:
  bool Varint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64 && pos_ < data_.size(); shift += 7) {
      const uint8_t b = static_cast<uint8_t>(data_[pos_++]);
      *v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  }
  bool Skip(size_t n) {
    if (data_.size() - pos_ < n) return false;
    pos_ += n;
    return true;
  }
  std::string_view data_;
  size_t pos_ = 0;
};

int Utf8Length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 6) return 2;
  if ((lead >> 4) == 14) return 3;
  if ((lead >> 3) == 30) return 4;
  return 1;
}

// Appends raw bytes, replacing every byte of an invalid UTF-8 sequence (including overlong
// forms and surrogates) with U+FFFD, so the text is always valid UTF-8.
void AppendUtf8(const std::string& bytes, std::string* out) {
  for (size_t i = 0; i < bytes.size();) {
    const unsigned char c = static_cast<unsigned char>(bytes[i]);
    const int n = c < 0x80                   ? 1
                  : (c >= 0xC2 && c <= 0xDF) ? 2
                  : (c >= 0xE0 && c <= 0xEF) ? 3
                  : (c >= 0xF0 && c <= 0xF4) ? 4
                                             : 0;
    bool ok = n > 0 && i + n <= bytes.size();
    uint32_t cp = n == 1 ? c : c & (0x7F >> n);
    for (int k = 1; ok && k < n; ++k) {
      const unsigned char d = static_cast<unsigned char>(bytes[i + k]);
      ok = (d >> 6) == 2;
      cp = (cp << 6) | (d & 0x3F);
    }
    if (ok && ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
               (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))))
      ok = false;
    if (ok) {
      out->append(bytes, i, n);
      i += n;
    } else {
      out->append("\xef\xbf\xbd");
      ++i;
    }
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<SpmBpe>> SpmBpe::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return Parse(buffer.str(), path);
}

absl::StatusOr<std::unique_ptr<SpmBpe>> SpmBpe::Parse(std::string_view proto,
                                                      const std::string& source) {
  std::unique_ptr<SpmBpe> m(new SpmBpe());
  auto malformed = [&](const char* what) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": malformed model (", what, ")"));
  };
  int model_type = 1;  // TrainerSpec.model_type defaults to UNIGRAM
  std::string normalizer = "identity";
  Wire wire(proto);
  while (!wire.done()) {
    uint32_t field = 0, fixed = 0;
    uint64_t varint = 0;
    std::string_view bytes;
    if (!wire.Next(&field, &varint, &fixed, &bytes)) return malformed("ModelProto");
    if (field == 1) {  // SentencePiece {piece = 1, score = 2, type = 3}
      Piece p;
      Wire w(bytes);
      while (!w.done()) {
        uint32_t f = 0, bits = 0;
        uint64_t v = 0;
        std::string_view b;
        if (!w.Next(&f, &v, &bits, &b)) return malformed("SentencePiece");
        if (f == 1) p.text = std::string(b);
        if (f == 2) std::memcpy(&p.score, &bits, 4);
        if (f == 3) p.type = static_cast<PieceType>(v);
      }
      m->pieces_.push_back(std::move(p));
    } else if (field == 2 || field == 3) {  // TrainerSpec, NormalizerSpec
      Wire w(bytes);
      while (!w.done()) {
        uint32_t f = 0, bits = 0;
        uint64_t v = 0;
        std::string_view b;
        if (!w.Next(&f, &v, &bits, &b)) return malformed("spec");
        const int value = static_cast<int>(static_cast<int64_t>(v));
        if (field == 2) {
          if (f == 3) model_type = value;
          if (f == 35) m->byte_fallback_ = v != 0;
          if (f == 40) m->unk_id_ = value;
          if (f == 41) m->bos_id_ = value;
          if (f == 42) m->eos_id_ = value;
          if (f == 43) m->pad_id_ = value;
        } else {
          if (f == 1) normalizer = std::string(b);
          if (f == 3) m->add_dummy_prefix_ = v != 0;
          if (f == 4) m->remove_extra_whitespaces_ = v != 0;
        }
      }
    }
  }
  if (model_type != 2)
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": model_type ", model_type, " is not supported (only BPE, 2)"));
  if (normalizer != "identity")
    return absl::InvalidArgumentError(absl::StrCat(source, ": normalization rule '", normalizer,
                                                   "' is not supported (only identity)"));
  if (m->pieces_.empty()) return malformed("no pieces");
  for (int id = 0; id < m->piece_size(); ++id) {
    const Piece& p = m->pieces_[id];
    m->index_.emplace(p.text, id);
    if (p.type == PieceType::kUserDefined) m->user_defined_.push_back(p.text);
    if (p.type == PieceType::kByte && p.text.size() == 6 && p.text.rfind("<0x", 0) == 0)
      m->byte_ids_[std::stoi(p.text.substr(3, 2), nullptr, 16)] = id;
  }
  // Longest first, so the earliest listed longest match wins.
  std::stable_sort(m->user_defined_.begin(), m->user_defined_.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  return m;
}

int SpmBpe::PieceToId(std::string_view piece) const {
  auto it = index_.find(std::string(piece));
  return it == index_.end() ? -1 : it->second;
}

std::string SpmBpe::Normalize(std::string_view text) const {
  std::string s(text);
  if (remove_extra_whitespaces_) {
    std::string collapsed;
    for (char c : s)
      if (c != ' ' || (!collapsed.empty() && collapsed.back() != ' ')) collapsed += c;
    while (!collapsed.empty() && collapsed.back() == ' ') collapsed.pop_back();
    s = collapsed;
  }
  if (s.empty()) return s;
  std::string out = add_dummy_prefix_ ? kSpace : "";
  for (char c : s) {
    if (c == ' ') {
      out += kSpace;
    } else {
      out += c;
    }
  }
  return out;
}

void SpmBpe::Encode(std::string_view text, std::vector<int>* ids) const {
  const std::string n = Normalize(text);
  // Initial symbols: user-defined pieces whole (frozen), otherwise one UTF-8 character each.
  struct Symbol {
    size_t start, len;
    int prev, next;
    bool frozen;
  };
  std::vector<Symbol> sym;
  for (size_t i = 0; i < n.size();) {
    size_t len = 0;
    bool frozen = false;
    for (const std::string& u : user_defined_)
      if (n.compare(i, u.size(), u) == 0) {
        len = u.size();
        frozen = true;
        break;
      }
    if (len == 0)
      len = std::min<size_t>(Utf8Length(static_cast<unsigned char>(n[i])), n.size() - i);
    const int idx = static_cast<int>(sym.size());
    sym.push_back({i, len, idx - 1, idx + 1, frozen});
    i += len;
  }
  if (!sym.empty()) sym.back().next = -1;
  // Candidate merges: highest score first, then leftmost.
  struct Pair {
    float score;
    int left;
    size_t len;
    bool operator<(const Pair& o) const {
      return score < o.score || (score == o.score && left > o.left);
    }
  };
  std::priority_queue<Pair> agenda;
  auto consider = [&](int left) {
    if (left < 0) return;
    const int right = sym[left].next;
    if (right < 0 || sym[left].frozen || sym[right].frozen) return;
    const size_t len = sym[left].len + sym[right].len;
    auto it = index_.find(n.substr(sym[left].start, len));
    if (it == index_.end()) return;
    const Piece& p = pieces_[it->second];
    if (p.type != PieceType::kNormal && p.type != PieceType::kUserDefined) return;
    agenda.push({p.score, left, len});
  };
  for (int i = 0; i + 1 < static_cast<int>(sym.size()); ++i) consider(i);
  while (!agenda.empty()) {
    const Pair top = agenda.top();
    agenda.pop();
    Symbol& l = sym[top.left];
    if (l.len == 0 || l.next < 0 || l.len + sym[l.next].len != top.len) continue;  // stale
    Symbol& r = sym[l.next];
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = top.left;
    consider(l.prev);
    consider(top.left);
  }
  for (int i = sym.empty() ? -1 : 0; i >= 0; i = sym[i].next) {
    const std::string piece = n.substr(sym[i].start, sym[i].len);
    auto it = index_.find(piece);
    if (it != index_.end() && pieces_[it->second].type != PieceType::kUnused) {
      ids->push_back(it->second);
    } else if (byte_fallback_) {
      for (unsigned char b : piece) ids->push_back(byte_ids_[b] >= 0 ? byte_ids_[b] : unk_id_);
    } else {
      ids->push_back(unk_id_);
    }
  }
}

std::string SpmBpe::Decode(const std::vector<int>& ids) const {
  std::string out, bytes;
  bool first = true;
  for (int id : ids) {
    const Piece& p = pieces_[id];
    if (p.type == PieceType::kByte) {
      bytes += static_cast<char>(std::stoi(p.text.substr(3, 2), nullptr, 16));
      first = false;
      continue;
    }
    AppendUtf8(bytes, &out);
    bytes.clear();
    if (p.type == PieceType::kControl) continue;
    std::string text = p.type == PieceType::kUnknown ? " \xe2\x81\x87 " : p.text;
    for (size_t at; (at = text.find(kSpace)) != std::string::npos;) text.replace(at, 3, " ");
    if (first && add_dummy_prefix_ && !text.empty() && text[0] == ' ' &&
        p.type != PieceType::kUnknown)
      text.erase(0, 1);
    first = false;
    out += text;
  }
  AppendUtf8(bytes, &out);
  return out;
}

}  // namespace hymba::engine
