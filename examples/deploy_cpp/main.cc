// classify PACKAGE INPUT.npy: runs a compiled classifier on one float32 input and prints the
// five highest scores of its first output as "index score" lines.
#include <kiln/runtime.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

// A minimal .npy reader: version 1 or 2, little-endian float32 ('<f4'), C order.
std::vector<float> read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[8] = {};
  if (!in.read(magic, 8) || std::string(magic, 6) != "\x93NUMPY")
    throw kiln::Error(path + ": not a .npy file");
  uint32_t header_size = 0;
  unsigned char size_bytes[4] = {};
  in.read(reinterpret_cast<char*>(size_bytes), magic[6] == 1 ? 2 : 4);
  for (int i = 3; i >= 0; --i) header_size = header_size << 8 | size_bytes[i];
  std::string header(header_size, '\0');
  in.read(header.data(), header_size);
  if (header.find("'<f4'") == std::string::npos ||
      header.find("'fortran_order': False") == std::string::npos)
    throw kiln::Error(path + ": expected a C-order float32 array");
  std::vector<float> values;
  for (float value; in.read(reinterpret_cast<char*>(&value), sizeof(value));)
    values.push_back(value);
  return values;
}

int main(int argc, char** argv) try {
  if (argc != 3) return std::fprintf(stderr, "usage: classify PACKAGE INPUT.npy\n"), 2;
  kiln::Session session(argv[1]);
  const kiln::TensorSpec& input = session.inputs().at(0);
  std::vector<float> values = read_npy(argv[2]);
  session.set_input(0, kiln::DType::kFloat32, input.shape, values.data(),
                    values.size() * sizeof(float));
  session.run();
  kiln::TensorView scores = session.output(0);  // a view, valid until the next run
  size_t count = scores.nbytes / sizeof(float);
  std::vector<size_t> order(count);
  std::iota(order.begin(), order.end(), 0);
  size_t top = std::min<size_t>(5, count);
  std::partial_sort(order.begin(), order.begin() + top, order.end(), [&](size_t a, size_t b) {
    return scores.data_as<float>()[a] > scores.data_as<float>()[b];
  });
  for (size_t i = 0; i < top; ++i)
    std::printf("%zu %.6f\n", order[i], scores.data_as<float>()[order[i]]);
  return 0;
} catch (const kiln::Error& error) {
  std::fprintf(stderr, "classify: %s\n", error.what());
  return 1;
}
