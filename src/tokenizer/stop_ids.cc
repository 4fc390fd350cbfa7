#include "tokenizer/stop_ids.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_util.h"
#include "core/json_util.h"

namespace r1::tok {

std::vector<int32_t> stop_ids(const std::string& dir, const io::ModelConfig& cfg,
                              const Tokenizer* tk) {
  std::vector<int32_t> ids = cfg.eos_token_ids;
  const std::string gen = path_join(dir, "generation_config.json");
  if (file_exists(gen)) {
    const nlohmann::json j = read_json_file(gen);
    if (j.is_object() && j.contains("eos_token_id") && !j["eos_token_id"].is_null()) {
      const nlohmann::json& e = j["eos_token_id"];
      for (const auto& x : e.is_array() ? e : nlohmann::json::array({e})) {
        if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() >= cfg.vocab)
          fail_input(gen, ": eos_token_id ", x.dump(), " is not a token id (vocab_size ", cfg.vocab,
                     ")");
        ids.push_back(static_cast<int32_t>(x.get<int64_t>()));
      }
    }
  }
  if (tk && tk->eos_id() >= 0) ids.push_back(tk->eos_id());
  return ids;
}

}  // namespace r1::tok
