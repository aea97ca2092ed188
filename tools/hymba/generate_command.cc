// hymba generate: streams a completion of a prompt (text or token ids) to stdout.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

#include "engine/base/status_macros.h"
#include "engine/model/tokenizer.h"
#include "scheduler/engine_loop.h"
#include "scheduler/sampler.h"
#include "scheduler/text_output.h"
#include "tools/hymba/commands.h"
#include "tools/hymba/json_output.h"

namespace hymba::tools {
namespace {

// --temperature, --top-k, --top-p, --min-p, --repetition-penalty, --seed.
absl::StatusOr<scheduler::SamplingParams> SamplingFromArgs(CliArgs& args) {
  scheduler::SamplingParams sampling;
  HY_ASSIGN_OR_RETURN(double temperature, args.DoubleOr("temperature", 0.0));
  HY_ASSIGN_OR_RETURN(sampling.top_k, args.IntOr("top-k", 0));
  HY_ASSIGN_OR_RETURN(double top_p, args.DoubleOr("top-p", 1.0));
  HY_ASSIGN_OR_RETURN(double min_p, args.DoubleOr("min-p", 0.0));
  HY_ASSIGN_OR_RETURN(double repetition, args.DoubleOr("repetition-penalty", 1.0));
  HY_ASSIGN_OR_RETURN(int seed, args.IntOr("seed", 0));
  sampling.temperature = static_cast<float>(temperature);
  sampling.top_p = static_cast<float>(top_p);
  sampling.min_p = static_cast<float>(min_p);
  sampling.repetition_penalty = static_cast<float>(repetition);
  sampling.seed = static_cast<uint64_t>(seed);
  return sampling;
}

// --prompt TEXT (encoded, BOS as the tokenizer config says) or --tokens IDS (as given).
absl::StatusOr<std::vector<int32_t>> PromptFromArgs(CliArgs& args,
                                                    const engine::Tokenizer& tokenizer) {
  if (args.Has("prompt") == args.Has("tokens"))
    return absl::InvalidArgumentError("give exactly one of --prompt and --tokens");
  std::vector<int> ids;
  if (args.Has("prompt")) {
    HY_ASSIGN_OR_RETURN(std::string text, args.String("prompt"));
    HY_ASSIGN_OR_RETURN(ids, tokenizer.Encode(text, /*add_special=*/true));
    if (ids.empty()) return absl::InvalidArgumentError("--prompt: encodes to no tokens");
  } else {
    HY_ASSIGN_OR_RETURN(ids, args.IntList("tokens"));
  }
  return std::vector<int32_t>(ids.begin(), ids.end());
}

}  // namespace

absl::Status RunGenerate(CliArgs& args) {
  HY_ASSIGN_OR_RETURN(engine::EngineOptions options, EngineOptionsFromArgs(args, "auto", 1));
  HY_ASSIGN_OR_RETURN(int max_tokens, args.IntOr("max-tokens", 64));
  HY_ASSIGN_OR_RETURN(scheduler::SamplingParams sampling, SamplingFromArgs(args));
  std::vector<std::string> stops;
  if (args.Has("stop")) stops.push_back(args.StringOr("stop", ""));
  HY_RETURN_IF_ERROR(scheduler::StopStringMatcher::Validate(stops));
  const bool json = args.Flag("json");
  const bool from_text = args.Has("prompt");
  scheduler::Request request;
  request.id = 1;
  request.stop.ignore_eos = args.Flag("ignore-eos");
  request.stop.max_tokens = max_tokens;
  if (max_tokens <= 0) return absl::InvalidArgumentError("--max-tokens: must be > 0");
  HY_ASSIGN_OR_RETURN(auto tokenizer, engine::Tokenizer::Load(options.model_dir));
  HY_ASSIGN_OR_RETURN(request.prompt, PromptFromArgs(args, *tokenizer));
  HY_RETURN_IF_ERROR(args.Finish());
  if (options.max_seq_len == 0)
    options.max_seq_len = static_cast<int>(request.prompt.size()) + max_tokens;
  // The same path a server request takes: the engine loop thread (which also builds the
  // engine), the scheduler, a token stream.
  HY_ASSIGN_OR_RETURN(auto loop, StartEngineLoop(options, /*max_queue=*/1));
  HY_RETURN_IF_ERROR(scheduler::ValidateSamplingParams(sampling, loop->info().vocab_size));
  request.sampling = sampling;
  std::shared_ptr<scheduler::TokenStream> stream = loop->Submit(std::move(request));

  scheduler::TextOutput output(*tokenizer, /*strip_leading_space=*/!from_text, stops);
  std::vector<int> generated;
  std::string text;
  auto emit = [&](const std::string& piece) {
    text += piece;
    if (!json) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    }
  };
  scheduler::StreamItem item;
  while (stream->Next(&item)) {
    if (!item.status.ok()) return item.status;
    emit(output.Push(item.tokens));
    // After a stop string, only the tokens up to the one completing it count as generated.
    const int keep = output.stopped()
                         ? output.accepted_tokens() - static_cast<int>(generated.size())
                         : static_cast<int>(item.tokens.size());
    generated.insert(generated.end(), item.tokens.begin(), item.tokens.begin() + keep);
    if (output.stopped()) loop->Cancel(1);
  }
  emit(output.Finish());
  if (json) {
    const std::string line = TokensTextJson(generated, text);
    std::fwrite(line.data(), 1, line.size(), stdout);
  } else {
    std::fputc('\n', stdout);
  }
  return absl::OkStatus();
}

}  // namespace hymba::tools
