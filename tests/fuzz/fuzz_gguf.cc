// GGUF files: counts, string and array lengths, value types, dims, tensor types and offsets, all
// from the input. Every tensor handed out must lie inside the file; reading its bytes proves it
// (ASan).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "fuzz_util.h"
#include "io/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/r1_fuzz_gguf_" + std::to_string(getpid());
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  r1::fuzz::expect_input_errors([&] {
    auto g = r1::io::GgufFile::open(path, r1::LoadMode::Read);
    volatile uint8_t sink = 0;
    for (const auto& info : g.tensors()) {
      r1::Tensor t = g.tensor(info.name);
      const auto* bytes = static_cast<const uint8_t*>(t.data);
      const size_t n = t.nbytes();
      if (n > 0) sink = sink ^ bytes[0] ^ bytes[n - 1];
    }
    (void)sink;
  });
  return 0;
}
