#include "engine/model/chat_template.h"

#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace hymba::engine {
namespace {

using ::testing::HasSubstr;

std::string ReadHymbaTemplate() {
  const std::string path =
      hymba::testing::SourceDir() + "/tests/testing/data/hymba_instruct_chat_template.jinja";
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

const ChatMessage kSystem{"system", "You are a helpful assistant."};
const ChatMessage kUser{"user", "What is the capital of France?"};

class ChatTemplateHymbaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string source = ReadHymbaTemplate();
    ASSERT_FALSE(source.empty());
    absl::StatusOr<ChatTemplate> parsed = ChatTemplate::Parse(source);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    template_ = std::make_unique<ChatTemplate>(*std::move(parsed));
  }

  std::string Render(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                     const std::string& extra_json = "{}") {
    absl::StatusOr<std::string> text =
        template_->Render(messages, add_generation_prompt, "<s>", "</s>", extra_json);
    EXPECT_TRUE(text.ok()) << text.status();
    return text.ok() ? *text : "";
  }

  std::unique_ptr<ChatTemplate> template_;
};

// The expected strings below are what Jinja2 renders with Hugging Face's chat-template settings.
TEST_F(ChatTemplateHymbaTest, SystemAndUserWithGenerationPrompt) {
  EXPECT_EQ(Render({kSystem, kUser}, true),
            "<extra_id_0>System\nYou are a helpful assistant.\n\n"
            "<extra_id_1>User\nWhat is the capital of France?\n"
            "<extra_id_1>Assistant\n");
}

TEST_F(ChatTemplateHymbaTest, WithoutGenerationPrompt) {
  EXPECT_EQ(Render({kSystem, kUser}, false),
            "<extra_id_0>System\nYou are a helpful assistant.\n\n"
            "<extra_id_1>User\nWhat is the capital of France?\n");
}

TEST_F(ChatTemplateHymbaTest, WithoutSystemMessage) {
  EXPECT_EQ(Render({kUser}, true),
            "<extra_id_0>System\n\n<extra_id_1>User\nWhat is the capital of France?\n"
            "<extra_id_1>Assistant\n");
}

TEST_F(ChatTemplateHymbaTest, MultiTurnStripsContent) {
  const std::vector<ChatMessage> messages = {kSystem,
                                             kUser,
                                             {"assistant", " The capital of France is Paris. "},
                                             {"user", "And of Italy?\n"}};
  EXPECT_EQ(Render(messages, true),
            "<extra_id_0>System\nYou are a helpful assistant.\n\n"
            "<extra_id_1>User\nWhat is the capital of France?\n"
            "<extra_id_1>Assistant\nThe capital of France is Paris.\n"
            "<extra_id_1>User\nAnd of Italy?\n"
            "<extra_id_1>Assistant\n");
}

TEST_F(ChatTemplateHymbaTest, ToolMessage) {
  EXPECT_EQ(Render({kSystem, kUser, {"tool", "{\"temperature\": 21}"}}, true),
            "<extra_id_0>System\nYou are a helpful assistant.\n\n"
            "<extra_id_1>User\nWhat is the capital of France?\n"
            "<extra_id_1>Tool\n{\"temperature\": 21}\n"
            "<extra_id_1>Assistant\n");
}

TEST_F(ChatTemplateHymbaTest, ToolsBlock) {
  EXPECT_EQ(Render({kSystem, kUser}, true,
                   R"({"tools": [{"name": "get_weather",
                                  "parameters": {"city": {"type": "string"}}}]})"),
            "<extra_id_0>System\nYou are a helpful assistant.\n\n"
            "<tool> {\"name\": \"get_weather\", \"parameters\": {\"city\": {\"type\": \"string\"}}}"
            " </tool>\n\n"
            "<extra_id_1>User\nWhat is the capital of France?\n<extra_id_1>Assistant\n");
}

