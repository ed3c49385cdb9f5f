#include "codegen/target.h"

#include <llvm/ADT/StringMap.h>
#include <llvm/TargetParser/Host.h>
#include <llvm/TargetParser/Triple.h>

#include <algorithm>
#include <charconv>
#include <sstream>

#include "codegen/llvm/llvm_common.h"
#include "kiln/error.h"

namespace kiln::codegen {

namespace {

const char* const kKinds = "llvm";

std::string valid_options_text() {
  std::string text;
  for (const TargetOption& option : llvm_target_options()) {
    if (!text.empty()) text += ", ";
    text += "-" + option.name;
  }
  return text;
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream stream(text);
  while (std::getline(stream, part, separator)) parts.push_back(part);
  return parts;
}

// Levenshtein distance, for "did you mean" hints on CPU and feature names.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1] ? 1 : 0)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

template <typename Table>
std::string closest_name(const std::string& name, const Table& table) {
  std::string best;
  size_t best_distance = SIZE_MAX;
  for (const auto& entry : table) {
    size_t distance = edit_distance(name, entry.Key);
    if (distance < best_distance) {
      best_distance = distance;
      best = entry.Key;
    }
  }
  return best;
}

int parse_int(const std::string& value, const std::string& option, const std::string& text, int lo,
              int hi) {
  int result = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), result);
  if (ec != std::errc() || end != value.data() + value.size() || result < lo || result > hi) {
    throw Error("invalid value '" + value + "' for target option -" + option + " in '" + text +
                "'; expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                "]");
  }
  return result;
}

bool host_triple_matches(const llvm::Triple& triple) {
  llvm::Triple host(llvm::sys::getProcessTriple());
  return triple.getArch() == host.getArch() && triple.getOS() == host.getOS();
}

// Checks -mtriple, -mcpu and -mattr against what LLVM knows, so that a typo fails at parse time
// with a hint instead of a warning from deep inside LLVM.
void validate_with_llvm(const Target& target, const std::string& text) {
  llvm::Triple triple(target.effective_triple());
  if (triple.getArch() == llvm::Triple::UnknownArch) {
    throw Error("unknown target triple '" + target.mtriple + "' in '" + text +
                "'; expected e.g. x86_64-linux-gnu or aarch64-linux-gnu");
  }
  // A generic subtarget: creating one for an unknown CPU would print a warning.
  std::unique_ptr<llvm::MCSubtargetInfo> info = create_subtarget_info(triple.str(), "", "");
  if (!target.mcpu.empty() && !info->isCPUStringValid(target.mcpu)) {
    throw Error("unknown CPU '" + target.mcpu + "' for " + triple.getArchName().str() + " in '" +
                text + "'; did you mean '" +
                closest_name(target.mcpu, info->getAllProcessorDescriptions()) +
                "'? (`llc -mtriple=" + triple.str() + " -mcpu=help` lists them)");
  }
  for (const std::string& feature : split(target.mattr, ',')) {
    if (feature.size() < 2 || (feature[0] != '+' && feature[0] != '-')) {
      throw Error("invalid target feature '" + feature + "' in '" + text +
                  "'; features are written +name or -name, comma-separated (-mattr=+avx2,+fma)");
    }
    std::string name = feature.substr(1);
    bool known = false;
    for (const auto& entry : info->getAllProcessorFeatures()) known |= name == entry.Key;
    if (!known) {
      throw Error("unknown target feature '" + name + "' for " + triple.getArchName().str() +
                  " in '" + text + "'; did you mean '" +
                  closest_name(name, info->getAllProcessorFeatures()) + "'?");
    }
  }
}

}  // namespace

const std::vector<TargetOption>& llvm_target_options() {
  static const std::vector<TargetOption> options = {
      {"mcpu", "CPU to generate code for (default: the host CPU, or generic when cross)"},
      {"mattr", "target features, comma-separated: +avx2,+fma,-avx512f"},
      {"mtriple",
       "target triple, e.g. aarch64-linux-gnu (default: the host); cross targets "
       "are emit-only"},
      {"num-cores", "number of cores the code is tuned for (default: the machine's)"},
      {"opt-level", "LLVM optimisation level 0-3 (default 3)"},
  };
  return options;
}

