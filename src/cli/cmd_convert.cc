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

io::QuantMix gguf_mix(const std::string& t) {
  io::QuantMix m;
  if (!io::parse_quant_mix(t, &m))
    fail_usage("--type must be f32, f16, bf16, q8_0, q4_0 or q4_k_m, not \"", t, "\"");
  return m;
}

int write_gguf_file(Args& args, bool quantize, const std::optional<std::string>& model) {
  std::string dir = resolve_model_dir(model);
  std::string out = args.take_str("--out", "", "-o");
  std::string type = args.take_str("--type", quantize ? "" : "bf16");
  io::GgufExportOptions opt;
  opt.name = args.take_str("--name", "");
  args.finish();
  if (out.empty()) fail_usage("--out FILE.gguf is required");
  if (type.empty()) fail_usage("--type is required (q8_0, q4_k_m or q4_0)");
  if (out.size() < 5 || out.substr(out.size() - 5) != ".gguf")
    fail_usage("--out names a .gguf file, not \"", out, "\"");
  opt.mix = gguf_mix(type);
  if (quantize && !io::is_quantized(opt.mix))
    fail_usage("r1 quantize writes q8_0, q4_k_m or q4_0 (r1 convert writes f32, f16 and bf16)");
  const io::GgufExportResult r = io::export_gguf(dir, out, opt);
  std::fprintf(stderr, "wrote %s: %zu tensors, matrices %s", out.c_str(), r.tensors, type.c_str());
  if (!r.f16_fallback.empty())
    std::fprintf(stderr, " (%zu as F16, their rows not whole blocks of the type: %s%s)",
                 r.f16_fallback.size(), r.f16_fallback[0].c_str(),
                 r.f16_fallback.size() > 1 ? ", ..." : "");
  std::fprintf(stderr, "\n");
  return 0;
}

// GGUF -> Hugging Face folder.
int write_folder(Args& args, const std::string& gguf) {
  std::string out = args.take_str("--out", "", "-o");
  std::string type = args.take_str("--type", "bf16");
  args.finish();
  if (out.empty()) fail_usage("--out DIR is required");
  const io::QuantMix m = gguf_mix(type);
  if (io::is_quantized(m))
    fail_usage("a Hugging Face folder has no quantized types: --type f32, f16 or bf16");
  const DType t = m == io::QuantMix::F32   ? DType::F32
                  : m == io::QuantMix::F16 ? DType::F16
                                           : DType::BF16;
  size_t n = io::gguf_to_folder(gguf, out, t);
  std::fprintf(stderr, "wrote %s: %zu tensors (quantized ones as %s)\n", out.c_str(), n,
               type.c_str());
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
     "r1 convert -m DIR --out FILE.gguf [--type bf16|f16|f32|q8_0|q4_k_m|q4_0] [--name NAME]\n"
     "r1 convert -m FILE.gguf --out DIR [--type bf16|f16|f32]\n"
     "  -m DIR        Qwen2 or Llama checkpoint folder (config.json, safetensors, tokenizer)\n"
     "  --out FILE    the .gguf file to write (atomically)\n"
     "  --type T      the matrices' type (default bf16); norms and biases stay f32. q4_k_m\n"
     "                is llama.cpp's mix: Q4_K, with Q6_K for the output layer and some\n"
     "                v_proj/down_proj; q4_0 gives the output layer Q6_K\n"
     "  --name NAME   general.name (default: the folder's name)\n"
     "  From a GGUF file (qwen2, llama): a Hugging Face folder (config.json, tokenizer,\n"
     "  model.safetensors); F32/F16/BF16 tensors keep their type, quantized ones become --type\n",
     {},
     run_convert});

R1_COMMAND({"quantize",
            "write a Hugging Face checkpoint as a quantized GGUF file for llama.cpp",
            "r1 quantize -m DIR --type q8_0|q4_k_m|q4_0 --out FILE.gguf [--name NAME]\n"
            "  the same as r1 convert with a quantized --type\n",
            {},
            run_quantize});

}  // namespace r1::cli
