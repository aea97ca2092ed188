#include "engine/model/tokenizer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "engine/base/status_macros.h"
#include "engine/model/spm_bpe.h"
#include "nlohmann/json.hpp"

namespace hymba::engine {
namespace {

using Json = nlohmann::json;

constexpr char kSpaceSymbol[] = "\xe2\x96\x81";  // "▁" (U+2581), SentencePiece's space marker
// Added-token ids beyond this are taken as a corrupt config rather than grown into a table.
constexpr int kMaxVocabSize = 1 << 22;

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return absl::InvalidArgumentError(absl::StrCat(path, ": read error"));
  return contents.str();
}

// A token in tokenizer_config.json is either "<s>" or {"content": "<s>", ...} (older files).
std::string TokenString(const Json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object() && value.contains("content") && value["content"].is_string()) {
    return value["content"].get<std::string>();
  }
  return "";
}

// "<0x0A>" -> 10; -1 when `piece` is not of that form.
int ParseBytePiece(const std::string& piece) {
  int value = -1;
  if (piece.size() == 6 && absl::StartsWith(piece, "<0x") && piece[5] == '>' &&
      absl::SimpleHexAtoi(piece.substr(3, 2), &value)) {
    return value;
  }
  return -1;
}

// `chat_template` is a string, or a list of {"name", "template"} of which "default" is used.
std::string ChatTemplateFrom(const Json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (!value.is_array()) return "";
  std::string first;
  for (const Json& entry : value) {
    if (!entry.is_object() || !entry.contains("template") || !entry["template"].is_string()) {
      continue;
    }
    const std::string text = entry["template"].get<std::string>();
    if (entry.contains("name") && entry["name"] == "default") return text;
    if (first.empty()) first = text;
  }
  return first;
}

struct AddedToken {
  int id = -1;
  std::string content;
  bool special = false;
};

// The fields of tokenizer_config.json that matter here; absent (or null) keys stay nullopt.
struct TokenizerConfig {
  std::optional<bool> add_bos_token;
  std::optional<bool> add_eos_token;
  std::vector<AddedToken> added_tokens;
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;
  std::optional<std::string> pad_token;
  std::string chat_template;
};

absl::Status ReadBool(const Json& config, const char* key, const std::string& file,
                      std::optional<bool>* out) {
  if (!config.contains(key) || config[key].is_null()) return absl::OkStatus();
  if (!config[key].is_boolean()) {
    return absl::InvalidArgumentError(absl::StrCat(file, ": ", key, " must be a boolean"));
  }
  *out = config[key].get<bool>();
  return absl::OkStatus();
}

absl::Status ReadToken(const Json& config, const char* key, const std::string& file,
                       std::optional<std::string>* out) {
  if (!config.contains(key) || config[key].is_null()) return absl::OkStatus();
  *out = TokenString(config[key]);
  if (!(*out)->empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(file, ": ", key, ": expected a token string"));
}

absl::Status ReadAddedTokens(const Json& config, const std::string& file,
                             std::vector<AddedToken>* out) {
  if (!config.contains("added_tokens_decoder")) return absl::OkStatus();
  const Json& added = config["added_tokens_decoder"];
  if (!added.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(file, ": added_tokens_decoder: not an object"));
  }
  for (const auto& [key, entry] : added.items()) {
    AddedToken token;
    token.content = TokenString(entry);
    if (!absl::SimpleAtoi(key, &token.id) || token.id < 0 || token.id >= kMaxVocabSize ||
        token.content.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(file, ": added_tokens_decoder: bad entry '", key, "'"));
    }
    token.special = entry.is_object() && entry.contains("special") &&
                    entry["special"].is_boolean() && entry["special"].get<bool>();
    out->push_back(std::move(token));
  }
  return absl::OkStatus();
}

absl::StatusOr<TokenizerConfig> ParseConfig(const std::string& text, const std::string& file) {
  const Json json = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(file, ": not a JSON object"));
  }
  TokenizerConfig config;
  // Every access checks types first; the catch only guards against a case missed here.
  try {
    HY_RETURN_IF_ERROR(ReadBool(json, "add_bos_token", file, &config.add_bos_token));
    HY_RETURN_IF_ERROR(ReadBool(json, "add_eos_token", file, &config.add_eos_token));
    HY_RETURN_IF_ERROR(ReadAddedTokens(json, file, &config.added_tokens));
    HY_RETURN_IF_ERROR(ReadToken(json, "bos_token", file, &config.bos_token));
    HY_RETURN_IF_ERROR(ReadToken(json, "eos_token", file, &config.eos_token));
    HY_RETURN_IF_ERROR(ReadToken(json, "pad_token", file, &config.pad_token));
    if (json.contains("chat_template")) {
      config.chat_template = ChatTemplateFrom(json["chat_template"]);
    }
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(file, ": ", e.what()));
  }
  return config;
}

}  // namespace

