// Chat templates (untrusted: they come with a downloaded model and render every request): any
// source must parse and render within the render budget or fail with an Input error.
#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "tokenizer/template/template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace r1::tmpl;
  static const auto messages = from_json(nlohmann::ordered_json::parse(
      R"([{"role": "system", "content": "S"}, {"role": "user", "content": "U <b>"},
          {"role": "assistant", "content": "<think>r</think>A", "tool_calls": [{"type":
           "function", "function": {"name": "f", "arguments": "{\"x\": 1}"}}]},
          {"role": "tool", "content": "T"}, {"role": "user", "content": "again"}])"));
  const std::string source(reinterpret_cast<const char*>(data), size);
  r1::fuzz::expect_input_errors([&] {
    const Template t = Template::parse(source);
    RenderLimits limits;  // smaller than the default, so the fuzzer spends its time elsewhere
    limits.max_steps = 200000;
    limits.max_bytes = 8 << 20;
    (void)t.render({{"messages", messages},
                    {"add_generation_prompt", Value::boolean(true)},
                    {"bos_token", Value::string("<s>")},
                    {"eos_token", Value::string("</s>")},
                    {"tools", Value::none()}},
                   limits);
  });
  return 0;
}
