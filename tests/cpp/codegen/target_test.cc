#include "codegen/target.h"

#include <gtest/gtest.h>

#include "kiln/error.h"

namespace kiln::codegen {
namespace {

std::string error_of(const std::string& text) {
  try {
    parse_target(text);
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

TEST(TargetTest, PlainLlvmIsTheHost) {
  Target target = parse_target("llvm");
  EXPECT_EQ(target.kind, "llvm");
  EXPECT_TRUE(target.is_host());
  EXPECT_EQ(target.opt_level, 3);
  EXPECT_EQ(target.str(), "llvm");
  EXPECT_FALSE(target.effective_cpu().empty());
  EXPECT_FALSE(target.effective_triple().empty());
  // Host features are spelled out (a CPU name alone may overstate a virtual machine).
  EXPECT_NE(target.effective_features().find('+'), std::string::npos);
  int bits = target.vector_bits();
  EXPECT_TRUE(bits == 128 || bits == 256 || bits == 512) << bits;
}

TEST(TargetTest, ParsesEveryOptionAndPrintsCanonically) {
  Target target = parse_target(
      "llvm  -mcpu=znver4 -mattr=+avx2,+fma -num-cores=4 -opt-level=2 -mtriple=x86_64-linux-gnu");
  EXPECT_EQ(target.mcpu, "znver4");
  EXPECT_EQ(target.mattr, "+avx2,+fma");
  EXPECT_EQ(target.num_cores, 4);
  EXPECT_EQ(target.opt_level, 2);
  EXPECT_EQ(target.str(),
            "llvm -mtriple=x86_64-linux-gnu -mcpu=znver4 -mattr=+avx2,+fma -num-cores=4 "
            "-opt-level=2");
  EXPECT_EQ(parse_target(target.str()).str(), target.str());
  // An explicit CPU means that CPU: no host features are mixed in.
  EXPECT_EQ(target.effective_cpu(), "znver4");
  EXPECT_EQ(target.effective_features(), "+avx2,+fma");
}

TEST(TargetTest, CrossTargetIsNotHost) {
  Target target = parse_target("llvm -mtriple=aarch64-linux-gnu");
  EXPECT_FALSE(target.is_host());
  EXPECT_EQ(target.effective_cpu(), "generic");
  EXPECT_EQ(target.effective_features(), "");
  EXPECT_NE(target.effective_triple().find("aarch64"), std::string::npos);
  EXPECT_EQ(target.vector_bits(), 128);
}

TEST(TargetTest, VectorBitsFollowCpuAndFeatures) {
  const std::string x86 = "llvm -mtriple=x86_64-linux-gnu ";
  EXPECT_EQ(parse_target(x86 + "-mcpu=skylake-avx512").vector_bits(), 512);
  EXPECT_EQ(parse_target(x86 + "-mcpu=znver4").vector_bits(), 512);
  EXPECT_EQ(parse_target(x86 + "-mcpu=haswell").vector_bits(), 256);
  EXPECT_EQ(parse_target(x86 + "-mcpu=x86-64").vector_bits(), 128);
  EXPECT_EQ(parse_target(x86 + "-mcpu=x86-64 -mattr=+avx2").vector_bits(), 256);
  EXPECT_EQ(parse_target(x86 + "-mcpu=skylake-avx512 -mattr=-avx512f").vector_bits(), 256);
}

TEST(TargetTest, ErrorsNameTheBadPartAndTheValidChoices) {
  EXPECT_NE(error_of("cuda").find("unknown target kind 'cuda'"), std::string::npos);
  EXPECT_NE(error_of("cuda").find("supported kinds: llvm"), std::string::npos);
  EXPECT_NE(error_of("").find("empty target"), std::string::npos);

  std::string option = error_of("llvm -mcpus=x");
  EXPECT_NE(option.find("unknown target option '-mcpus'"), std::string::npos) << option;
  EXPECT_NE(option.find("-mcpu, -mattr, -mtriple, -num-cores, -opt-level"), std::string::npos)
      << option;
  EXPECT_NE(error_of("llvm -mcpu").find("-name=value"), std::string::npos);
  EXPECT_NE(error_of("llvm -mcpu=").find("empty value"), std::string::npos);

  std::string cpu = error_of("llvm -mcpu=znver9");
  EXPECT_NE(cpu.find("unknown CPU 'znver9'"), std::string::npos) << cpu;
  EXPECT_NE(cpu.find("did you mean 'znver"), std::string::npos) << cpu;

  std::string feature = error_of("llvm -mtriple=x86_64-linux-gnu -mattr=+avx3");
  EXPECT_NE(feature.find("unknown target feature 'avx3'"), std::string::npos) << feature;
  EXPECT_NE(error_of("llvm -mattr=avx2").find("+name or -name"), std::string::npos);

  EXPECT_NE(error_of("llvm -opt-level=4").find("[0, 3]"), std::string::npos);
  EXPECT_NE(error_of("llvm -num-cores=abc").find("invalid value 'abc'"), std::string::npos);
  EXPECT_NE(error_of("llvm -mtriple=nonsense-cpu").find("unknown target triple"),
            std::string::npos);
}

TEST(TargetTest, OptionsAreListedForTheCli) {
  std::vector<std::string> names;
  for (const TargetOption& option : llvm_target_options()) {
    names.push_back(option.name);
    EXPECT_FALSE(option.help.empty());
  }
  EXPECT_EQ(names,
            (std::vector<std::string>{"mcpu", "mattr", "mtriple", "num-cores", "opt-level"}));
}

}  // namespace
}  // namespace kiln::codegen
