// Hugging Face model folders written by training, and resumable training checkpoints.
//   A model folder: config.json, model.safetensors, tokenizer files, generation_config.json;
//   `r1 generate` and other tools load it unchanged.
//   A checkpoint: OUT/checkpoints/step-NNNNNNN/, a model folder (f32 master weights) plus
//   optimizer.safetensors (AdamW moments) and trainer_state.json (step, data position, settings).
// Every folder is written under a temporary name and renamed into place when complete, so an
// interrupted save leaves the previous checkpoint intact and never a partial one.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace r1::models {
class Model;
class LoraAdapters;
struct LoraConfig;
}  // namespace r1::models

namespace r1::train {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// The non-weight files of a model folder that exist in `dir` (config, generation config,
// tokenizer files, chat template), by file name.
std::map<std::string, std::string> model_side_files(const std::string& dir);

// Writes the new folder `dir` as a whole: text files and safetensors files (tensors converted
// to `dtype`: F32 or BF16; config.json's torch_dtype is set to match). Built in "<dir>.tmp",
// synced to disk, then renamed into place. An existing `dir` is a Usage error (never replaced).
void write_folder(const std::string& dir, std::map<std::string, std::string> files,
                  const std::map<std::string, NamedTensors>& tensor_files, DType dtype);

// Writes the model files into `dir` (which may hold other things, e.g. checkpoints/), each file
// atomically (temp file + rename), model.safetensors last, then syncs them.
void write_model_files(const std::string& dir, std::map<std::string, std::string> files,
                       const NamedTensors& tensors, DType dtype);

std::string checkpoint_dir(const std::string& out_dir, int64_t step);
// The complete checkpoint with the highest step under out_dir/checkpoints, if any.
std::optional<std::string> latest_checkpoint(const std::string& out_dir);
// Removes all but the newest `keep` complete checkpoints (keep >= 1) and leftover temporary
// folders of interrupted saves.
void prune_checkpoints(const std::string& out_dir, int keep);

// LoRA training: the adapters of checkpoint `latest` when resuming, else new ones (seeded),
// attached to `model`.
std::shared_ptr<models::LoraAdapters> attach_lora(models::Model& model,
                                                  const std::optional<std::string>& latest,
                                                  const models::LoraConfig& config, uint64_t seed);

// The trained weights of a checkpoint into `files` / `tensors`: with adapters, the PEFT adapter
// folder (its config naming `base_dir`); without, model.safetensors with every weight.
void add_trained_weights(models::Model& model, models::LoraAdapters* adapters,
                         const std::string& base_dir, std::map<std::string, std::string>& files,
                         std::map<std::string, NamedTensors>& tensors);

}  // namespace r1::train
