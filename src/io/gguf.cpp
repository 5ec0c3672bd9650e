#include "io/gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <set>

#include "core/error.h"
#include "io/json_reader.h"  // text_excerpt: keys and names in messages cut, escaped

namespace tinyr2::io {

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
// Bounds (far above any tinyr2 model, far below what could exhaust memory).
constexpr uint64_t kMaxTensors = 1u << 20;
constexpr uint64_t kMaxKeys = 1u << 16;
constexpr uint64_t kMaxString = 1u << 24;  // 16 MiB (the config text is a few KiB)
constexpr uint64_t kMaxArray = 1u << 26;
constexpr int64_t kMaxNumel = int64_t{1} << 40;
constexpr uint32_t kMaxDims = 4;  // GGML_MAX_DIMS

constexpr GgmlTypeInfo kTypes[] = {{0, "F32", 1, 4},
                                   {1, "F16", 1, 2},
                                   {2, "Q4_0", 32, 18},
                                   {8, "Q8_0", 32, 34},
                                   {30, "BF16", 1, 2}};

// A bounds-checked little-endian cursor over the file's bytes.
class Cursor {
 public:
  Cursor(const uint8_t* p, size_t n, const std::string& name) : p_(p), n_(n), name_(name) {}
  size_t pos() const { return pos_; }
  size_t remaining() const { return n_ - pos_; }

  template <typename T>
  T read(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string string(const char* what) {
    const uint64_t len = read<uint64_t>(what);
    if (len > kMaxString)
      fail("{}: {} of {} bytes exceeds the limit of {}", name_, what, len, kMaxString);
    need(len, what);
    std::string s(reinterpret_cast<const char*>(p_ + pos_), static_cast<size_t>(len));
    pos_ += static_cast<size_t>(len);
    return s;
  }
  void need(uint64_t bytes, const char* what) const {
    if (bytes > remaining())
      fail("{}: truncated: {} needs {} bytes at offset {}, {} left", name_, what, bytes, pos_,
           remaining());
  }

 private:
  const uint8_t* p_;
  size_t n_, pos_ = 0;
  const std::string& name_;
};

size_t scalar_size(GgufType t) {
  switch (t) {
    case GgufType::U8:
    case GgufType::I8:
    case GgufType::BOOL:
      return 1;
    case GgufType::U16:
    case GgufType::I16:
      return 2;
    case GgufType::U32:
    case GgufType::I32:
    case GgufType::F32:
      return 4;
    case GgufType::U64:
    case GgufType::I64:
    case GgufType::F64:
      return 8;
    default:
      return 0;
  }
}

bool is_signed(GgufType t) {
  return t == GgufType::I8 || t == GgufType::I16 || t == GgufType::I32 || t == GgufType::I64;
}

// One scalar of type t (not STRING/ARRAY) into v's u / i / f.
void read_scalar(Cursor& c, GgufType t, GgufValue& v, const std::string& name,
                 const std::string& key) {
  switch (t) {
    case GgufType::U8:
      v.u = c.read<uint8_t>("a u8 value");
      break;
    case GgufType::I8:
      v.i = c.read<int8_t>("an i8 value");
      break;
    case GgufType::U16:
      v.u = c.read<uint16_t>("a u16 value");
      break;
    case GgufType::I16:
      v.i = c.read<int16_t>("an i16 value");
      break;
    case GgufType::U32:
      v.u = c.read<uint32_t>("a u32 value");
      break;
    case GgufType::I32:
      v.i = c.read<int32_t>("an i32 value");
      break;
    case GgufType::U64:
      v.u = c.read<uint64_t>("a u64 value");
      break;
    case GgufType::I64:
      v.i = c.read<int64_t>("an i64 value");
      break;
    case GgufType::F32:
      v.f = c.read<float>("an f32 value");
      break;
    case GgufType::F64:
      v.f = c.read<double>("an f64 value");
      break;
    case GgufType::BOOL: {
      const uint8_t b = c.read<uint8_t>("a bool value");
      if (b > 1) fail("{}: key {}: bool value {} is neither 0 nor 1", name, text_excerpt(key), b);
      v.u = b;
      break;
    }
    default:
      fail("{}: key {}: unknown value type {}", name, text_excerpt(key), static_cast<uint32_t>(t));
  }
}

GgufType value_type(uint32_t raw, const std::string& name, const std::string& key) {
  if (raw > static_cast<uint32_t>(GgufType::F64))
    fail("{}: key {}: unknown value type {}", name, text_excerpt(key), raw);
  return static_cast<GgufType>(raw);
}

GgufValue read_value(Cursor& c, GgufType t, const std::string& name, const std::string& key) {
  GgufValue v;
  v.type = t;
  if (t == GgufType::STRING) {
    v.str = c.string("a string value");
  } else if (t == GgufType::ARRAY) {
    v.array_type = value_type(c.read<uint32_t>("an array type"), name, key);
    if (v.array_type == GgufType::ARRAY)
      fail("{}: key {}: nested arrays are not supported", name, text_excerpt(key));
    const uint64_t n = c.read<uint64_t>("an array length");
    // Every element takes at least one byte (strings 8): a count beyond the rest of the file
    // is a corrupt file, not an allocation to attempt.
    const uint64_t min_size = v.array_type == GgufType::STRING ? 8 : scalar_size(v.array_type);
    if (n > kMaxArray || n * min_size > c.remaining())
      fail("{}: key {}: array of {} elements does not fit in the file", name, text_excerpt(key), n);
    for (uint64_t k = 0; k < n; ++k) {
      if (v.array_type == GgufType::STRING) {
        v.strs.push_back(c.string("an array string"));
      } else {
        GgufValue e;
        read_scalar(c, v.array_type, e, name, key);
        if (v.array_type == GgufType::F32 || v.array_type == GgufType::F64)
          v.floats.push_back(e.f);
        else
          v.ints.push_back(is_signed(v.array_type) ? e.i : static_cast<int64_t>(e.u));
      }
    }
  } else {
    read_scalar(c, t, v, name, key);
  }
  return v;
}

struct Mapping {
  void* addr = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (addr) munmap(addr, size);
  }
};

}  // namespace

