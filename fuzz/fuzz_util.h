// Shared by the fuzz targets: a private scratch file per process (the ONNX, npz and package
// readers take paths), and the rule for what counts as a finding.
//
// A kiln::Error is the expected answer to a hostile file. Anything else is a finding and aborts
// so that libFuzzer saves the input: an InternalError (a failed KILN_CHECK: a user's file must
// never reach one), a JSON library exception, std::bad_alloc, or any other exception. Crashes,
// leaks, undefined behaviour and huge allocations are caught by the sanitizers and libFuzzer
// itself (-malloc_limit_mb, -rss_limit_mb, -timeout).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <typeinfo>

#include "kiln/error.h"

namespace kiln::fuzz {

// A directory of this process's own (on tmpfs when there is one), removed at exit.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    std::filesystem::path base =
        std::filesystem::exists("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
    std::filesystem::path made = base / ("kiln-fuzz-" + std::to_string(getpid()));
    std::filesystem::create_directories(made);
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(scratch_dir(), ignored);
    });
    return made;
  }();
  return dir;
}

// Writes `size` bytes to scratch_dir()/name (replacing it) and returns the path.
inline std::string write_scratch(const std::string& name, const uint8_t* data, size_t size) {
  std::string path = (scratch_dir() / name).string();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) {
    std::fprintf(stderr, "fuzz harness: cannot write %s\n", path.c_str());
    std::abort();
  }
  return path;
}

// Runs `body`; a kiln::Error is the expected outcome for a bad input, anything else aborts.
template <typename Body>
void expect_clean(Body&& body) {
  try {
    body();
  } catch (const kiln::Error&) {
    // The clear user error a hostile input must get.
  } catch (const kiln::InternalError& error) {
    std::fprintf(stderr, "FINDING: internal error for a file input: %s\n", error.what());
    std::abort();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "FINDING: %s escaped instead of kiln::Error: %s\n", typeid(error).name(),
                 error.what());
    std::abort();
  }
}

}  // namespace kiln::fuzz
