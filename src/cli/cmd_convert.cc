// r1 convert / r1 quantize: a Hugging Face checkpoint folder written as a GGUF file that
// llama.cpp loads (io/gguf_export.h).
#include <cstdio>

#include "cli/command.h"
#include "cli/model_dir.h"
#include "core/error.h"
#include "io/gguf_export.h"

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

int write_gguf_file(Args& args, bool quantize) {
  std::string dir = resolve_model_dir(args.take("--model", "-m"));
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
  size_t n = io::export_gguf(dir, out, opt);
  std::fprintf(stderr, "wrote %s: %zu tensors, matrices %s\n", out.c_str(), n, type.c_str());
  return 0;
}

int run_convert(Args& args) {
  return write_gguf_file(args, false);
}
int run_quantize(Args& args) {
  return write_gguf_file(args, true);
}

}  // namespace

R1_COMMAND({"convert",
            "write a Hugging Face checkpoint as a GGUF file for llama.cpp",
            "r1 convert -m DIR --out FILE.gguf [--type bf16|f16|f32|q8_0] [--name NAME]\n"
            "  -m DIR        Qwen2 or Llama checkpoint folder (config.json, safetensors, tokenizer)\n"
            "  --out FILE    the .gguf file to write (atomically)\n"
            "  --type T      the matrices' type (default bf16); norms and biases stay f32\n"
            "  --name NAME   general.name (default: the folder's name)\n",
            {},
            run_convert});

R1_COMMAND({"quantize",
            "write a Hugging Face checkpoint as a quantized GGUF file for llama.cpp",
            "r1 quantize -m DIR --type q8_0 --out FILE.gguf [--name NAME]\n"
            "  the same as r1 convert with a quantized --type (q8_0; Q4_K_M is not written yet)\n",
            {},
            run_quantize});

}  // namespace r1::cli
