// LoRA adapters: a new adapter changes nothing, a trained one equals its merge into the weights,
// the PEFT files round-trip, and training moves only the adapters.
#include "models/lora.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "../common/temp_path.h"
#include "core/error.h"
#include "core/file_util.h"
#include "models/model.h"
#include "ops/ops.h"
#include "train/trainer.h"

namespace r1::models {
namespace {

namespace fs = std::filesystem;
const std::string kModel = std::string(R1_SOURCE_DIR) + "/tests/fixtures/models/qwen2-f32";

// Final hidden states of one sequence.
Tensor hidden(Model& m, const std::vector<int32_t>& ids) {
  Batch b;
  for (size_t t = 0; t < ids.size(); ++t) b.add(ids[t], static_cast<int32_t>(t), 0, false);
  return m.final_hidden(b);
}

double max_diff(const Tensor& a, const Tensor& b) {
  double d = 0;
  for (int64_t i = 0; i < a.numel(); ++i)
    d = std::max(d, static_cast<double>(std::fabs(a.ptr<float>()[i] - b.ptr<float>()[i])));
  return d;
}

// Adapters with random (nonzero) B, as after training.
std::shared_ptr<LoraAdapters> trained_adapters(Model& m) {
  auto ad = LoraAdapters::create(m, LoraConfig{4, 8, {"q_proj", "v_proj", "down_proj"}}, 1);
  uint64_t x = 7;
  for (auto& [name, t] : ad->slots())
    if (name.find("lora_B") != std::string::npos)
      for (int64_t i = 0; i < t->numel(); ++i) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        t->ptr<float>()[i] =
            static_cast<float>(static_cast<double>(x >> 40) / (1 << 24) - 0.5) * 0.2f;
      }
  return ad;
}

const std::vector<int32_t> kIds = {3, 17, 250, 9, 42, 101, 7};

TEST(Lora, NewAdapterChangesNothing) {
  auto m = load_model(kModel);
  const Tensor before = hidden(*m, kIds);
  m->set_lora(LoraAdapters::create(*m, LoraConfig{}, 3));
  EXPECT_EQ(max_diff(before, hidden(*m, kIds)), 0.0);
  // Seven targets on each of the two layers, an A and a B each.
  EXPECT_EQ(m->lora()->parameters().size(), 2u * 7 * 2);
}

TEST(Lora, AdapterEqualsItsMerge) {
  auto m = load_model(kModel);
  auto ad = trained_adapters(*m);
  m->set_lora(ad);
  const Tensor with_adapter = hidden(*m, kIds);
  LoadOptions lo;
  lo.trainable = true;
  auto merged = load_model(kModel, lo);
  const Tensor base = hidden(*merged, kIds);
  // The adapter moves the output; merging it into the weights gives the same output.
  EXPECT_GT(max_diff(with_adapter, base), 1e-3);
  auto ad2 = LoraAdapters::create(*merged, ad->config(), 1);
  for (size_t i = 0; i < ad->slots().size(); ++i) *ad2->slots()[i].second = *ad->slots()[i].second;
  merge_lora(*merged, *ad2);
  EXPECT_LT(max_diff(with_adapter, hidden(*merged, kIds)), 2e-5);
}

TEST(Lora, PeftFilesRoundTrip) {
  auto m = load_model(kModel);
  auto ad = trained_adapters(*m);
  const fs::path dir = r1::testing::fresh_temp_dir("r1_lora_peft_");
  ad->save(dir.string(), "qwen2-f32");
  const auto cfg = nlohmann::json::parse(read_file((dir / "adapter_config.json").string()));
  EXPECT_EQ(cfg["peft_type"], "LORA");
  EXPECT_EQ(cfg["r"], 4);
  EXPECT_EQ(cfg["lora_alpha"], 8.0);
  EXPECT_EQ(cfg["target_modules"], nlohmann::json({"q_proj", "v_proj", "down_proj"}));
  auto loaded = LoraAdapters::load(*m, dir.string());
  const auto a = ad->parameters(), b = loaded->parameters();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_EQ(max_diff(a[i].second, b[i].second), 0.0) << a[i].first;
  }
  EXPECT_EQ(a[0].first, "base_model.model.model.layers.0.mlp.down_proj.lora_A.weight");
  // An adapter for another model is refused, naming the file.
  auto other = load_model(std::string(R1_SOURCE_DIR) + "/tests/fixtures/models/qwen2-f16");
  try {
    LoraAdapters::load(*other, dir.string());
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("adapter_model.safetensors"), std::string::npos)
        << e.what();
  }
}

TEST(Lora, TrainingMovesOnlyTheAdapters) {
  auto m = load_model(kModel);  // f32 weights, not made trainable: frozen
  auto ad = LoraAdapters::create(*m, LoraConfig{}, 5);
  m->set_lora(ad);
  const auto base_before = m->parameters(true);
  std::vector<Tensor> copies;
  for (const auto& [n, t] : base_before) {
    Tensor c = Tensor::zeros(t.dtype, t.shape);
    std::memcpy(c.data, t.data, t.nbytes());
    copies.push_back(c);
  }
  train::TrainerConfig tc;
  tc.schedule = {1e-2, 0, 10, 1.0};
  train::Trainer tr(*m, tc, ad->parameters());
  train::Example e;
  e.ids = kIds;
  e.mask.assign(kIds.size() - 1, 1);
  const double first = tr.step({{&e}}).loss;
  for (int s = 0; s < 4; ++s) tr.step({{&e}});
  EXPECT_LT(tr.step({{&e}}).loss, first);  // the adapters learn
  for (size_t i = 0; i < base_before.size(); ++i)
    EXPECT_EQ(max_diff(base_before[i].second, copies[i]), 0.0) << base_before[i].first;
}

}  // namespace
}  // namespace r1::models