Tokenizer::Tokenizer() = default;
Tokenizer::~Tokenizer() = default;

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::Load(const std::string& model_dir) {
  const std::string model_path = model_dir + "/tokenizer.model";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(model_path, ec)) {
    return absl::NotFoundError(absl::StrCat(model_path, ": no such file"));
  }
  auto sp = SpmBpe::Load(model_path);
  if (!sp.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(model_path, ": not a SentencePiece BPE model: ", sp.status().message()));
  }
  std::unique_ptr<Tokenizer> tokenizer(new Tokenizer());
  tokenizer->sp_ = std::move(sp).value();
  tokenizer->add_dummy_prefix_ = tokenizer->sp_->add_dummy_prefix();
  tokenizer->remove_extra_whitespaces_ = tokenizer->sp_->remove_extra_whitespaces();
  HY_RETURN_IF_ERROR(tokenizer->BuildPieceTable());
  HY_RETURN_IF_ERROR(tokenizer->LoadConfig(model_dir));
  return tokenizer;
}

absl::Status Tokenizer::BuildPieceTable() {
  const int n = sp_->piece_size();
  pieces_.assign(n, TokenPiece{});
  for (int id = 0; id < n; ++id) {
    TokenPiece& piece = pieces_[id];
    const std::string& text = sp_->IdToPiece(id);
    if (sp_->type(id) == SpmBpe::PieceType::kControl ||
        sp_->type(id) == SpmBpe::PieceType::kUnknown) {
      piece.kind = TokenPiece::Kind::kSpecial;
    } else if (sp_->type(id) == SpmBpe::PieceType::kByte) {
      const int byte = ParseBytePiece(text);
      if (byte < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("tokenizer.model: byte piece ", id, " is '", text, "'"));
      }
      piece.kind = TokenPiece::Kind::kByte;
      piece.byte = static_cast<unsigned char>(byte);
    } else {
      piece.kind = TokenPiece::Kind::kText;
      piece.leading_space = absl::StartsWith(text, kSpaceSymbol);
      piece.text = absl::StrReplaceAll(text, {{kSpaceSymbol, " "}});
    }
  }
  bos_id_ = sp_->bos_id();
  eos_id_ = sp_->eos_id();
  pad_id_ = sp_->pad_id();
  if (bos_id_ >= n) bos_id_ = -1;
  if (eos_id_ >= n) eos_id_ = -1;
  if (pad_id_ >= n) pad_id_ = -1;
  if (bos_id_ >= 0) bos_token_ = sp_->IdToPiece(bos_id_);
  if (eos_id_ >= 0) eos_token_ = sp_->IdToPiece(eos_id_);
  add_bos_token_ = bos_id_ >= 0;
  return absl::OkStatus();
}

