#include "io/safetensors.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/file_io.h"
#include "io/json_reader.h"

namespace tinyr2::io {

namespace {

constexpr uint64_t kMaxHeaderBytes = 100ull << 20;  // 100 MiB of JSON is far beyond any model

static_assert(std::endian::native == std::endian::little, "tinyr2 assumes a little-endian host");

struct DTypeInfo {
  const char* name;
  int bytes;
  bool is_float;
};

const DTypeInfo* find_dtype(const std::string& name) {
  static constexpr DTypeInfo kTypes[] = {{"F32", 4, true},  {"BF16", 2, true}, {"F16", 2, true},
                                         {"I64", 8, false}, {"I32", 4, false}, {"I16", 2, false},
                                         {"I8", 1, false},  {"U64", 8, false}, {"U32", 4, false},
                                         {"U16", 2, false}, {"U8", 1, false},  {"BOOL", 1, false}};
  for (const auto& t : kTypes)
    if (name == t.name) return &t;
  return nullptr;
}

float bf16_to_float(uint16_t v) {
  uint32_t bits = static_cast<uint32_t>(v) << 16;
  return std::bit_cast<float>(bits);
}

uint16_t float_to_bf16(float f) {
  uint32_t bits = std::bit_cast<uint32_t>(f);
  if ((bits & 0x7f800000u) == 0x7f800000u && (bits & 0x007fffffu))  // NaN stays NaN
    return static_cast<uint16_t>((bits >> 16) | 0x40);
  bits += 0x7fffu + ((bits >> 16) & 1u);  // round to nearest even
  return static_cast<uint16_t>(bits >> 16);
}

float f16_to_float(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  const uint32_t mant = h & 0x3ff;
  float value;
  if (exp == 0) {
    value = std::ldexp(static_cast<float>(mant), -24);
  } else if (exp == 31) {
    value = mant ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  } else {
    value = std::ldexp(static_cast<float>(mant | 0x400), static_cast<int>(exp) - 25);
  }
  return sign ? -value : value;
}

template <typename T>
T load_le(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

struct Entry {
  std::string name;
  const DTypeInfo* dtype;
  Shape shape;
  uint64_t begin, end;
};

}  // namespace

SafetensorsData parse_safetensors(const std::vector<char>& bytes, const std::string& file) {
  if (bytes.size() < 8)
    fail("{}: not a safetensors file: {} bytes, shorter than the 8-byte header length", file,
         bytes.size());
  const uint64_t header_len = load_le<uint64_t>(bytes.data());
  if (header_len > kMaxHeaderBytes)
    fail("{}: safetensors header length {} exceeds the limit of {} bytes", file, header_len,
         kMaxHeaderBytes);
  if (header_len > bytes.size() - 8)
    fail("{}: safetensors header length {} runs past the end of the {}-byte file", file, header_len,
         bytes.size());
  JsonLimits limits;
  limits.max_bytes = kMaxHeaderBytes;
  limits.max_depth = 8;  // {"name": {"shape": [...]}} and __metadata__: three levels
  const nlohmann::json header = parse_json(std::string_view(bytes.data() + 8, header_len),
                                           file + ": safetensors header", limits);
  if (!header.is_object()) fail("{}: safetensors header is not a JSON object", file);

  SafetensorsData out;
  std::vector<Entry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) fail("{}: __metadata__ is not an object", file);
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string())
          fail("{}: __metadata__[\"{}\"] is not a string", file, text_excerpt(m.key()));
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") ||
        !v.contains("data_offsets"))
      fail("{}: tensor \"{}\" needs dtype, shape and data_offsets", file, text_excerpt(name));
    if (!v["dtype"].is_string())
      fail("{}: tensor \"{}\": dtype is not a string", file, text_excerpt(name));
    const DTypeInfo* dt = find_dtype(v["dtype"].get<std::string>());
    if (!dt)
      fail("{}: tensor \"{}\": unsupported dtype {}", file, text_excerpt(name),
           json_excerpt(v["dtype"]));
    if (!v["shape"].is_array())
      fail("{}: tensor \"{}\": shape is not an array", file, text_excerpt(name));
    Shape shape;
    uint64_t numel = 1;
    for (const auto& d : v["shape"]) {
      if (!d.is_number_unsigned())
        fail("{}: tensor \"{}\": shape {} is not a list of non-negative integers", file,
             text_excerpt(name), json_excerpt(v["shape"]));
      const uint64_t n = d.get<uint64_t>();
      if (n > (1ull << 40) || (n && numel > (1ull << 40) / n))
        fail("{}: tensor \"{}\": shape {} is too large", file, text_excerpt(name),
             json_excerpt(v["shape"]));
      numel *= n;
      shape.push_back(static_cast<int64_t>(n));
    }
    const auto& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
        !off[1].is_number_unsigned())
      fail("{}: tensor \"{}\": data_offsets must be two non-negative integers", file,
           text_excerpt(name));
    const uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    if (end < begin)
      fail("{}: tensor \"{}\": data_offsets [{}, {}] are reversed", file, text_excerpt(name), begin,
           end);
    if (end - begin != numel * dt->bytes)
      fail("{}: tensor \"{}\": {} bytes for shape {} of {} (expected {})", file, text_excerpt(name),
           end - begin, shape_str(shape), dt->name, numel * dt->bytes);
    entries.push_back({name, dt, shape, begin, end});
  }

  // The entries must tile the data section: sorted by offset, no gap, no overlap.
  const uint64_t data_size = bytes.size() - 8 - header_len;
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin < b.begin || (a.begin == b.begin && a.end < b.end);
  });
  uint64_t expected = 0;
  for (const Entry& e : entries) {
    if (e.begin < expected)
      fail("{}: tensor \"{}\": data_offsets [{}, {}] overlap the previous tensor", file,
           text_excerpt(e.name), e.begin, e.end);
    if (e.begin > expected)
      fail("{}: tensor \"{}\": data_offsets [{}, {}] leave a gap after byte {}", file,
           text_excerpt(e.name), e.begin, e.end, expected);
    if (e.end > data_size)
      fail("{}: tensor \"{}\": data_offsets [{}, {}] run past the {}-byte data section", file,
           text_excerpt(e.name), e.begin, e.end, data_size);
    expected = e.end;
  }
  if (expected != data_size)
    fail("{}: {} bytes of data but the tensors cover {}", file, data_size, expected);

  const char* data = bytes.data() + 8 + header_len;
  for (const Entry& e : entries) {
    const char* p = data + e.begin;
    const int64_t n = shape_numel(e.shape);
    if (e.dtype->is_float) {
      Tensor t = Tensor::empty(e.shape);
      float* dst = t.data();
      const std::string dn = e.dtype->name;
      if (dn == "F32") {
        if (n) std::memcpy(dst, p, static_cast<size_t>(n) * 4);
      } else if (dn == "BF16") {
        for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_float(load_le<uint16_t>(p + 2 * i));
      } else {
        for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_float(load_le<uint16_t>(p + 2 * i));
      }
      out.tensors.emplace(e.name, std::move(t));
    } else {
      IntTensor t{e.shape, std::vector<int64_t>(static_cast<size_t>(n))};
      const std::string dn = e.dtype->name;
      for (int64_t i = 0; i < n; ++i) {
        const char* q = p + i * e.dtype->bytes;
        int64_t v = 0;
        if (dn == "I64")
          v = load_le<int64_t>(q);
        else if (dn == "I32")
          v = load_le<int32_t>(q);
        else if (dn == "I16")
          v = load_le<int16_t>(q);
        else if (dn == "I8")
          v = load_le<int8_t>(q);
        else if (dn == "U64")
          v = static_cast<int64_t>(load_le<uint64_t>(q));
        else if (dn == "U32")
          v = load_le<uint32_t>(q);
        else if (dn == "U16")
          v = load_le<uint16_t>(q);
        else
          v = load_le<uint8_t>(q);  // U8, BOOL
        t.values[static_cast<size_t>(i)] = v;
      }
      out.int_tensors.emplace(e.name, std::move(t));
    }
  }
  return out;
}

