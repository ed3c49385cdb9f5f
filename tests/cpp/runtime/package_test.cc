#include "runtime/package.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kiln/error.h"
#include "runtime_test_util.h"
#include "support/sha256.h"

namespace kiln::runtime {
namespace {

using testing::read_file;
using testing::TempDir;
using testing::write_file;

std::map<std::string, Tensor> sample_params() {
  Tensor half(DType::kFloat16, {3});
  half.set_element_from_double(0, 1.5);
  half.set_element_from_double(2, -2.0);
  Tensor flags(DType::kBool, {2, 2});
  flags.set_element_from_int64(3, 1);
  return {{"conv1.weight", Tensor::from_float32s({1, 2, 3, 4, 5, 6}, {2, 1, 3})},
          {"scalar", Tensor::from_int64s({42}, /*scalar=*/true)},
          {"empty", Tensor(DType::kFloat32, {0, 4})},
          {"half", half},
          {"flags", flags}};
}

TEST(ParamsTest, RoundTripsExactly) {
  auto params = sample_params();
  std::string bytes = serialize_params(params);
  EXPECT_EQ(bytes.substr(0, 8), "KILNPARM");
  EXPECT_EQ(serialize_params(params), bytes);  // deterministic
  auto loaded = deserialize_params(bytes, "mod.params");
  ASSERT_EQ(loaded.size(), params.size());
  for (const auto& [name, tensor] : params) {
    ASSERT_EQ(loaded.count(name), 1u) << name;
    EXPECT_TRUE(loaded.at(name).identical(tensor)) << name;
  }
  EXPECT_TRUE(deserialize_params(serialize_params({}), "none").empty());
}

TEST(ParamsTest, DataIsAlignedInTheFile) {
  std::string bytes = serialize_params({{"w", Tensor::from_float32s({7.0f}, {1})}});
  float seven = 7.0f;
  size_t at = bytes.find(std::string(reinterpret_cast<const char*>(&seven), 4));
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(at % 64, 0u);
  EXPECT_EQ(bytes.size(), at + 4);
}

TEST(ParamsTest, EveryTruncationIsAnError) {
  std::string bytes = serialize_params(sample_params());
  for (size_t length = 0; length < bytes.size(); ++length) {
    EXPECT_KILN_ERROR(deserialize_params(bytes.substr(0, length), "m.tar:mod.params"),
                      "m.tar:mod.params is not a valid Kiln parameter file: ");
  }
}

// Little-endian field writers for hand-made corrupt files.
std::string u32(uint32_t value) { return std::string(reinterpret_cast<const char*>(&value), 4); }
std::string u64(uint64_t value) { return std::string(reinterpret_cast<const char*>(&value), 8); }

TEST(ParamsTest, CorruptionIsDescribed) {
  std::string good = serialize_params({{"w", Tensor::from_float32s({1, 2}, {2})}});
  std::string header = "KILNPARM" + u32(1);
  std::string record_start = u32(1) + "w" + u32(7) + "float32";
  // Enough bytes after a damaged header that the check under test is the one that fails.
  std::string tail(200, '\0');
  struct Case {
    std::string bytes;
    const char* message;
  } cases[] = {
      {"NOTPARMS" + good.substr(8), "it does not start with KILNPARM"},
      {"KILNPARM" + u32(2) + good.substr(12), "format version 2 is not version 1"},
      {header + u32(1000000), "it claims 1000000 tensors"},
      {good + "x", "1 unexpected bytes after the last tensor"},
      {header + u32(1) + u32(1) + "w" + u32(6) + "float9" + u32(0) + tail,
       "unknown dtype 'float9'"},
      {header + u32(1) + record_start + u32(1000) + tail, "has 1000 dimensions"},
      {header + u32(1) + record_start + u32(1) + u64(~0ull) + tail, "has an impossible shape"},
      {header + u32(1) + record_start + u32(1) + u64(2) + u64(12) + tail,
       "tensor 'w' declares 12 bytes, its shape needs 8"},
      {header + u32(1) + record_start + u32(1) + u64(1u << 30) + u64(4ull << 30) + tail,
       "needs 4294967296 bytes"},
      {header + u32(1) + u32(0xffffffffu) + tail, "a tensor name is too long"},
  };
  for (const Case& test : cases) {
    EXPECT_KILN_ERROR(deserialize_params(test.bytes, "p.params"), test.message);
  }
  // Two records with one name (each record's data padded to a multiple of 64 in the file).
  std::string one = serialize_params({{"w", Tensor::from_float32s({1}, {1})}});
  std::string fields = one.substr(16, 36);  // name, dtype, shape, nbytes
  std::string doubled = header + u32(2) + one.substr(16);
  doubled += fields;
  while (doubled.size() % 64 != 0) doubled.push_back('\0');
  doubled += one.substr(one.size() - 4);  // the second record's data
  EXPECT_KILN_ERROR(deserialize_params(doubled, "p.params"), "tensor 'w' appears twice");
}

// The bytes of member `name` of a ustar archive (plain headers, as write_package writes).
std::string member(const std::string& archive, const std::string& name) {
  size_t at = 0;
  while (at + 512 <= archive.size() && archive[at] != '\0') {
    std::string member_name(archive.data() + at, strnlen(archive.data() + at, 100));
    size_t size = std::stoull(std::string(archive.data() + at + 124, 11), nullptr, 8);
    if (member_name == name) return archive.substr(at + 512, size);
    at += 512 + (size + 511) / 512 * 512;
  }
  ADD_FAILURE() << "no member " << name;
  return "";
}

PackageContents sample_package() {
  PackageContents contents;
  contents.library = std::string(
      "\x7f"
      "ELF fake library bytes",
      23);
  contents.graph_json = R"({"format": "kiln-graph", "version": 1})";
  contents.params = serialize_params(sample_params());
  contents.metadata_json = R"({"kiln_version": "0.1.0", "target": "llvm", "inputs": []})";
  return contents;
}

TEST(PackageTest, RoundTripsAndRecordsChecksums) {
  TempDir dir;
  std::string path = dir.file("m.tar");
  PackageContents contents = sample_package();
  write_package(path, contents);
  PackageContents loaded = read_package(path);
  EXPECT_EQ(loaded.library, contents.library);
  EXPECT_EQ(loaded.graph_json, contents.graph_json);
  EXPECT_EQ(loaded.params, contents.params);
  auto metadata = nlohmann::json::parse(loaded.metadata_json);
  EXPECT_EQ(metadata["target"], "llvm");
  EXPECT_EQ(metadata["kiln_version"], "0.1.0");
  // SHA256SUMS covers every other member, metadata.json included, in sha256sum's format.
  std::string listing = member(read_file(path), "SHA256SUMS");
  auto hex = [](const std::string& bytes) {
    return support::to_hex(support::sha256(bytes.data(), bytes.size()));
  };
  EXPECT_EQ(listing, hex(loaded.metadata_json) + "  metadata.json\n" + hex(contents.graph_json) +
                         "  mod.json\n" + hex(contents.params) + "  mod.params\n" +
                         hex(contents.library) + "  mod.so\n");
  // Rewriting replaces the package in place, and leaves no temporary file behind.
  write_package(path, contents);
  EXPECT_EQ(read_package(path).params, contents.params);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.file("")),
                          std::filesystem::directory_iterator()),
            1);
}