absl::Status Tokenizer::LoadConfig(const std::string& model_dir) {
  const std::string file = model_dir + "/tokenizer_config.json";
  std::error_code ec;
  if (std::filesystem::exists(file, ec)) {
    HY_ASSIGN_OR_RETURN(const std::string text, ReadFile(file));
    HY_ASSIGN_OR_RETURN(TokenizerConfig config, ParseConfig(text, file));
    add_bos_token_ = config.add_bos_token.value_or(add_bos_token_);
    add_eos_token_ = config.add_eos_token.value_or(add_eos_token_);
    const int sp_size = static_cast<int>(pieces_.size());
    for (const AddedToken& token : config.added_tokens) {
      if (token.id >= vocab_size()) pieces_.resize(token.id + 1);  // gaps stay special
      if (token.special) {
        pieces_[token.id] = TokenPiece{};
      } else if (token.id >= sp_size) {
        pieces_[token.id] = TokenPiece{TokenPiece::Kind::kText, 0, false, true, token.content};
      }
      token_strings_.emplace_back(token.content, token.id);
    }
    if (config.bos_token) {
      HY_ASSIGN_OR_RETURN(bos_id_, ResolveToken(*config.bos_token, file));
      bos_token_ = *config.bos_token;
    }
    if (config.eos_token) {
      HY_ASSIGN_OR_RETURN(eos_id_, ResolveToken(*config.eos_token, file));
      eos_token_ = *config.eos_token;
    }
    if (config.pad_token) {
      HY_ASSIGN_OR_RETURN(pad_id_, ResolveToken(*config.pad_token, file));
    }
    chat_template_ = std::move(config.chat_template);
  }
  for (const int id : {bos_id_, eos_id_, pad_id_}) {
    if (id >= 0) pieces_[id] = TokenPiece{};
  }
  if (bos_id_ >= 0) token_strings_.emplace_back(bos_token_, bos_id_);
  if (eos_id_ >= 0) token_strings_.emplace_back(eos_token_, eos_id_);
  std::sort(token_strings_.begin(), token_strings_.end(), [](const auto& a, const auto& b) {
    return a.first.size() != b.first.size() ? a.first.size() > b.first.size() : a < b;
  });
  token_strings_.erase(std::unique(token_strings_.begin(), token_strings_.end()),
                       token_strings_.end());
  const std::string template_file = model_dir + "/chat_template.jinja";
  if (chat_template_.empty() && std::filesystem::exists(template_file, ec)) {
    HY_ASSIGN_OR_RETURN(chat_template_, ReadFile(template_file));
  }
  // A template this interpreter cannot parse leaves the rest of the model usable; RenderChat
  // reports why.
  if (chat_template_.empty()) {
    template_status_ = absl::FailedPreconditionError("the model has no chat template");
  } else if (auto parsed = ChatTemplate::Parse(chat_template_); parsed.ok()) {
    parsed_template_ = std::move(parsed).value();
  } else {
    template_status_ = absl::FailedPreconditionError(
        absl::StrCat("the model's chat template is not supported: ", parsed.status().message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Tokenizer::RenderChat(const std::vector<ChatMessage>& messages,
                                                  bool add_generation_prompt) const {
  if (!parsed_template_) return template_status_;
  return parsed_template_->Render(messages, add_generation_prompt, bos_token_, eos_token_);
}

absl::StatusOr<int> Tokenizer::ResolveToken(const std::string& content,
                                            const std::string& file) const {
  for (const auto& [text, id] : token_strings_) {
    if (text == content) return id;
  }
  const int id = sp_->PieceToId(content);
  if (id >= 0) return id;
  return absl::InvalidArgumentError(
      absl::StrCat(file, ": token '", content, "' is not in the vocabulary"));
}

absl::StatusOr<std::vector<int>> Tokenizer::Encode(absl::string_view text, bool add_special) const {
  std::vector<int> ids;
  if (add_special && add_bos_token_ && bos_id_ >= 0) ids.push_back(bos_id_);
  // next[i]: where token_strings_[i] next occurs at or after `start` (npos: nowhere).
  std::vector<size_t> next(token_strings_.size());
  for (size_t i = 0; i < token_strings_.size(); ++i) next[i] = text.find(token_strings_[i].first);
  size_t start = 0;
  while (true) {
    size_t best = absl::string_view::npos;
    size_t best_index = 0;
    for (size_t i = 0; i < token_strings_.size(); ++i) {
      if (next[i] != absl::string_view::npos && next[i] < start) {
        next[i] = text.find(token_strings_[i].first, start);
      }
      // Strings are sorted longest first, so a tie keeps the longest match.
      if (next[i] < best) {
        best = next[i];
        best_index = i;
      }
    }
    const size_t end = best == absl::string_view::npos ? text.size() : best;
    HY_RETURN_IF_ERROR(EncodeText(text.substr(start, end - start), &ids));
    if (best == absl::string_view::npos) break;
    ids.push_back(token_strings_[best_index].second);
    start = best + token_strings_[best_index].first.size();
  }
  if (add_special && add_eos_token_ && eos_id_ >= 0) ids.push_back(eos_id_);
  return ids;
}

absl::Status Tokenizer::EncodeText(absl::string_view text, std::vector<int>* ids) const {
  if (text.empty()) return absl::OkStatus();
  sp_->Encode(std::string_view(text.data(), text.size()), ids);
  return absl::OkStatus();
}

std::string Tokenizer::Decode(absl::Span<const int> ids) const {
  std::string text;
  std::vector<int> run;  // SentencePiece ids since the last added token
  for (const int id : ids) {
    if (id < 0 || id >= vocab_size() || pieces_[id].kind == TokenPiece::Kind::kSpecial) continue;
    if (pieces_[id].added) {
      text += sp_->Decode(run);
      run.clear();
      text += pieces_[id].text;
    } else {
      run.push_back(id);
    }
  }
  text += sp_->Decode(run);
  return text;
}

bool Tokenizer::IsSpecial(int id) const {
  return id >= 0 && id < vocab_size() && pieces_[id].kind == TokenPiece::Kind::kSpecial;
}

}  // namespace hymba::engine
