// config.json parsing: the real field names of Qwen2 and Llama configs, and errors that name
// the field.
#include "io/model_config.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace r1::io {
namespace {

using nlohmann::json;

json qwen_1_5b() {
  // DeepSeek-R1-Distill-Qwen-1.5B's config.json (docs/FACTS.md section 1).
  return json::parse(R"({"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
    "hidden_size": 1536, "intermediate_size": 8960, "num_hidden_layers": 28,
    "num_attention_heads": 12, "num_key_value_heads": 2, "vocab_size": 151936,
    "max_position_embeddings": 131072, "rope_theta": 10000, "rms_norm_eps": 1e-06,
    "tie_word_embeddings": false, "torch_dtype": "bfloat16", "bos_token_id": 151643,
    "eos_token_id": 151643, "rope_scaling": null})");
}

std::string error_of(const json& j) {
  try {
    ModelConfig::parse(j, "config.json");
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Input);
    return e.what();
  }
  return "";
}

TEST(ModelConfig, Qwen2) {
  ModelConfig c = ModelConfig::parse(qwen_1_5b(), "config.json");
  EXPECT_EQ(c.arch, Arch::Qwen2);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.n_kv_heads, 2);
  EXPECT_TRUE(c.attention_bias);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.eos_token_ids, std::vector<int32_t>{151643});
  EXPECT_EQ(c.rope_scaling.type, "");
}

TEST(ModelConfig, LlamaWithLlama3Rope) {
  json j = json::parse(R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 4096,
    "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
    "num_key_value_heads": 8, "vocab_size": 128256, "rope_theta": 500000.0,
    "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
      "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    "eos_token_id": [128001, 128008, 128009], "head_dim": 128})");
  ModelConfig c = ModelConfig::parse(j, "config.json");
  EXPECT_EQ(c.arch, Arch::Llama);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_EQ(c.rope_scaling.type, "llama3");
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_EQ(c.eos_token_ids.size(), 3u);
}

TEST(ModelConfig, Errors) {
  json j = qwen_1_5b();
  j["architectures"] = {"MambaForCausalLM"};
  EXPECT_NE(error_of(j).find("unsupported architecture 'MambaForCausalLM'"), std::string::npos);
  j = qwen_1_5b();
  j.erase("hidden_size");
  EXPECT_NE(error_of(j).find("missing field hidden_size"), std::string::npos);
  j = qwen_1_5b();
  j["num_key_value_heads"] = 5;
  EXPECT_NE(error_of(j).find("not a multiple of num_key_value_heads"), std::string::npos);
  j = qwen_1_5b();
  j["vocab_size"] = "many";
  EXPECT_NE(error_of(j).find("vocab_size must be an integer"), std::string::npos);
  j = qwen_1_5b();
  j["rope_scaling"] = {{"type", "dynamic"}, {"factor", 2.0}};
  EXPECT_NE(error_of(j).find("unsupported rope type 'dynamic'"), std::string::npos);
  j = qwen_1_5b();
  j["num_hidden_layers"] = 0;
  EXPECT_NE(error_of(j).find("num_hidden_layers must be positive"), std::string::npos);
  // Found by fuzz_config: string fields of the wrong JSON type were a library exception.
  for (const char* key : {"model_type", "torch_dtype", "hidden_act"}) {
    j = qwen_1_5b();
    j[key] = 7;
    EXPECT_NE(error_of(j).find(std::string(key) + " must be a string"), std::string::npos) << key;
  }
}

}  // namespace
}  // namespace r1::io