SafetensorsData load_safetensors(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    fail("{}: cannot read: {}", path,
         std::filesystem::is_directory(path, ec) ? "Is a directory"
         : std::filesystem::exists(path, ec)     ? "not a regular file"
                                                 : "No such file or directory");
  std::ifstream f(path, std::ios::binary);
  if (!f) fail("{}: cannot read: {}", path, std::strerror(errno));
  f.seekg(0, std::ios::end);
  const std::streamoff size = f.tellg();
  f.seekg(0);
  std::vector<char> bytes(static_cast<size_t>(size));
  if (size > 0 && !f.read(bytes.data(), size)) fail("{}: read error", path);
  return parse_safetensors(bytes, path);
}

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata, FloatFormat format,
                      const std::map<std::string, IntTensor>& int_tensors) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  const int fbytes = format == FloatFormat::F32 ? 4 : 2;
  for (const auto& [name, t] : tensors) {
    TINYR2_CHECK(!int_tensors.count(name), "tensor name {} used twice", name);
    const uint64_t n = static_cast<uint64_t>(t.numel()) * fbytes;
    header[name] = {{"dtype", format == FloatFormat::F32 ? "F32" : "BF16"},
                    {"shape", t.shape()},
                    {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  for (const auto& [name, t] : int_tensors) {
    TINYR2_CHECK(static_cast<int64_t>(t.values.size()) == shape_numel(t.shape),
                 "int tensor {}: {} values for shape {}", name, t.values.size(),
                 shape_str(t.shape));
    const uint64_t n = t.values.size() * 8;
    header[name] = {{"dtype", "I64"}, {"shape", t.shape}, {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  std::string json = header.dump();
  while ((json.size() + 8) % 8) json += ' ';  // keep the data section 8-byte aligned

  {
    AtomicFile f(path);  // PATH.tmp, renamed over PATH by commit(); removed on failure
    const uint64_t len = json.size();
    f.write(reinterpret_cast<const char*>(&len), 8);
    f.write(json.data(), static_cast<std::streamsize>(json.size()));
    std::vector<uint16_t> half;
    for (const auto& [name, t] : tensors) {
      if (format == FloatFormat::F32) {
        f.write(reinterpret_cast<const char*>(t.data()),
                static_cast<std::streamsize>(t.numel() * 4));
      } else {
        half.resize(static_cast<size_t>(t.numel()));
        for (int64_t i = 0; i < t.numel(); ++i)
          half[static_cast<size_t>(i)] = float_to_bf16(t.data()[i]);
        f.write(reinterpret_cast<const char*>(half.data()),
                static_cast<std::streamsize>(half.size() * 2));
      }
    }
    for (const auto& [name, t] : int_tensors)
      f.write(reinterpret_cast<const char*>(t.values.data()),
              static_cast<std::streamsize>(t.values.size() * 8));
    f.commit();
  }
}

}  // namespace tinyr2::io