TEST(PackageTest, OptionalObjectRoundTripsAndIsChecked) {
  TempDir dir;
  std::string path = dir.file("m.tar");
  PackageContents contents = sample_package();
  contents.object =
      "\x7f"
      "ELF fake object bytes, unlinked";
  write_package(path, contents);
  PackageContents loaded = read_package(path);
  EXPECT_EQ(loaded.object, contents.object);
  EXPECT_NE(member(read_file(path), "SHA256SUMS").find("  mod.o\n"), std::string::npos);
  // Without the object, the package has none.
  write_package(path, sample_package());
  EXPECT_TRUE(read_package(path).object.empty());
  // A changed object is refused like any other member.
  write_package(path, contents);
  std::string bytes = read_file(path);
  size_t at = bytes.find("unlinked");
  ASSERT_NE(at, std::string::npos);
  bytes[at] = 'U';
  write_file(path, bytes);
  EXPECT_KILN_ERROR(read_package(path), "mod.o does not match its SHA-256");
}

TEST(PackageTest, TamperedMemberIsRefused) {
  TempDir dir;
  std::string path = dir.file("m.tar");
  PackageContents contents = sample_package();
  write_package(path, contents);
  std::string bytes = read_file(path);
  // Change one weight byte inside the tar, leaving the archive itself well formed.
  size_t at = bytes.find(contents.params.substr(64, 24));
  ASSERT_NE(at, std::string::npos);
  bytes[at + 3] ^= 0x40;
  write_file(path, bytes);
  // Both ways of reading the weights check them: into a string, and into the aligned buffer
  // that run() uses in place.
  for (bool aligned_params : {false, true}) {
    try {
      read_package(path, aligned_params);
      FAIL() << "a tampered package was accepted (aligned_params " << aligned_params << ")";
    } catch (const Error& error) {
      EXPECT_EQ(std::string(error.what()),
                path +
                    " is not a valid Kiln package: mod.params does not match its SHA-256 in "
                    "SHA256SUMS (the package was modified or corrupted; compile it again)");
    }
  }
}

