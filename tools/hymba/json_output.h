// The one-line JSON that `hymba generate --json` and `hymba client --json` print, so that their
// outputs compare byte for byte: {"tokens":[...],"text":"..."} and a newline.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <vector>

namespace hymba::tools {

// `s` as the inside of a JSON string (quotes, backslashes and control characters escaped).
std::string JsonEscape(const std::string& s);

std::string TokensTextJson(const std::vector<int>& tokens, const std::string& text);

}  // namespace hymba::tools
