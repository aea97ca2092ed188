#include "engine/model/chat_template.h"

#include <utility>

#include "absl/status/status.h"
#include "engine/base/status_macros.h"
#include "engine/model/jinja_parser.h"
#include "engine/model/jinja_renderer.h"
#include "engine/model/jinja_value.h"
#include "nlohmann/json.hpp"

namespace hymba::engine {

struct ChatTemplate::Program {
  std::string source;
  std::vector<JinjaNode> nodes;
};

namespace {

using Json = nlohmann::ordered_json;  // keeps the caller's key order for tojson

JinjaValue FromJson(const Json& json) {
  switch (json.type()) {
    case Json::value_t::boolean:
      return JinjaValue::Bool(json.get<bool>());
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return JinjaValue::Int(json.get<int64_t>());
    case Json::value_t::number_float:
      return JinjaValue::Float(json.get<double>());
    case Json::value_t::string:
      return JinjaValue::String(json.get<std::string>());
    case Json::value_t::array: {
      JinjaList items;
      for (const Json& item : json) items.push_back(FromJson(item));
      return JinjaValue::List(std::move(items));
    }
    case Json::value_t::object: {
      JinjaDict items;
      for (const auto& [key, item] : json.items()) items.emplace_back(key, FromJson(item));
      return JinjaValue::Dict(std::move(items));
    }
    default:
      return JinjaValue::None();
  }
}

}  // namespace

ChatTemplate::ChatTemplate(std::shared_ptr<const Program> program) : program_(std::move(program)) {}

absl::StatusOr<ChatTemplate> ChatTemplate::Parse(const std::string& source) {
  auto program = std::make_shared<Program>();
  program->source = source;
  HY_ASSIGN_OR_RETURN(program->nodes, JinjaParser::Parse(program->source));
  return ChatTemplate(std::move(program));
}

absl::StatusOr<std::string> ChatTemplate::Render(const std::vector<ChatMessage>& messages,
                                                 bool add_generation_prompt,
                                                 const std::string& bos_token,
                                                 const std::string& eos_token) const {
  return Render(messages, add_generation_prompt, bos_token, eos_token, "{}");
}

absl::StatusOr<std::string> ChatTemplate::Render(const std::vector<ChatMessage>& messages,
                                                 bool add_generation_prompt,
                                                 const std::string& bos_token,
                                                 const std::string& eos_token,
                                                 absl::string_view extra_variables_json) const {
  const Json extra = Json::parse(extra_variables_json.begin(), extra_variables_json.end(), nullptr,
                                 /*allow_exceptions=*/false);
  if (extra.is_discarded() || !extra.is_object()) {
    return absl::InvalidArgumentError("chat template: extra variables must be a JSON object");
  }
  JinjaRenderer::Scope globals;
  for (const auto& [name, value] : extra.items()) globals[name] = FromJson(value);
  JinjaList message_values;
  for (const ChatMessage& message : messages) {
    message_values.push_back(JinjaValue::Dict({{"role", JinjaValue::String(message.role)},
                                               {"content", JinjaValue::String(message.content)}}));
  }
  globals["messages"] = JinjaValue::List(std::move(message_values));
  globals["add_generation_prompt"] = JinjaValue::Bool(add_generation_prompt);
  globals["bos_token"] = JinjaValue::String(bos_token);
  globals["eos_token"] = JinjaValue::String(eos_token);
  std::string out;
  HY_RETURN_IF_ERROR(
      JinjaRenderer::Render(program_->source, program_->nodes, std::move(globals), &out));
  return out;
}

}  // namespace hymba::engine
