// `r1 bench --quality FILE`: how far each weight format and compute path moves a model's
// next-token distributions from the exact path on the stored weights, over real text, as
// llama.cpp's perplexity tool measures it (--kl-divergence): the text is cut into windows of
// --ctx-window tokens that start with BOS, and the second half of each window is scored (every
// position has at least half a window of context). Per format: mean and 99th-percentile
// KL(reference || format), top-1 agreement with the reference, and the perplexity of the text.
// Each window runs as one prompt, or with --decode its scored positions one token at a time, as
// generation computes them (the kernels differ with the number of rows: fp8 weights with bf16 dot
// products round the activations times the scales for fewer than 128 rows and the weights times
// their scales for more, quantized weights take bf16 dot products only for prompts).
#pragma once

#include <string>

#include "cli/common.h"

namespace r1::cli {

struct QualityOptions {
  std::string file;  // .jsonl rows {"text"} (documents joined by a blank line) or plain text
  std::string formats = "bf16,bf16-fast,q8_0,q8_0-fast,q4_k_m,q4_k_m-fast,q4_0";
  int64_t window = 512;
  int64_t tokens = 4096;  // positions to score (whole windows; fewer when the text is short)
  bool json = false;
  bool decode = false;  // score each position by a one-token forward (generation's products)
};

int run_quality(LoadedModel& lm, const QualityOptions& o);

}  // namespace r1::cli
