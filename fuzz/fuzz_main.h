// The shared part of the fuzz targets under fuzz/ (see README.md): each target defines
// LLVMFuzzerTestOneInput and fuzz_seeds() (valid inputs to start from). Built with libFuzzer
// (scripts/fuzz) the seeds become the initial corpus; built with standalone_main.cpp (CMake,
// any compiler: the fuzz.* tests) they are mutated by a seeded random driver.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

std::vector<std::string> fuzz_seeds();