TEST_F(ChatTemplateHymbaTest, ContextsBlock) {
  EXPECT_EQ(Render({kSystem, kUser}, true,
                   R"({"contexts": [" Paris is in France. ", "Rome is in Italy."]})"),
            "<extra_id_0>System\nYou are a helpful assistant.\n\n"
            "<context> Paris is in France. </context>\n<context> Rome is in Italy. </context>\n\n"
            "<extra_id_1>User\nWhat is the capital of France?\n<extra_id_1>Assistant\n");
}

TEST_F(ChatTemplateHymbaTest, ToolsAndContextsWithoutSystem) {
  EXPECT_EQ(Render({kUser}, true, R"({"tools": [{"name": "f"}], "contexts": ["c"]})"),
            "<extra_id_0>System\n<tool> {\"name\": \"f\"} </tool>\n\n<context> c </context>\n\n"
            "<extra_id_1>User\nWhat is the capital of France?\n<extra_id_1>Assistant\n");
}

TEST_F(ChatTemplateHymbaTest, NoMessages) {
  EXPECT_EQ(Render({}, false), "<extra_id_0>System\n\n");
}

TEST_F(ChatTemplateHymbaTest, CopiesShareTheProgramAndRenderConcurrently) {
  const ChatTemplate copy = *template_;
  std::vector<std::string> results(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < 50; ++k) {
        results[t] = copy.Render({kSystem, kUser}, true, "<s>", "</s>").value_or("error");
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const std::string& result : results) EXPECT_EQ(result, Render({kSystem, kUser}, true));
}

struct RenderCase {
  const char* name;
  const char* source;
  const char* expected;
};