GgufValue GgufValue::string(std::string s) {
  GgufValue v;
  v.type = GgufType::STRING;
  v.str = std::move(s);
  return v;
}
GgufValue GgufValue::uint32(uint32_t x) {
  GgufValue v;
  v.type = GgufType::U32;
  v.u = x;
  return v;
}
GgufValue GgufValue::int32(int32_t x) {
  GgufValue v;
  v.type = GgufType::I32;
  v.i = x;
  return v;
}
GgufValue GgufValue::strings(std::vector<std::string> s) {
  GgufValue v;
  v.type = GgufType::ARRAY;
  v.array_type = GgufType::STRING;
  v.strs = std::move(s);
  return v;
}

const GgmlTypeInfo* ggml_type_info(uint32_t id) {
  for (const GgmlTypeInfo& t : kTypes)
    if (t.id == id) return &t;
  return nullptr;
}

int64_t GgufTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

const GgufValue* GgufFile::find(const std::string& key) const {
  for (const auto& [k, v] : metadata)
    if (k == key) return &v;
  return nullptr;
}

const GgufTensor* GgufFile::tensor(const std::string& name) const {
  for (const GgufTensor& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

const std::string& GgufFile::get_string(const std::string& key, const std::string& path) const {
  const GgufValue* v = find(key);
  if (!v) fail("{}: missing key {}", path, key);
  if (v->type != GgufType::STRING) fail("{}: key {} is not a string", path, key);
  return v->str;
}

GgufFile parse_gguf(const uint8_t* bytes, size_t size, std::shared_ptr<const void> owner,
                    const std::string& name) {
  GgufFile f;
  f.mapping = std::move(owner);
  f.file_size = size;
  Cursor c(bytes, size, name);
  if (c.read<uint32_t>("the magic") != kMagic) fail("{}: not a GGUF file (bad magic)", name);
  f.version = c.read<uint32_t>("the version");
  if (f.version != 3) fail("{}: GGUF version {} is not supported (only 3)", name, f.version);
  const uint64_t n_tensors = c.read<uint64_t>("the tensor count");
  const uint64_t n_kv = c.read<uint64_t>("the key-value count");
  if (n_tensors > kMaxTensors)
    fail("{}: {} tensors exceeds the limit of {}", name, n_tensors, kMaxTensors);
  if (n_kv > kMaxKeys) fail("{}: {} keys exceeds the limit of {}", name, n_kv, kMaxKeys);

  std::set<std::string> keys;
  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string key = c.string("a key");
    if (!keys.insert(key).second) fail("{}: duplicate key {}", name, text_excerpt(key));
    const GgufType t = value_type(c.read<uint32_t>("a value type"), name, key);
    f.metadata.emplace_back(key, read_value(c, t, name, key));
  }
  if (const GgufValue* a = f.find("general.alignment")) {
    if (a->type != GgufType::U32 || a->u == 0 || (a->u & (a->u - 1)) != 0 || a->u > 65536)
      fail("{}: general.alignment must be a u32 power of two, got {}", name, a->u);
    f.alignment = a->u;
  }

  std::set<std::string> names;
  for (uint64_t k = 0; k < n_tensors; ++k) {
    GgufTensor t;
    t.name = c.string("a tensor name");
    if (!names.insert(t.name).second) fail("{}: duplicate tensor {}", name, text_excerpt(t.name));
    const uint32_t nd = c.read<uint32_t>("a tensor's dimension count");
    if (nd == 0 || nd > kMaxDims)
      fail("{}: tensor {} has {} dimensions (1 to 4)", name, text_excerpt(t.name), nd);
    int64_t numel = 1;
    for (uint32_t d = 0; d < nd; ++d) {
      const uint64_t dim = c.read<uint64_t>("a tensor dimension");
      if (dim == 0 || dim > static_cast<uint64_t>(kMaxNumel) ||
          numel > kMaxNumel / static_cast<int64_t>(dim))
        fail("{}: tensor {} has a bad shape (dimension {} = {})", name, text_excerpt(t.name), d,
             dim);
      t.dims.push_back(static_cast<int64_t>(dim));
      numel *= static_cast<int64_t>(dim);
    }
    t.type = c.read<uint32_t>("a tensor type");
    const GgmlTypeInfo* info = ggml_type_info(t.type);
    if (!info) fail("{}: tensor {} has unknown ggml type {}", name, text_excerpt(t.name), t.type);
    if (t.dims[0] % info->block_elems != 0)
      fail("{}: tensor {}: rows of {} elements are not whole {} blocks of {}", name,
           text_excerpt(t.name), t.dims[0], info->name, info->block_elems);
    t.bytes = numel / info->block_elems * info->block_bytes;
    t.offset = c.read<uint64_t>("a tensor offset");
    if (t.offset % f.alignment != 0)
      fail("{}: tensor {}: offset {} is not aligned to {}", name, text_excerpt(t.name), t.offset,
           f.alignment);
    f.tensors.push_back(std::move(t));
  }
  const size_t data_start = (c.pos() + f.alignment - 1) / f.alignment * f.alignment;
  if (data_start > size && !f.tensors.empty())
    fail("{}: truncated: the data section starts at {} past the end ({} bytes)", name, data_start,
         size);
  const uint64_t data_size = data_start <= size ? size - data_start : 0;
  std::vector<std::pair<uint64_t, uint64_t>> spans;
  for (GgufTensor& t : f.tensors) {
    if (t.offset > data_size || static_cast<uint64_t>(t.bytes) > data_size - t.offset)
      fail("{}: tensor {}: bytes [{}, {}) of the data section lie outside the file ({} bytes)",
           name, text_excerpt(t.name), t.offset, t.offset + static_cast<uint64_t>(t.bytes),
           data_size);
    t.data = bytes + data_start + t.offset;
    spans.emplace_back(t.offset, t.offset + static_cast<uint64_t>(t.bytes));
  }
  std::sort(spans.begin(), spans.end());
  for (size_t k = 1; k < spans.size(); ++k)
    if (spans[k].first < spans[k - 1].second) fail("{}: tensors overlap in the data section", name);
  return f;
}

GgufFile read_gguf(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) fail("{}: cannot open", path);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail("{}: not a regular file", path);
  }
  auto m = std::make_shared<Mapping>();
  m->size = static_cast<size_t>(st.st_size);
  if (m->size > 0) {
    void* addr = ::mmap(nullptr, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (addr == MAP_FAILED) {
      ::close(fd);
      fail("{}: cannot map the file", path);
    }
    m->addr = addr;
  }
  ::close(fd);
  const auto* bytes = static_cast<const uint8_t*>(m->addr);
  return parse_gguf(bytes, m->size, m, path);
}