TEST(PackageTest, AlignedParamsAreUsedInPlace) {
  TempDir dir;
  std::string path = dir.file("m.tar");
  PackageContents contents = sample_package();
  write_package(path, contents);
  PackageContents loaded = read_package(path, /*aligned_params=*/true);
  EXPECT_TRUE(loaded.params.empty());
  ASSERT_TRUE(loaded.params_storage);
  EXPECT_EQ(loaded.params_size, contents.params.size());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(loaded.params_storage.get()) % Tensor::kAlignment, 0u);
  const std::byte* begin = loaded.params_storage.get();
  auto params = deserialize_params_in_place(loaded.params_storage, loaded.params_size, "p");
  for (const auto& [name, tensor] : sample_params()) {
    ASSERT_EQ(params.count(name), 1u) << name;
    EXPECT_TRUE(params.at(name).identical(tensor)) << name;
    // A view into the package's buffer, not a copy.
    const auto* data = static_cast<const std::byte*>(params.at(name).data());
    EXPECT_TRUE(data >= begin && data <= begin + loaded.params_size) << name;
  }
  // The views keep the buffer alive.
  loaded = PackageContents();
  EXPECT_TRUE(params.at("conv1.weight").identical(sample_params().at("conv1.weight")));
}

TEST(PackageTest, TruncatedOrForeignFilesAreRefused) {
  TempDir dir;
  std::string path = dir.file("m.tar");
  write_package(path, sample_package());
  std::string bytes = read_file(path);
  for (size_t length : {bytes.size() / 2, size_t{700}, size_t{100}}) {
    write_file(path, bytes.substr(0, length));
    EXPECT_KILN_ERROR(read_package(path), path + " is not a valid Kiln package: ");
  }
  write_file(path, "just some text, not an archive\n");
  EXPECT_KILN_ERROR(read_package(path), path + " is not a valid Kiln package: it is not a tar");
  write_file(path, "");
  EXPECT_KILN_ERROR(read_package(path), path + " is not a valid Kiln package: ");
  EXPECT_KILN_ERROR(read_package(dir.file("absent.tar")), "cannot open the package '");
  EXPECT_KILN_ERROR(read_package(dir.file("")), "it is not a regular file");
}

// A minimal ustar writer, so that tests can build archives the package writer never would.
class TarBuilder {
 public:
  TarBuilder& add(const std::string& name, const std::string& data, char type = '0',
                  const std::string& claimed_size = "") {
    char header[512] = {};
    std::snprintf(header, 100, "%s", name.c_str());
    std::snprintf(header + 100, 8, "%07o", 0644);
    std::snprintf(header + 108, 8, "%07o", 0);
    std::snprintf(header + 116, 8, "%07o", 0);
    if (claimed_size.empty()) {
      std::snprintf(header + 124, 12, "%011llo", static_cast<unsigned long long>(data.size()));
    } else {
      std::snprintf(header + 124, 12, "%s", claimed_size.c_str());
    }
    std::snprintf(header + 136, 12, "%011o", 0);
    header[156] = type;
    std::memcpy(header + 257, "ustar", 6);
    std::memcpy(header + 263, "00", 2);
    std::memset(header + 148, ' ', 8);
    unsigned sum = 0;
    for (unsigned char c : header) sum += c;
    std::snprintf(header + 148, 8, "%06o", sum);
    bytes_.append(header, 512);
    bytes_ += data;
    bytes_.append((512 - data.size() % 512) % 512, '\0');
    return *this;
  }
  std::string finish() const { return bytes_ + std::string(1024, '\0'); }

 private:
  std::string bytes_;
};

// The members of a valid package, to add to a hand-built archive.
TarBuilder valid_members(bool with_library = true) {
  PackageContents contents = sample_package();
  auto hex = [](const std::string& bytes) {
    return support::to_hex(support::sha256(bytes.data(), bytes.size()));
  };
  std::string metadata = "{\"target\": \"llvm\"}";
  std::string sums = hex(metadata) + "  metadata.json\n" + hex(contents.graph_json) +
                     "  mod.json\n" + hex(contents.params) + "  mod.params\n";
  if (with_library) sums += hex(contents.library) + "  mod.so\n";
  TarBuilder tar;
  tar.add("SHA256SUMS", sums);
  tar.add("metadata.json", metadata);
  tar.add("mod.json", contents.graph_json);
  tar.add("mod.params", contents.params);
  if (with_library) tar.add("mod.so", contents.library);
  return tar;
}

