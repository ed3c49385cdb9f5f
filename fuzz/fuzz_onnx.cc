// libFuzzer target: the ONNX reader and importer (src/frontend/onnx) on arbitrary bytes.
// The whole import runs (model reader, graph checks, converters with their type relations), and
// on success the printed IR, so that names from the file travel through every message.
#include <cstddef>
#include <cstdint>

#include "frontend/frontend.h"
#include "fuzz_util.h"
#include "ir/printer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = kiln::fuzz::write_scratch("model.onnx", data, size);
  kiln::fuzz::expect_clean([&] {
    kiln::ir::Module module = kiln::frontend::import_onnx(path, {});
    kiln::ir::print_module(module);
  });
  return 0;
}
