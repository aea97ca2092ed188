// hymba: command-line tools around the engine (logits, generate, bench) and a running server
// (client, loadgen, health).
#include <spdlog/spdlog.h>

#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "tools/hymba/commands.h"

namespace {

constexpr char kUsage[] =
    "usage: hymba <command> [options]\n"
    "  logits   --model DIR --tokens 1,5,9 [--all] [--precision f32|bf16|auto] [--threads N]\n"
    "  generate --model DIR (--prompt TEXT | --tokens IDS) --max-tokens N [--temperature T]\n"
    "           [--top-k K] [--top-p P] [--min-p P] [--repetition-penalty R] [--seed S]\n"
    "           [--stop TEXT] [--json] [--ignore-eos] [--precision P] [--threads N]\n"
    "  (every command: --precision f32|bf16|auto --threads N --device auto|cpu|cuda\n"
    "   --max-slots S --max-seq-len L --kv-cache f32|bf16 --prefill-gemm default|fp16)\n"
    "  bench    --model DIR --batch B --prompt-len P --gen-len G [--precision P] [--threads N]\n"
    "  bench    --model DIR --requests R --concurrency C --prompt-len P --gen-len G  (serving)\n"
    "  bench    --model DIR --batch 1,32,128 --context 1024,8192 [--gen-len G] [--prefill-seqs P]\n"
    "           [--prefill-chunk T]  (batch x context matrix, one engine)\n"
    "  client   [--address localhost:50051] (--prompt TEXT | --tokens IDS) [--max-tokens N]\n"
    "           [--chat [--system TEXT]] [--unary] [--json] [--temperature T] [--seed S] ...\n"
    "  loadgen  [--address localhost:50051] (--concurrency C | --rate R [--max-concurrency M])\n"
    "           (--requests N | --duration-s S) [--prompt-len L] [--output-len L] [--seed S]\n"
    "           [--temperature T] [--timeout-s T] [--warmup N] [--json FILE|-]\n"
    "           (L: 128 | 64:256 uniform | normal:128,32)\n"
    "  health   [--address localhost:50051] [--service NAME] [--timeout-s T]\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "help") {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  spdlog::set_level(spdlog::level::warn);
  const std::string command = argv[1];
  std::vector<std::string> rest(argv + 2, argv + argc);
  // loadgen's --json takes a value (a file, or - for stdout); generate's is a flag.
  auto args = hymba::tools::CliArgs::Parse(
      rest, command == "loadgen"
                ? std::set<std::string>{"verbose"}
                : std::set<std::string>{"all", "json", "verbose", "ignore-eos", "chat", "unary"});
  absl::Status status;
  if (!args.ok()) {
    status = args.status();
  } else {
    if (args->Flag("verbose")) spdlog::set_level(spdlog::level::info);
    if (command == "logits") {
      status = hymba::tools::RunLogits(*args);
    } else if (command == "generate") {
      status = hymba::tools::RunGenerate(*args);
    } else if (command == "bench") {
      status = hymba::tools::RunBench(*args);
    } else if (command == "client") {
      status = hymba::tools::RunClient(*args);
    } else if (command == "loadgen") {
      status = hymba::tools::RunLoadgen(*args);
    } else if (command == "health") {
      status = hymba::tools::RunHealth(*args);
    } else {
      std::fprintf(stderr, "hymba: unknown command '%s'\n%s", command.c_str(), kUsage);
      return 2;
    }
  }
  if (!status.ok()) {
    std::fflush(stdout);
    std::fprintf(stderr, "hymba %s: %s\n", command.c_str(), std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