// Each source is rendered with messages [system "Be brief.", user "Hi", assistant " Hello! ",
// user "Bye"], add_generation_prompt true; expected outputs come from Jinja2 with Hugging Face's
// settings (trim_blocks, lstrip_blocks, loopcontrols, tojson with ensure_ascii=False).
const RenderCase kRenderCases[] = {
    {"Arithmetic",
     R"j({{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 10 / 4 }} {{ 2 * 1.5 }} {{ 1e3 }})j",
     R"j(7 9 3 -4 2 2.5 3.0 1000.0)j"},
    {"Concatenation",
     R"j({{ 'a' + 'b' }} {{ 'n=' ~ 1 ~ none ~ true }} {{ [1] + [2] }} {{ 'ab' * 2 }} {{ 'x' 'y' }})j",
     R"j(ab n=1NoneTrue [1, 2] abab xy)j"},
    {"Comparisons",
     R"j({{ 1 < 2 }} {{ 2 <= 1 }} {{ 'a' < 'b' }} {{ 1 == 1.0 }} {{ 'a' != 'a' }} {{ [1, 2] == [1, 2] }})j",
     R"j(True False True True False True)j"},
    {"Logic",
     R"j({{ true and 'x' }} {{ false or 'y' }} {{ not 0 }} {{ not messages }} {{ 0 and 1 }} {{ none or [] }})j",
     R"j(x y True False 0 [])j"},
    {"Membership",
     R"j({{ 'b' in 'abc' }} {{ 3 in [1, 2] }} {{ 'role' in messages[0] }} {{ 'z' not in 'abc' }})j",
     R"j(True False True True)j"},
    {"Conditional",
     R"j({{ 'yes' if messages else 'no' }} [{{ 'yes' if false }}] {{ 'a' if 0 else 'b' if 1 else 'c' }})j",
     R"j(yes [] b)j"},
    {"AttributeAndSubscript",
     R"j({{ messages[0].role }} {{ messages[1]['content'] }} {{ messages[-1].content }} {{ {'a': {'b': 'c'}}['a']['b'] }})j",
     R"j(system Hi Bye c)j"},
    {"Slices",
     R"j({{ [1, 2, 3][1:] }} {{ [1, 2, 3][:-1] }} {{ [1, 2, 3][::-1] }} {{ [1, 2, 3, 4, 5][1:4:2] }} {{ 'hello'[1:3] }} {{ messages[1:]|length }})j",
     R"j([2, 3] [1, 2] [3, 2, 1] [2, 4] el 3)j"},
    {"StringEscapes",
     R"j({{ 'a\nb' }}|{{ "it's" }}|{{ 'tab\there'|length }}|{{ '\u00e9' }}|{{ 'back\\slash' }})j",
     R"j(a
b|it's|8|é|back\slash)j"},
    {"Filters",
     R"j({{ ' x '|trim }}|{{ 'abc'|upper }}|{{ 'ABC'|lower }}|{{ messages|length }}|{{ 'héllo'|length }}|{{ 'hello world'|title }}|{{ 'hELLO'|capitalize }})j",
     R"j(x|ABC|abc|4|5|Hello World|Hello)j"},
    {"MoreFilters",
     R"j({{ x|default('dflt') }}|{{ ''|default('d', true) }}|{{ [3, 1]|first }}|{{ [3, 1]|last }}|{{ [1, 2]|join(', ') }}|{{ '12'|int + 1 }}|{{ 'a-b'|replace('-', '+') }}|{{ 5|string }})j",
     R"j(dflt|d|3|1|1, 2|13|a+b|5)j"},
    {"Tests",
     R"j({{ x is defined }} {{ x is not defined }} {{ none is none }} {{ 1 is not none }} {{ 'a' is string }} {{ 1 is number }} {{ {} is mapping }} {{ 3 is odd }} {{ 4 is even }} {{ 'a' is eq('a') }})j",
     R"j(False True True True True True True True True True)j"},
    {"StringMethods",
     R"j({{ ' a b '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ ' a'.lstrip() }}|{{ 'a '.rstrip() }}|{{ 'abc'.upper() }}|{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith('x') }}|{{ 'a,b'.split(',') }}|{{ 'aXb'.replace('X', 'y') }})j",
     R"j(a b|a|a|a|ABC|True|False|['a', 'b']|ayb)j"},
    {"DictMethods",
     R"j({% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %} {{ {'a': 1}.keys()|list }} {{ {'a': 1}.get('z', 5) }} {{ {'a': 1}.get('z') }})j",
     R"j(a=1;b=2; ['a'] 5 None)j"},
    {"ToJson",
     R"j({{ {'name': 'f', 'args': [1, 2.5, none, true, 'q"é']}|tojson }} {{ [1, {'x': []}]|tojson(indent=2) }})j",
     R"j({"name": "f", "args": [1, 2.5, null, true, "q\"é"]} [
  1,
  {
    "x": []
  }
])j"},
    {"Repr", R"j({{ [1, 'a', none, true, 2.5] }} {{ {'k': 'v'} }} {{ 0.1 + 0.2 }} {{ 1.0 }})j",
     R"j([1, 'a', None, True, 2.5] {'k': 'v'} 0.30000000000000004 1.0)j"},
    {"LoopVariables",
     R"j({% for m in messages %}{{ loop.index0 }}{{ loop.index }}{{ loop.revindex0 }}{{ loop.length }}{% if loop.first %}F{% endif %}{% if loop.last %}L{% endif %}{{ m.role[0] }} {% endfor %})j",
     R"j(0134Fs 1224u 2314a 3404Lu )j"},
    {"LoopFilterAndElse",
     R"j({% for m in messages if m.role == 'user' %}{{ m.content }}{{ ',' if not loop.last }}{% endfor %}|{% for m in [] %}x{% else %}empty{% endfor %})j",
     R"j(Hi,Bye|empty)j"},
    {"BreakContinue",
     R"j({% for i in range(10) %}{% if i == 1 %}{% continue %}{% endif %}{% if i == 4 %}{% break %}{% endif %}{{ i }}{% endfor %} {% for i in range(1, 8, 3) %}{{ i }}{% endfor %})j",
     R"j(023 147)j"},
    {"LoopScoping",
     R"j({% set x = 0 %}{% for i in [1, 2, 3] %}{{ x }}{% set x = i %}{{ x }};{% endfor %}{{ x }})j",
     R"j(01;02;03;0)j"},
    {"Namespace",
     R"j({% set ns = namespace(n=0, sys='') %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% if m.role == 'system' %}{% set ns.sys = m.content %}{% endif %}{% endfor %}{{ ns.n }} {{ ns.sys }})j",
     R"j(4 Be brief.)j"},
    {"IfElifElse",
     R"j({% for v in [0, '', 'x', 2] %}{% if v == 2 %}two{% elif v %}truthy{% elif v == '' %}empty{% else %}zero{% endif %};{% endfor %})j",
     R"j(zero;empty;truthy;two;)j"},
    {"StringIteration", R"j({% for c in 'hé🙂' %}[{{ c }}]{% endfor %})j", R"j([h][é][🙂])j"},
    {"WhitespaceControl", R"j(a  {{- ' b ' -}}  c {%- if true -%}  d  {%- endif -%} e)j",
     R"j(a b cde)j"},
    {"TrimAndLstripBlocks",
     R"j(<start>
  {% for m in messages %}
    {{ m.role }}
  {% endfor %}
<end>
)j",
     R"j(<start>
    system
    user
    assistant
    user
