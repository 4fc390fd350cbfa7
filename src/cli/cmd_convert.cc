// r1 convert / r1 quantize: a Hugging Face checkpoint folder written as a GGUF file that
// llama.cpp loads (io/gguf_export.h), and a GGUF file written as a folder (io/gguf_import.h).
#include <cstdio>

#include "cli/command.h"
#include "cli/model_dir.h"
#include "core/error.h"
#include "io/gguf_export.h"
#include "io/gguf_import.h"

namespace r1::cli {
namespace {

DType gguf_matrix_type(const std::string& t) {
  if (t == "f32") return DType::F32;
  if (t == "f16") return DType::F16;
  if (t == "bf16") return DType::BF16;
  if (t == "q8_0") return DType::Q8_0;
  fail_usage("--type must be f32, f16, bf16 or q8_0, not \"", t,
             "\" (Q4_0 and Q4_K_M are not written yet)");
}

int write_gguf_file(Args& args, bool quantize, const std::optional<std::string>& model) {
  std::string dir = resolve_model_dir(model);
  std::string out = args.take_str("--out", "", "-o");
  std::string type = args.take_str("--type", quantize ? "" : "bf16");
  io::GgufExportOptions opt;
  opt.name = args.take_str("--name", "");
  args.finish();
  if (out.empty()) fail_usage("--out FILE.gguf is required");
  if (type.empty()) fail_usage("--type is required (q8_0, or f32, f16, bf16)");
  if (out.size() < 5 || out.substr(out.size() - 5) != ".gguf")
    fail_usage("--out names a .gguf file, not \"", out, "\"");
  opt.matrix_type = gguf_matrix_type(type);
  if (quantize && opt.matrix_type != DType::Q8_0)
    fail_usage("r1 quantize writes q8_0 (r1 convert writes f32, f16 and bf16)");
  size_t n = io::export_gguf(dir, out, opt);
  std::fprintf(stderr, "wrote %s: %zu tensors, matrices %s\n", out.c_str(), n, type.c_str());
  return 0;
}

// GGUF -> Hugging Face folder.
int write_folder(Args& args, const std::string& gguf) {
  std::string out = args.take_str("--out", "", "-o");
  std::string type = args.take_str("--type", "bf16");
  args.finish();
  if (out.empty()) fail_usage("--out DIR is required");
  DType t = gguf_matrix_type(type);
  if (t == DType::Q8_0) fail_usage("a Hugging Face folder has no Q8_0: --type f32, f16 or bf16");
  size_t n = io::gguf_to_folder(gguf, out, t);
  std::fprintf(stderr, "wrote %s: %zu tensors (Q8_0 ones as %s)\n", out.c_str(), n, type.c_str());
  return 0;
}

int run_convert(Args& args) {
  auto m = args.take("--model", "-m");
  if (m && m->size() > 5 && m->substr(m->size() - 5) == ".gguf") return write_folder(args, *m);
  return write_gguf_file(args, false, m);
}
int run_quantize(Args& args) {
  return write_gguf_file(args, true, args.take("--model", "-m"));
}

}  // namespace

R1_COMMAND(
    {"convert",
     "a Hugging Face checkpoint as a GGUF file for llama.cpp, or a GGUF file as a folder",
     "r1 convert -m DIR --out FILE.gguf [--type bf16|f16|f32|q8_0] [--name NAME]\n"
     "r1 convert -m FILE.gguf --out DIR [--type bf16|f16|f32]\n"
     "  -m DIR        Qwen2 or Llama checkpoint folder (config.json, safetensors, tokenizer)\n"
     "  --out FILE    the .gguf file to write (atomically)\n"
     "  --type T      the matrices' type (default bf16); norms and biases stay f32\n"
     "  --name NAME   general.name (default: the folder's name)\n"
     "  From a GGUF file (qwen2, llama): a Hugging Face folder (config.json, tokenizer,\n"
     "  model.safetensors); F32/F16/BF16 tensors keep their type, Q8_0 ones become --type\n",
     {},
     run_convert});

R1_COMMAND({"quantize",
            "write a Hugging Face checkpoint as a quantized GGUF file for llama.cpp",
            "r1 quantize -m DIR --type q8_0 --out FILE.gguf [--name NAME]\n"
            "  the same as r1 convert with a quantized --type (q8_0; Q4_K_M is not written yet)\n",
            {},
            run_quantize});

}  // namespace r1::cli
