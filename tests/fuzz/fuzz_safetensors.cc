// safetensors files: header length, JSON header, dtypes, shapes and offsets, all from the input.
// Every tensor handed out must lie inside the file; reading its bytes proves it (ASan).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "fuzz_util.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/r1_fuzz_safetensors_" + std::to_string(getpid());
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  r1::fuzz::expect_input_errors([&] {
    for (r1::LoadMode mode : {r1::LoadMode::Map, r1::LoadMode::Read}) {
      auto store = r1::io::WeightStore::open_file(path, mode);
      volatile uint8_t sink = 0;
      for (const auto& name : store.names()) {
        r1::Tensor t = store.get(name);
        const auto* bytes = static_cast<const uint8_t*>(t.data);
        const size_t n = t.nbytes();
        if (n > 0) sink = sink ^ bytes[0] ^ bytes[n - 1];
      }
      (void)sink;
    }
  });
  return 0;
}