<end>)j"},
    {"PlusKeepsWhitespace",
     R"j(<start>
  {%+ if true +%}
  x
  {%+ endif %}
<end>)j",
     R"j(<start>
  
  x
  <end>)j"},
    {"Comments",
     R"j(a
{# dropped #}
b {#- trimmed -#} c)j",
     R"j(a
bc)j"},
    {"TrailingNewlineDropped",
     R"j(x
)j",
     R"j(x)j"},

};

class ChatTemplateRenderTest : public ::testing::TestWithParam<RenderCase> {};

TEST_P(ChatTemplateRenderTest, MatchesJinja) {
  const RenderCase& c = GetParam();
  absl::StatusOr<ChatTemplate> parsed = ChatTemplate::Parse(c.source);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const std::vector<ChatMessage> messages = {
      {"system", "Be brief."}, {"user", "Hi"}, {"assistant", " Hello! "}, {"user", "Bye"}};
  absl::StatusOr<std::string> text = parsed->Render(messages, true, "<s>", "</s>");
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, c.expected);
}

INSTANTIATE_TEST_SUITE_P(ChatTemplate, ChatTemplateRenderTest, ::testing::ValuesIn(kRenderCases),
                         [](const ::testing::TestParamInfo<RenderCase>& info) {
                           return std::string(info.param.name);
                         });

absl::Status ParseError(const std::string& source) { return ChatTemplate::Parse(source).status(); }

absl::Status RenderError(const std::string& source) {
  absl::StatusOr<ChatTemplate> parsed = ChatTemplate::Parse(source);
  if (!parsed.ok()) return parsed.status();
  return parsed->Render({{"user", "Hi"}}, true, "<s>", "</s>").status();
}

TEST(ChatTemplateTest, SyntaxErrorsNameLineAndColumn) {
  struct {
    const char* source;
    const char* message;
  } const cases[] = {
      {"{% if %}", "line 1, column 7: unexpected end of expression"},
      {"{{ 1 + }}", "line 1, column 8: unexpected end of expression"},
      {"line one\n  {% if x %}\n {{ y +* 2 }}{% endif %}", "line 3, column 8: unexpected '*'"},
      {"ab\n{% if true %}x", "line 2, column 1: 'if' is missing its 'endif'"},
      {"{% for x in y %}\n\n{% endif %}", "line 3, column 4: unexpected 'endif'"},
      {"{% endfor %}", "line 1, column 4: unexpected 'endfor'"},
      {"{{ 'open }}", "line 1, column 4: unterminated string"},
      {"{{ 1 }", "line 1, column 1: unterminated tag"},
      {"{# open", "line 1, column 1: unterminated comment"},
      {"{% macro m() %}{% endmacro %}", "line 1, column 4: unsupported tag 'macro'"},
      {"{{ x | nosuchfilter }}", "line 1, column 8: unknown filter 'nosuchfilter'"},
      {"{{ x is nosuchtest }}", "line 1, column 9: unknown test 'nosuchtest'"},
      {"{{ a ? b }}", "line 1, column 6: unexpected character '?'"},
      {"{% set x %}{% endset %}", "line 1, column 10: expected '='"},
  };
  for (const auto& c : cases) {
    const absl::Status status = ParseError(c.source);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.source;
    EXPECT_THAT(status.message(), HasSubstr(c.message)) << c.source;
    EXPECT_THAT(status.message(), HasSubstr("chat template: ")) << c.source;
  }
}

