// `r1 eval -m MODEL --data FILE --task T -k N`: R1's evaluation protocol (docs/FACTS.md section 7)
// end to end: k samples per problem at R1's sampling defaults, generated in batches, graded by
// the task's verifier, reported as pass@1, pass@k, cons@k, mean length and truncation rate.
#pragma once

#include "cli/args.h"

namespace r1::cli {

int run_eval_model(Args& args);

}  // namespace r1::cli