namespace {

class Writer {
 public:
  explicit Writer(std::FILE* f) : f_(f) {}
  void bytes(const void* p, size_t n) {
    if (n && std::fwrite(p, 1, n, f_) != n) ok_ = false;
    pos_ += n;
  }
  template <typename T>
  void put(T v) {
    bytes(&v, sizeof(T));
  }
  void string(const std::string& s) {
    put<uint64_t>(s.size());
    bytes(s.data(), s.size());
  }
  void pad(uint64_t alignment) {
    static const char zeros[64] = {};
    while (pos_ % alignment) bytes(zeros, std::min<uint64_t>(64, alignment - pos_ % alignment));
  }
  bool ok() const { return ok_; }

 private:
  std::FILE* f_;
  uint64_t pos_ = 0;
  bool ok_ = true;
};

void write_scalar(Writer& w, GgufType t, const GgufValue& v) {
  switch (t) {
    case GgufType::U8:
    case GgufType::BOOL:
      w.put<uint8_t>(static_cast<uint8_t>(v.u));
      break;
    case GgufType::I8:
      w.put<int8_t>(static_cast<int8_t>(v.i));
      break;
    case GgufType::U16:
      w.put<uint16_t>(static_cast<uint16_t>(v.u));
      break;
    case GgufType::I16:
      w.put<int16_t>(static_cast<int16_t>(v.i));
      break;
    case GgufType::U32:
      w.put<uint32_t>(static_cast<uint32_t>(v.u));
      break;
    case GgufType::I32:
      w.put<int32_t>(static_cast<int32_t>(v.i));
      break;
    case GgufType::U64:
      w.put<uint64_t>(v.u);
      break;
    case GgufType::I64:
      w.put<int64_t>(v.i);
      break;
    case GgufType::F32:
      w.put<float>(static_cast<float>(v.f));
      break;
    case GgufType::F64:
      w.put<double>(v.f);
      break;
    default:
      fail("GGUF writer: value type {} is not a scalar", static_cast<uint32_t>(t));
  }
}

}  // namespace

