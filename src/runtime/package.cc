// Packages: a tar with mod.so, mod.json, mod.params, metadata.json, SHA256SUMS and optionally
// mod.o (docs/formats.md, "Packages"). Reading bounds what it allocates and verifies member names,
// types, sizes and the SHA-256 of every member (metadata included) before anything is used.
#include "runtime/package.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <new>
#include <nlohmann/json.hpp>
#include <vector>

#include "kiln/error.h"
#include "kiln/tensor.h"
#include "support/sha256.h"

namespace kiln::runtime {

namespace {

using Json = nlohmann::json;

constexpr const char* kLibrary = "mod.so";
constexpr const char* kGraph = "mod.json";
constexpr const char* kParams = "mod.params";
constexpr const char* kMetadata = "metadata.json";
constexpr const char* kObject = "mod.o";  // optional
// The SHA-256 of every other member, in sha256sum's format ("<hex>  <name>" lines).
constexpr const char* kChecksums = "SHA256SUMS";
// A member larger than this (or than the file holding it) is refused before anything is
// allocated for it. Members are the six names above, each at most once, so this also bounds all
// that reading a package allocates.
constexpr int64_t kMaxMemberBytes = int64_t{16} << 30;
constexpr const char* kMaxMemberText = "16 GiB";
constexpr size_t kSha256HexLength = 64;

std::string sha256_hex(const std::string& bytes) {
  return support::to_hex(support::sha256(bytes.data(), bytes.size()));
}

struct ArchiveDeleter {
  void operator()(archive* handle) const {
    if (handle == nullptr) return;
    if (is_writer) {
      archive_write_free(handle);
    } else {
      archive_read_free(handle);
    }
  }
  bool is_writer = false;
};
using ArchivePtr = std::unique_ptr<archive, ArchiveDeleter>;

std::string archive_message(archive* handle) {
  const char* text = archive_error_string(handle);
  return text != nullptr ? text : "unknown libarchive error";
}

// The timestamp of every member: SOURCE_DATE_EPOCH when set, for byte-identical packages.
time_t member_time() {
  if (const char* epoch = std::getenv("SOURCE_DATE_EPOCH")) {
    char* end = nullptr;
    long long value = std::strtoll(epoch, &end, 10);
    if (end != epoch && *end == '\0' && value >= 0) return static_cast<time_t>(value);
  }
  return std::time(nullptr);
}

// Checks SHA256SUMS (`listing`) against `digests` (every other member's SHA-256): each member is
// listed exactly once, with its digest, and nothing else is listed.
template <typename Invalid>
void verify_checksums(const std::string& listing, const std::map<std::string, std::string>& digests,
                      const Invalid& invalid) {
  std::map<std::string, std::string> listed;
  size_t start = 0;
  while (start < listing.size()) {
    size_t end = listing.find('\n', start);
    if (end == std::string::npos) throw invalid(std::string(kChecksums) + " does not end a line");
    std::string line = listing.substr(start, end - start);
    start = end + 1;
    bool well_formed =
        line.size() > kSha256HexLength + 2 && line.compare(kSha256HexLength, 2, "  ") == 0 &&
        std::all_of(line.begin(), line.begin() + kSha256HexLength,
                    [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
    if (!well_formed) {
      throw invalid(std::string(kChecksums) +
                    " has a malformed line (expected \"<64 hex digits>  <member>\")");
    }
    std::string name = line.substr(kSha256HexLength + 2);
    if (digests.count(name) == 0) {
      throw invalid(std::string(kChecksums) + " lists '" + name + "', which is not a member");
    }
    if (!listed.emplace(name, line.substr(0, kSha256HexLength)).second) {
      throw invalid(std::string(kChecksums) + " lists '" + name + "' twice");
    }
  }
  for (const auto& [name, digest] : digests) {
    auto expected = listed.find(name);
    if (expected == listed.end()) {
      throw invalid(name + " has no SHA-256 in " + kChecksums);
    }
    if (expected->second != digest) {
      throw invalid(name + " does not match its SHA-256 in " + kChecksums +
                    " (the package was modified or corrupted; compile it again)");
    }
  }
}

}  // namespace

void write_package(const std::string& path, const PackageContents& contents) {
  Json metadata;
  try {
    metadata = Json::parse(contents.metadata_json.empty() ? "{}" : contents.metadata_json);
  } catch (const Json::exception& error) {
    KILN_CHECK(false) << "package metadata is not JSON: " << error.what();
  }
  KILN_CHECK(metadata.is_object()) << "package metadata must be a JSON object";
  std::string metadata_text = metadata.dump(2) + "\n";

  // Written beside the target and renamed into place: a failed write never leaves a half package
  // under the final name, and an existing package is replaced atomically.
  std::string partial = path + ".partial-" + std::to_string(::getpid());
  ArchivePtr writer(archive_write_new(), ArchiveDeleter{true});
  KILN_CHECK(writer != nullptr);
  // pax "restricted": plain ustar headers, with a pax extension only for a member > 8 GiB.
  archive_write_set_format_pax_restricted(writer.get());
  auto fail = [&](const std::string& what) {
    std::string message = "cannot write the package '" + path + "': " + what;
    writer.reset();
    ::unlink(partial.c_str());
    throw Error(message);
  };
  if (archive_write_open_filename(writer.get(), partial.c_str()) != ARCHIVE_OK) {
    fail(archive_message(writer.get()));
  }
  std::vector<std::pair<const char*, const std::string*>> members = {{
      {kMetadata, &metadata_text},
      {kGraph, &contents.graph_json},
      {kParams, &contents.params},
      {kLibrary, &contents.library},
  }};
  if (!contents.object.empty()) members.emplace_back(kObject, &contents.object);
  std::string checksums;
  for (const auto& [name, bytes] : members) checksums += sha256_hex(*bytes) + "  " + name + "\n";
  members.emplace_back(kChecksums, &checksums);
  time_t now = member_time();
  for (const auto& [name, bytes] : members) {
    std::unique_ptr<archive_entry, void (*)(archive_entry*)> entry(archive_entry_new(),
                                                                   archive_entry_free);
    archive_entry_set_pathname(entry.get(), name);
    archive_entry_set_filetype(entry.get(), AE_IFREG);
    archive_entry_set_perm(entry.get(), 0644);
    archive_entry_set_size(entry.get(), static_cast<la_int64_t>(bytes->size()));
    archive_entry_set_mtime(entry.get(), now, 0);
    if (archive_write_header(writer.get(), entry.get()) != ARCHIVE_OK) {
      fail(archive_message(writer.get()));
    }
    size_t done = 0;
    while (done < bytes->size()) {
      la_ssize_t written =
          archive_write_data(writer.get(), bytes->data() + done, bytes->size() - done);
      if (written <= 0) fail(archive_message(writer.get()));
      done += static_cast<size_t>(written);
    }
  }
  if (archive_write_close(writer.get()) != ARCHIVE_OK) fail(archive_message(writer.get()));
  writer.reset();
  if (std::rename(partial.c_str(), path.c_str()) != 0) {
    std::string reason = std::strerror(errno);
    ::unlink(partial.c_str());
    throw Error("cannot write the package '" + path + "': " + reason);
  }
}

PackageContents read_package(const std::string& path, bool aligned_params) {
  auto invalid = [&](const std::string& what) -> Error {
    return Error(path + " is not a valid Kiln package: " + what);
  };
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    throw Error("cannot open the package '" + path + "': " + std::strerror(errno));
  }
  if (!S_ISREG(info.st_mode)) throw invalid("it is not a regular file");

  ArchivePtr reader(archive_read_new(), ArchiveDeleter{false});
  KILN_CHECK(reader != nullptr);
  // Plain tar only: no compression filters, so a member can never be larger than the file.
  archive_read_support_format_tar(reader.get());
  if (archive_read_open_filename(reader.get(), path.c_str(), 1 << 16) != ARCHIVE_OK) {
    throw invalid("it is not a tar archive (" + archive_message(reader.get()) + ")");
  }

  std::map<std::string, std::string> members;
  std::shared_ptr<std::byte[]> aligned_storage;
  size_t aligned_size = 0;
  for (;;) {
    archive_entry* entry = nullptr;
    int status = archive_read_next_header(reader.get(), &entry);
    if (status == ARCHIVE_EOF) break;
    if (status < ARCHIVE_WARN) {
      throw invalid(members.empty()
                        ? "it is not a tar archive (" + archive_message(reader.get()) + ")"
                        : "it is truncated or damaged (" + archive_message(reader.get()) + ")");
    }
    const char* raw_name = archive_entry_pathname(entry);
    std::string name = raw_name != nullptr ? raw_name : "";
    if (name.find('/') != std::string::npos || name.find('\\') != std::string::npos) {
      throw invalid("member '" + name + "' has a path; a package holds only " + kLibrary + ", " +
                    kGraph + ", " + kParams + ", " + kMetadata + " and " + kChecksums +
                    ", at its top level");
    }
    if (name != kLibrary && name != kGraph && name != kParams && name != kMetadata &&
        name != kObject && name != kChecksums) {
      throw invalid("unexpected member '" + name + "'; a package holds only " + kLibrary + ", " +
                    kGraph + ", " + kParams + ", " + kMetadata + ", " + kChecksums +
                    " and optionally " + kObject);
    }
    if (archive_entry_filetype(entry) != AE_IFREG) {
      throw invalid("member '" + name + "' is not a regular file");
    }
    if (members.count(name) != 0) throw invalid("member '" + name + "' appears twice");
    int64_t size = archive_entry_size_is_set(entry) ? archive_entry_size(entry) : -1;
    if (size < 0 || size > kMaxMemberBytes || size > static_cast<int64_t>(info.st_size)) {
      throw invalid("member '" + name + "' has an impossible size (" + std::to_string(size) +
                    " bytes in a file of " + std::to_string(info.st_size) +
                    "; a member may be at most as large as the file, and at most " +
                    kMaxMemberText + ")");
    }
    auto read_into = [&](char* destination, size_t length) {
      size_t done = 0;
      while (done < length) {
        la_ssize_t got = archive_read_data(reader.get(), destination + done, length - done);
        if (got < 0) {
          throw invalid("it is truncated or damaged (" + archive_message(reader.get()) + ")");
        }
        if (got == 0) break;
        done += static_cast<size_t>(got);
      }
      if (done != length) throw invalid("member '" + name + "' is truncated");
    };
    if (aligned_params && name == kParams) {
      size_t length = static_cast<size_t>(size);
      auto* raw = static_cast<std::byte*>(
          ::operator new[](std::max<size_t>(length, 1), std::align_val_t(Tensor::kAlignment)));
      aligned_storage = std::shared_ptr<std::byte[]>(
          raw, [](std::byte* p) { ::operator delete[](p, std::align_val_t(Tensor::kAlignment)); });
      aligned_size = length;
      read_into(reinterpret_cast<char*>(raw), length);
      members.emplace(name, std::string());
      continue;
    }
    std::string bytes(static_cast<size_t>(size), '\0');
    read_into(bytes.data(), bytes.size());
    members.emplace(name, std::move(bytes));
  }

  for (const char* name : {kMetadata, kLibrary, kGraph, kParams}) {
    if (members.count(name) == 0) throw invalid(std::string(name) + " is missing");
  }
  if (members.count(kChecksums) == 0) {
    throw invalid(std::string(kChecksums) +
                  " is missing: the package was written by another Kiln version (or damaged); "
                  "compile the model again with this Kiln");
  }
  // Every member's digest, the weights' from wherever they were read to.
  std::map<std::string, std::string> digests;
  for (const auto& [name, bytes] : members) {
    if (name == kChecksums) continue;
    digests[name] = name == kParams && aligned_storage
                        ? support::to_hex(support::sha256(aligned_storage.get(), aligned_size))
                        : sha256_hex(bytes);
  }
  verify_checksums(members[kChecksums], digests, invalid);

  PackageContents contents;
  contents.metadata_json = std::move(members[kMetadata]);
  contents.library = std::move(members[kLibrary]);
  contents.graph_json = std::move(members[kGraph]);
  contents.params = std::move(members[kParams]);
  contents.params_storage = std::move(aligned_storage);
  contents.params_size = aligned_size;
  if (members.count(kObject) != 0) contents.object = std::move(members[kObject]);
  return contents;
}

}  // namespace kiln::runtime
