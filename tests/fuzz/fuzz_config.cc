// config.json of every architecture r1 runs: parsing, validation, the checkpoint layout and the
// parameter counts derived from it (sizes that must not overflow into nonsense).
#include <cstdint>
#include <string_view>

#include "core/json_util.h"
#include "fuzz_util.h"
#include "io/model_config.h"
#include "io/tensor_table.h"
#include "models/param_count.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  r1::fuzz::expect_input_errors([&] {
    const auto j =
        r1::parse_json(std::string_view(reinterpret_cast<const char*>(data), size), "config.json");
    const r1::io::ModelConfig c = r1::io::ModelConfig::parse(j, "config.json");
    r1::fuzz::check(c.vocab > 0 && c.hidden > 0 && c.n_layers > 0, "validated sizes");
    (void)r1::models::count_params(c, 2);
    for (const auto& spec : r1::io::tensor_table(c, true))
      for (int64_t d : spec.shape) r1::fuzz::check(d >= 0, "non-negative tensor dims");
  });
  return 0;
}
