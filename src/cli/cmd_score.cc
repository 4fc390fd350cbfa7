// r1 score: per-token log-probabilities. Input (stdin): one JSON object, or with --jsonl one
// per line, holding "ids" (token ids) or "text" (encoded with the tokenizer, special tokens such
// as BOS added as the tokenizer's configuration says). Output: {"ids": [...], "logprobs": [...]}
// where logprobs[j] = log p(ids[j+1] | ids[0..j]); the first token has none.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/common.h"
#include "core/error.h"
#include "runtime/score.h"

namespace r1::cli {
namespace {

using nlohmann::json;

std::vector<int32_t> input_ids(const json& j, const LoadedModel& lm, const std::string& where) {
  if (!j.is_object()) fail_input(where, ": expected a JSON object with \"ids\" or \"text\"");
  std::vector<int32_t> ids;
  if (j.contains("ids") && j.contains("text"))
    fail_input(where, ": give \"ids\" or \"text\", not both");
  if (j.contains("ids")) {
    if (!j["ids"].is_array()) fail_input(where, ": \"ids\" must be an array of token ids");
    for (const json& x : j["ids"]) {
      if (!x.is_number_integer()) fail_input(where, ": \"ids\" holds a non-integer ", x.dump());
      int64_t v = x.get<int64_t>();
      if (v < 0 || v >= lm.model->config().vocab)
        fail_input(where, ": token id ", v, " is outside the vocabulary of ",
                   lm.model->config().vocab);
      ids.push_back(static_cast<int32_t>(v));
    }
  } else if (j.contains("text")) {
    if (!j["text"].is_string()) fail_input(where, ": \"text\" must be a string");
    if (!lm.tokenizer) fail_input(where, ": \"text\" needs a tokenizer.json in ", lm.dir);
    ids = lm.tokenizer->encode(j["text"].get<std::string>(), true);
  } else {
    fail_input(where, ": expected \"ids\" or \"text\"");
  }
  if (ids.empty()) fail_input(where, ": no tokens to score");
  return ids;
}

int run_score(Args& args) {
  bool jsonl = args.take_bool("--jsonl");
  bool mtp = args.take_bool("--mtp");
  LoadedModel lm = load_model_from_flags(args, /*fast_bf16_default=*/false);
  args.finish();
  auto handle = [&](const std::string& text, const std::string& where) {
    json in;
    try {
      in = json::parse(text);
    } catch (const json::exception& e) {
      fail_input(where, ": not valid JSON: ", e.what());
    }
    std::vector<int32_t> ids = input_ids(in, lm, where);
    json out = {{"ids", ids}};
    if (mtp) {
      runtime::MtpScores s = runtime::score_tokens_mtp(*lm.model, ids);
      out["logprobs"] = s.logprobs;
      out["mtp_logprobs"] = s.mtp_logprobs;
    } else {
      out["logprobs"] = runtime::score_tokens(*lm.model, ids);
    }
    std::cout << out.dump() << "\n" << std::flush;
  };
  if (jsonl) {
    std::string line;
    for (int64_t n = 1; std::getline(std::cin, line); ++n) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      handle(line, "stdin line " + std::to_string(n));
    }
  } else {
    handle(read_stdin(), "stdin");
  }
  return 0;
}

R1_COMMAND(
    {"score",
     "per-token log-probabilities of given text or ids (JSON in and out)",
     "usage: r1 score -m DIR [--jsonl] < input\n"
     "  stdin: {\"ids\": [...]} or {\"text\": \"...\"}; with --jsonl one object per line\n"
     "  stdout: {\"ids\": [...], \"logprobs\": [...]} (log p of each token after the first)\n"
     "  --jsonl              read and write one JSON object per line\n"
     "  --mtp                also \"mtp_logprobs\": the DeepSeek-V3 MTP head's log p of\n"
     "                       ids[j+2] given ids[0..j+1], for j = 0 .. len(ids)-3\n",
     {"--jsonl", "--mmap", "--no-mmap", "--fast-bf16", "--exact", "--mtp"},
     run_score,
     kModelFlags});

}  // namespace
}  // namespace r1::cli