Target parse_target(const std::string& text) {
  std::istringstream stream(text);
  std::string token;
  if (!(stream >> token)) throw Error("empty target string; expected e.g. 'llvm'");
  if (token != "llvm") {
    throw Error("unknown target kind '" + token + "' in '" + text +
                "'; supported kinds: " + kKinds);
  }
  Target target;
  target.kind = token;
  while (stream >> token) {
    size_t equals = token.find('=');
    if (token.size() < 2 || token[0] != '-' || equals == std::string::npos) {
      throw Error("malformed target option '" + token + "' in '" + text +
                  "'; options are written -name=value (" + valid_options_text() + ")");
    }
    std::string name = token.substr(1, equals - 1);
    std::string value = token.substr(equals + 1);
    if (value.empty()) {
      throw Error("empty value for target option -" + name + " in '" + text + "'");
    }
    if (name == "mcpu") {
      target.mcpu = value;
    } else if (name == "mattr") {
      target.mattr = value;
    } else if (name == "mtriple") {
      target.mtriple = value;
    } else if (name == "num-cores") {
      target.num_cores = parse_int(value, name, text, 1, 1 << 16);
    } else if (name == "opt-level") {
      target.opt_level = parse_int(value, name, text, 0, 3);
    } else {
      throw Error("unknown target option '-" + name + "' in '" + text +
                  "'; options of llvm: " + valid_options_text());
    }
  }
  validate_with_llvm(target, text);
  return target;
}

std::string Target::str() const {
  std::string text = kind;
  if (!mtriple.empty()) text += " -mtriple=" + mtriple;
  if (!mcpu.empty()) text += " -mcpu=" + mcpu;
  if (!mattr.empty()) text += " -mattr=" + mattr;
  if (num_cores != 0) text += " -num-cores=" + std::to_string(num_cores);
  if (opt_level != 3) text += " -opt-level=" + std::to_string(opt_level);
  return text;
}

bool Target::is_host() const {
  return mtriple.empty() || host_triple_matches(llvm::Triple(llvm::Triple::normalize(mtriple)));
}

std::string Target::effective_triple() const {
  if (mtriple.empty()) return llvm::sys::getProcessTriple();
  return llvm::Triple::normalize(mtriple);
}

std::string Target::effective_cpu() const {
  if (!mcpu.empty()) return mcpu;
  return is_host() ? llvm::sys::getHostCPUName().str() : "generic";
}

std::string Target::effective_features() const {
  std::vector<std::string> features;
  // The host's CPU name alone can overstate what the machine has (a VM may hide AVX-512), so
  // the detected features are spelled out; an explicit -mcpu means "that CPU", not this one.
  if (mcpu.empty() && is_host()) {
    for (const auto& entry : llvm::sys::getHostCPUFeatures()) {
      features.push_back((entry.getValue() ? "+" : "-") + entry.getKey().str());
    }
    std::sort(features.begin(), features.end());  // StringMap order is unspecified
  }
  // Explicit features come last so that they override the detected ones.
  for (const std::string& feature : split(mattr, ',')) {
    if (!feature.empty()) features.push_back(feature);
  }
  std::string text;
  for (const std::string& feature : features) {
    if (!text.empty()) text += ",";
    text += feature;
  }
  return text;
}

int Target::vector_bits() const {
  llvm::Triple triple(effective_triple());
  if (!triple.isX86()) return 128;  // AArch64 NEON and the rest; SVE is not used
  std::unique_ptr<llvm::MCSubtargetInfo> info =
      create_subtarget_info(triple.str(), effective_cpu(), effective_features());
  if (info->checkFeatures("+avx512f")) return 512;
  if (info->checkFeatures("+avx")) return 256;
  return 128;
}

}  // namespace kiln::codegen
