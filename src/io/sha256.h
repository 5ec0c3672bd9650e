// SHA-256 (FIPS 180-4) of a file, as lowercase hex: the base model's fingerprint in a LoRA
// adapter_config.json (SPEC §12, base_model_sha256).
#pragma once

#include <string>
#include <string_view>

namespace tinyr2::io {

std::string sha256_hex(std::string_view bytes);
// Streams the file; errors name the path and the OS reason.
std::string sha256_file_hex(const std::string& path);

}  // namespace tinyr2::io