TEST(PackageTest, HandBuiltValidArchiveIsAccepted) {
  TempDir dir;
  write_file(dir.file("m.tar"), valid_members().finish());
  EXPECT_EQ(read_package(dir.file("m.tar")).library, sample_package().library);
}

TEST(PackageTest, UnsafeOrUnexpectedMembersAreRefused) {
  TempDir dir;
  std::string path = dir.file("m.tar");
  struct Case {
    std::string archive;
    std::string message;
  } cases[] = {
      {valid_members().add("../evil.so", "x").finish(), "member '../evil.so' has a path"},
      {valid_members().add("/etc/evil", "x").finish(), "member '/etc/evil' has a path"},
      {valid_members().add("lib/mod.so", "x").finish(), "member 'lib/mod.so' has a path"},
      {valid_members().add("notes.txt", "x").finish(), "unexpected member 'notes.txt'"},
      {valid_members().add("mod.json", "{}").finish(), "member 'mod.json' appears twice"},
      {valid_members(false).add("mod.so", "", '2').finish(),
       "member 'mod.so' is not a regular file"},
      {valid_members(false).finish(), "mod.so is missing"},
      {valid_members(false).add("mod.so", "", '0', "07777777777").finish(),
       "member 'mod.so' has an impossible size (1073741823 bytes"},
      {valid_members(false).add("mod.so", "", '5').finish(),
       "member 'mod.so' is not a regular file"},
      {valid_members().add("SHA256SUMS", "").finish(), "member 'SHA256SUMS' appears twice"},
  };
  for (const Case& test : cases) {
    write_file(path, test.archive);
    EXPECT_KILN_ERROR(read_package(path), path + " is not a valid Kiln package: " + test.message);
  }
  // The limits are named.
  write_file(path, valid_members(false).add("mod.so", "", '0', "07777777777").finish());
  EXPECT_KILN_ERROR(read_package(path),
                    "; a member may be at most as large as the file, and at most 16 GiB)");
  TarBuilder no_checksums;
  no_checksums.add("metadata.json", "{\"target\": \"llvm\"}").add("mod.json", "{}");
  no_checksums.add("mod.params", "").add("mod.so", "");
  write_file(path, no_checksums.finish());
  EXPECT_KILN_ERROR(read_package(path),
                    "SHA256SUMS is missing: the package was written by another Kiln version");
}

// metadata.json is under the checksum like every other member, and SHA256SUMS must list exactly
// the members, each once, well formed.
TEST(PackageTest, ChecksumListingIsCheckedStrictly) {
  TempDir dir;
  std::string path = dir.file("m.tar");
  write_package(path, sample_package());
  std::string original = read_file(path);
  std::string listing = member(original, "SHA256SUMS");

  // A changed metadata.json (same length, so the tar stays well formed).
  std::string bytes = original;
  size_t at = bytes.find("\"llvm\"");
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, 6, "\"llvn\"");
  write_file(path, bytes);
  EXPECT_KILN_ERROR(read_package(path),
                    "metadata.json does not match its SHA-256 in SHA256SUMS (the package was "
                    "modified or corrupted; compile it again)");

  auto with_listing = [&](const std::string& sums) {
    TarBuilder tar;
    PackageContents contents = sample_package();
    tar.add("SHA256SUMS", sums);
    tar.add("metadata.json", member(original, "metadata.json"));
    tar.add("mod.json", contents.graph_json).add("mod.params", contents.params);
    tar.add("mod.so", contents.library);
    write_file(path, tar.finish());
  };
  with_listing(listing);
  EXPECT_NO_THROW(read_package(path));
  std::string first_line = listing.substr(0, listing.find('\n') + 1);
  std::string rest = listing.substr(first_line.size());
  struct Case {
    std::string listing;
    std::string message;
  } cases[] = {
      {rest, "metadata.json has no SHA-256 in SHA256SUMS"},
      {listing + first_line, "SHA256SUMS lists 'metadata.json' twice"},
      {listing + std::string(64, 'a') + "  mod.o\n",
       "SHA256SUMS lists 'mod.o', which is not a member"},
      {listing.substr(0, listing.size() - 1), "SHA256SUMS does not end a line"},
      {"ZZ" + listing.substr(2), "SHA256SUMS has a malformed line"},
      {first_line.substr(0, 64) + " " + first_line.substr(66) + rest,
       "SHA256SUMS has a malformed line"},
  };
  for (const Case& test : cases) {
    with_listing(test.listing);
    EXPECT_KILN_ERROR(read_package(path), path + " is not a valid Kiln package: " + test.message);
  }
}

}  // namespace
}  // namespace kiln::runtime
