// r1 generate: text completion (or one chat turn with --chat) from a prompt, streamed to stdout.
#include <csignal>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/common.h"
#include "core/error.h"
#include "models/deepseek_v3.h"
#include "runtime/generator.h"
#include "runtime/speculative.h"
#include "tokenizer/template/chat_template.h"
#include "tokenizer/template/reasoning.h"

namespace r1::cli {
namespace {

using nlohmann::json;

int run_generate(Args& args) {
  std::optional<std::string> prompt = args.take("--prompt", "-p");
  int64_t max_tokens = args.take_int("--max-tokens", 256, 0, kMaxTokens, "-n");
  int64_t samples = args.take_int("--samples", 1, 1, kMaxBatch);
  std::optional<std::string> stop = args.take("--stop");
  bool as_json = args.take_bool("--json");
  bool chat = args.take_bool("--chat");
  std::string speculative = args.take_str("--speculative", "");
  std::optional<std::string> system = args.take("--system");
  tmpl::ChatOptions chat_opt;
  chat_opt.keep_system = args.take_bool("--keep-system");
  runtime::SamplingParams sp = take_sampling(args);
  const DType kv_dtype = take_kv_dtype(args, DType::F32);
  LoadedModel lm = load_model_from_flags(args);
  args.finish();
  if (!lm.tokenizer) fail_input(lm.dir, ": no tokenizer.json; r1 generate needs one");
  if (stop && stop->empty()) fail_usage("--stop needs a non-empty string");
  if ((system || chat_opt.keep_system) && !chat)
    fail_usage("--system and --keep-system need --chat");
  std::string text = prompt ? *prompt : read_stdin();
  std::vector<int32_t> ids;
  if (chat) {
    json msgs = json::array();
    if (system) msgs.push_back({{"role", "system"}, {"content", *system}});
    msgs.push_back({{"role", "user"}, {"content", text}});
    // The template writes BOS and the role markers itself.
    ids = lm.tokenizer->encode(tmpl::ChatTemplate::load(lm.dir).render(msgs, chat_opt), false);
  } else {
    ids = lm.tokenizer->encode(text, true);
  }
  if (ids.empty()) fail_usage("the prompt is empty");

  // One prompt, prefilled once: sample i draws with seed + i (reproducible on its own).
  std::vector<runtime::GenRequest> reqs(1);
  runtime::GenRequest& r = reqs[0];
  r.prompt = ids;
  r.sampling = sp;
  r.max_tokens = max_tokens;
  r.n = samples;
  if (stop) r.stop = {*stop};
  if (!speculative.empty() && speculative != "mtp")
    fail_usage("--speculative takes 'mtp', got '", speculative, "'");
  if (!speculative.empty() && samples != 1) fail_usage("--speculative runs one sample at a time");
  if (!speculative.empty() && kv_dtype != DType::F32)
    fail_usage("--speculative runs with an f32 KV cache");
  runtime::Generator gen(*lm.model, &*lm.tokenizer, lm.eos_ids, kv_dtype);
  const bool stream = !as_json && samples == 1;
  runtime::TextCallback print = [](size_t, const std::string& delta) {
    std::fwrite(delta.data(), 1, delta.size(), stdout);
    std::fflush(stdout);
  };
  std::vector<runtime::GenOutput> outs;
  runtime::SpeculativeStats spec;
  if (!speculative.empty()) {
    auto* ds = dynamic_cast<models::DeepseekV3Model*>(lm.model.get());
    if (!ds) fail_usage("--speculative mtp needs a DeepSeek-V3 checkpoint");
    outs.push_back(runtime::generate_mtp_speculative(
        *ds, &*lm.tokenizer, lm.eos_ids, reqs[0], &spec, stream ? print : runtime::TextCallback()));
  } else {
    outs = gen.run(reqs, stream ? print : runtime::TextCallback());
  }
  if (stream) {
    std::printf("\n");
  } else {
    for (const auto& o : outs) {
      json j = {{"text", o.text},
                {"tokens", o.tokens},
                {"finish_reason", o.finish_reason},
                {"prompt_tokens", o.prompt_tokens}};
      if (chat) {
        tmpl::ReasoningSplit split = tmpl::split_reasoning(o.text);
        j["reasoning"] = split.reasoning;
        j["content"] = split.content;
      }
      std::cout << j.dump() << "\n";
    }
  }
  if (!speculative.empty()) {
    std::fprintf(stderr,
                 "[speculative mtp: %lld of %lld drafts accepted (%.1f%%), %.2f tokens per step, "
                 "%.1f tok/s]\n",
                 static_cast<long long>(spec.accepted), static_cast<long long>(spec.drafted),
                 100 * spec.acceptance_rate(),
                 spec.steps ? static_cast<double>(outs[0].tokens.size()) / spec.steps : 0.0,
                 spec.seconds > 0 ? outs[0].tokens.size() / spec.seconds : 0.0);
    return 0;
  }
  const auto& st = gen.stats();
  std::fprintf(stderr, "[prefill %lld tokens, %.1f tok/s; decode %lld tokens, %.1f tok/s]\n",
               static_cast<long long>(st.prefill_tokens),
               st.prefill_seconds > 0 ? st.prefill_tokens / st.prefill_seconds : 0.0,
               static_cast<long long>(st.decode_tokens),
               st.decode_seconds > 0 ? st.decode_tokens / st.decode_seconds : 0.0);
  return 0;
}

R1_COMMAND({"generate",
            "generate text from a prompt",
            "usage: r1 generate [-m DIR] [-p TEXT] [flags]\n"
            "  -p, --prompt TEXT    the prompt (default: read stdin)\n"
            "  --chat               send the prompt as a user turn through the chat template\n"
            "                       (--json then splits the output into reasoning and content)\n"
            "  --system TEXT        with --chat: a system prompt (folded into the user turn, as\n"
            "                       R1 recommends, unless --keep-system)\n"
            "  --keep-system        with --chat: render the chat template exactly as given\n"
            "  -n, --max-tokens N   new tokens at most (default 256)\n"
            "  --samples K          K independent samples, decoded as one batch (default 1)\n"
            "  --stop S             stop before the text S\n"
            "  --json               print one JSON object per sample instead of streaming\n"
            "  --speculative mtp    DeepSeek-V3: draft with the MTP layer, verify with the model\n"
            "                       (same output distribution; greedy output identical)\n"
            "  --kv-dtype f32|bf16  the KV cache's rows (default f32, exact; bf16 as r1 serve)\n",
            {"--json", "--mmap", "--no-mmap", "--fast-bf16", "--exact", "--chat", "--keep-system"},
            run_generate,
            kModelFlags | kSamplingFlags});

}  // namespace
}  // namespace r1::cli
