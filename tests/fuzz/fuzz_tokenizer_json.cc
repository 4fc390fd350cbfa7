// tokenizer.json (+ a tokenizer_config.json after a NUL byte): loading, then encoding and
// decoding a fixed mixed-script text with whatever was loaded.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t nul = in.find('\0');
  const std::string_view json = in.substr(0, nul);
  const std::string_view config = nul == std::string_view::npos ? "" : in.substr(nul + 1);
  r1::fuzz::expect_input_errors([&] {
    const r1::tok::Tokenizer t = r1::tok::Tokenizer::from_json(json, config, "fuzz");
    for (bool special : {false, true}) {
      const auto ids = t.encode("Hello, world! 12345 héllo 世界 <think>x</think>\n\t", special);
      for (int32_t id : ids) r1::fuzz::check(id >= 0 && id < t.vocab_size(), "ids in range");
      (void)t.decode(ids, special);
      r1::tok::StreamDecoder stream(t, special);
      std::string streamed;
      for (int32_t id : ids) streamed += stream.push(id);
      streamed += stream.flush();
      r1::fuzz::check(streamed == t.decode(ids, special), "streaming decode equals decode");
    }
  });
  return 0;
}