TEST(ChatTemplateTest, RaiseExceptionReturnsTheTemplatesMessage) {
  const absl::Status status = RenderError(
      "{% if messages[0].role != 'system' %}"
      "{{ raise_exception('Conversation must start with a system message') }}"
      "{% endif %}");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "Conversation must start with a system message");
}

TEST(ChatTemplateTest, RenderErrors) {
  struct {
    const char* source;
    const char* message;
  } const cases[] = {
      {"{{ foo.bar }}", "line 1, column 4: 'foo' is undefined"},
      {"{{ foo + 1 }}", "'foo' is undefined"},
      {"{{ messages[0].missing.x }}", "'missing' is undefined"},
      {"{{ nosuchfunc() }}", "unknown function 'nosuchfunc'"},
      {"{{ 'a'.nomethod() }}", "'str' object has no method 'nomethod'"},
      {"{{ 1 / 0 }}", "division by zero"},
      {"{{ 'a' < 1 }}", "'<' not supported between 'str' and 'int'"},
      {"{{ 3 in 4 }}", "argument of type 'int' is not iterable"},
      {"{{ undefined_thing|tojson }}", "tojson: the value is undefined"},
      {"{% for a, b in [1, 2] %}{% endfor %}", "cannot unpack"},
  };
  for (const auto& c : cases) {
    const absl::Status status = RenderError(c.source);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.source;
    EXPECT_THAT(status.message(), HasSubstr(c.message)) << c.source;
  }
}

TEST(ChatTemplateTest, UndefinedVariablesAreFalsyAndPrintEmpty) {
  absl::StatusOr<ChatTemplate> parsed = ChatTemplate::Parse(
      "[{{ tools }}]{% if tools %}T{% endif %}{% for t in tools %}x{% endfor %}"
      "{{ tools is none }}{{ tools is defined }}");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed->Render({}, false, "", ""), "[]FalseFalse");
  // None is defined but, as in Jinja, not iterable.
  EXPECT_FALSE(parsed->Render({}, false, "", "", R"({"tools": null})").ok());
  parsed = ChatTemplate::Parse("[{{ tools }}]{% if tools %}T{% endif %}{{ tools is none }}");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed->Render({}, false, "", "", R"({"tools": null})"), "[None]True");
}

TEST(ChatTemplateTest, BosAndEosTokens) {
  absl::StatusOr<ChatTemplate> parsed = ChatTemplate::Parse(
      "{{ bos_token }}{% for m in messages %}[INST] {{ m.content }} [/INST]{% endfor %}"
      "{% if not add_generation_prompt %}{{ eos_token }}{% endif %}");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed->Render({{"user", "Hi"}}, true, "<s>", "</s>"), "<s>[INST] Hi [/INST]");
  EXPECT_EQ(*parsed->Render({{"user", "Hi"}}, false, "<s>", "</s>"), "<s>[INST] Hi [/INST]</s>");
}

TEST(ChatTemplateTest, ExtraVariablesMustBeAJsonObject) {
  absl::StatusOr<ChatTemplate> parsed = ChatTemplate::Parse("x");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->Render({}, false, "", "", "[1]").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(parsed->Render({}, false, "", "", "{not json").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace hymba::engine