void write_gguf(const std::string& path,
                const std::vector<std::pair<std::string, GgufValue>>& metadata,
                const std::vector<GgufTensorOut>& tensors) {
  constexpr uint64_t kAlign = 32;
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) fail("{}: cannot create", tmp);
  Writer w(f);
  w.put<uint32_t>(kMagic);
  w.put<uint32_t>(3);
  w.put<uint64_t>(tensors.size());
  w.put<uint64_t>(metadata.size());
  for (const auto& [key, v] : metadata) {
    w.string(key);
    w.put<uint32_t>(static_cast<uint32_t>(v.type));
    if (v.type == GgufType::STRING) {
      w.string(v.str);
    } else if (v.type == GgufType::ARRAY) {
      w.put<uint32_t>(static_cast<uint32_t>(v.array_type));
      if (v.array_type == GgufType::STRING) {
        w.put<uint64_t>(v.strs.size());
        for (const std::string& s : v.strs) w.string(s);
      } else if (v.array_type == GgufType::F32 || v.array_type == GgufType::F64) {
        w.put<uint64_t>(v.floats.size());
        for (double x : v.floats) {
          GgufValue e;
          e.f = x;
          write_scalar(w, v.array_type, e);
        }
      } else {
        w.put<uint64_t>(v.ints.size());
        for (int64_t x : v.ints) {
          GgufValue e;
          e.i = x;
          e.u = static_cast<uint64_t>(x);
          write_scalar(w, v.array_type, e);
        }
      }
    } else {
      write_scalar(w, v.type, v);
    }
  }
  uint64_t offset = 0;
  for (const GgufTensorOut& t : tensors) {
    const GgmlTypeInfo* info = ggml_type_info(t.type);
    TINYR2_CHECK(info && !t.dims.empty() && t.dims.size() <= kMaxDims, "GGUF writer: tensor {}",
                 t.name);
    int64_t numel = 1;
    for (int64_t d : t.dims) numel *= d;
    TINYR2_CHECK(
        t.dims[0] % info->block_elems == 0 &&
            static_cast<int64_t>(t.bytes.size()) == numel / info->block_elems * info->block_bytes,
        "GGUF writer: tensor {} holds {} bytes for {} elements of {}", t.name, t.bytes.size(),
        numel, info->name);
    w.string(t.name);
    w.put<uint32_t>(static_cast<uint32_t>(t.dims.size()));
    for (int64_t d : t.dims) w.put<uint64_t>(static_cast<uint64_t>(d));
    w.put<uint32_t>(t.type);
    w.put<uint64_t>(offset);
    offset = (offset + t.bytes.size() + kAlign - 1) / kAlign * kAlign;
  }
  w.pad(kAlign);
  for (const GgufTensorOut& t : tensors) {
    w.bytes(t.bytes.data(), t.bytes.size());
    w.pad(kAlign);
  }
  const bool ok = w.ok() && std::fflush(f) == 0;
  std::fclose(f);
  if (!ok) fail("{}: write error", tmp);
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) fail("{}: cannot rename to {}: {}", tmp, path, ec.message());
}

}  // namespace tinyr2::io
