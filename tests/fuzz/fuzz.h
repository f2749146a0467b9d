/* libFuzzer entry points of tests/fuzz/fuzz_*.c. Built two ways: with clang's
 * -fsanitize=fuzzer for `make fuzz` (bench/fuzz.sh runs them), and with
 * replay.c's main() for tests/run.sh's `fuzz` group, which feeds every file
 * of the committed corpus once (deterministic, no time limit). */
#ifndef GS_FUZZ_H
#define GS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "core/knowledge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_common.c: the shipped plugins/, loaded once (run from the repository root). */
const struct knowledge *fuzz_kb(void);

#endif
