// Encoding arbitrary bytes with a real tokenizer (Llama 3.1's: byte-level BPE, no normalizer), and
// the properties that must hold for every input: ids in range, decode(encode(text)) == text for
// valid UTF-8 (invalid bytes are repaired first, and decode's clean-up of " 's" and the like
// applied, as Hugging Face does), streaming decode equals decode.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const r1::tok::Tokenizer t =
      r1::tok::Tokenizer::load(std::string(R1_TOKENIZERS_DIR) + "/llama3.1");
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  r1::fuzz::expect_input_errors([&] {
    const auto ids = t.encode(text, false);
    for (int32_t id : ids) r1::fuzz::check(id >= 0 && id < t.vocab_size(), "ids in range");
    const std::string back = t.decode(ids, false);
    // Llama 3.1's tokenizer_config sets clean_up_tokenization_spaces, which decode applies.
    const std::string repaired = r1::tok::repair_utf8(text);
    r1::fuzz::check(back == (t.clean_up_spaces() ? r1::tok::clean_up_tokenization(repaired)
                                                 : repaired),
                    "decode(encode(text)) == text");
    r1::tok::StreamDecoder stream(t, false);
    std::string streamed;
    for (int32_t id : ids) streamed += stream.push(id);
    streamed += stream.flush();
    r1::fuzz::check(streamed == back, "streaming decode equals decode");
  });
  return 0;
}
