// The public runtime API (include/kiln/runtime.h, include/kiln/runtime_c.h): a small model is
// compiled with the driver, then used through the runtime API only. Expected values come from the
// model's definition: y = relu(x * scale + 0.5), elementwise, scale broadcast over rows.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "ir/module.h"
#include "ir/op.h"
#include "kiln/kiln.h"
#include "kiln/runtime.h"
#include "kiln/runtime_c.h"
#include "runtime/graph_executor.h"
#include "runtime_test_util.h"

// Counts the allocations made by this program while `g_count_allocations` is set, to check that
// Session::run allocates nothing. (Replacing the global operator new is allowed once per program;
// the aligned and nothrow forms keep their default, which the plain delete matches.)
namespace {
std::atomic<bool> g_count_allocations{false};
std::atomic<int64_t> g_allocations{0};
}  // namespace

// GCC cannot see that the operator new above is malloc: its pairing warning is a false positive.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(size_t size) {
  if (g_count_allocations.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t size) { return ::operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace kiln {
namespace {

using runtime::testing::TempDir;

constexpr int64_t kRows = 4, kCols = 40;

// y = relu(x * scale + 0.5) with x: float32[4, cols], scale: float32[cols].
Model scale_model(int64_t cols = kCols) {
  ir::Var x = ir::VarNode::make("x", ir::tensor_type(DType::kFloat32, {kRows, cols}));
  ir::Var scale = ir::VarNode::make("scale", ir::tensor_type(DType::kFloat32, {cols}));
  ir::Constant half = ir::ConstantNode::make(Tensor::from_float32s({0.5f}, {}), "half");
  ir::Expr y = ir::call(
      "relu", {ir::call("add", {ir::call("multiply", {x, scale}, {}, "mul"), half}, {}, "add")}, {},
      "act");
  auto module = std::make_shared<const ir::Module>(ir::FunctionNode::make({x, scale}, y),
                                                   std::vector<std::string>{"y"});
  return Model(module, "kiln", "");
}

std::vector<float> expected(const std::vector<float>& x, const std::vector<float>& scale) {
  std::vector<float> y(x.size());
  int64_t cols = static_cast<int64_t>(scale.size());
  for (int64_t r = 0; r < kRows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      size_t i = static_cast<size_t>(r * cols + c);
      y[i] = std::max(x[i] * scale[static_cast<size_t>(c)] + 0.5f, 0.0f);
    }
  }
  return y;
}

std::vector<float> ramp(size_t n, float start, float step) {
  std::vector<float> values(n);
  for (size_t i = 0; i < n; ++i) values[i] = start + step * static_cast<float>(i % 13);
  return values;
}

// One compiled package for the whole suite (compiling is the slow part).
class SessionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    CompileOptions options;
    options.package_path = dir_->file("scale.tar");
    compile(scale_model(), options);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string package() { return dir_->file("scale.tar"); }
  static TempDir* dir_;
};
TempDir* SessionTest::dir_ = nullptr;

void expect_output(const TensorView& view, const std::vector<float>& want) {
  ASSERT_EQ(view.dtype, DType::kFloat32);
  ASSERT_EQ(std::vector<int64_t>(view.shape.begin(), view.shape.end()),
            (std::vector<int64_t>{kRows, kCols}));
  ASSERT_EQ(view.nbytes, want.size() * sizeof(float));
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_FLOAT_EQ(view.data_as<float>()[i], want[i]) << "element " << i;
  }
}

TEST_F(SessionTest, DescribesInputsAndOutputs) {
  Session session(package());
  ASSERT_EQ(session.inputs().size(), 2u);
  EXPECT_EQ(session.inputs()[0].name, "x");
  EXPECT_EQ(session.inputs()[0].type_string(), "float32[4, 40]");
  EXPECT_EQ(session.inputs()[1].name, "scale");
  EXPECT_EQ(session.inputs()[1].shape, (std::vector<int64_t>{kCols}));
  ASSERT_EQ(session.outputs().size(), 1u);
  EXPECT_EQ(session.outputs()[0].name, "y");
  EXPECT_EQ(session.input_index("scale"), 1u);
  EXPECT_EQ(session.output_index("y"), 0u);
  EXPECT_GE(session.num_kernels(), 1u);
  EXPECT_NE(session.target().find("llvm"), std::string::npos);
}

TEST_F(SessionTest, CopiedInputsAndOutputViews) {
  Session session(package());
  std::vector<float> x = ramp(kRows * kCols, -3.0f, 0.5f), scale = ramp(kCols, -1.0f, 0.25f);
  session.set_input("x", Tensor::from_float32s(x, {kRows, kCols}));
  session.set_input(1, DType::kFloat32, {kCols}, scale.data(), scale.size() * sizeof(float));
  x.assign(x.size(), 100.0f);  // copied: the caller may reuse its memory at once
  session.run();
  TensorView view = session.output(0);
  expect_output(view, expected(ramp(kRows * kCols, -3.0f, 0.5f), scale));

  // The view is the session's memory: the next run overwrites it, at the same address.
  Tensor copy = session.get_output(0);
  std::vector<float> x2 = ramp(kRows * kCols, 1.0f, -0.75f);
  session.set_input("x", Tensor::from_float32s(x2, {kRows, kCols}));
  session.run();
  EXPECT_EQ(session.output(0).data, view.data);
  expect_output(view, expected(x2, scale));
  EXPECT_FLOAT_EQ(copy.data_as<float>()[0], expected(ramp(kRows * kCols, -3.0f, 0.5f), scale)[0]);
}

TEST_F(SessionTest, ZeroCopyInputsAreReadAtEveryRun) {
  Session session(package());
  size_t nbytes = kRows * kCols * sizeof(float);
  auto* x = static_cast<float*>(std::aligned_alloc(Tensor::kAlignment, nbytes));
  std::unique_ptr<float, decltype(&std::free)> owner(x, std::free);
  std::vector<float> values = ramp(kRows * kCols, -2.0f, 0.5f), scale = ramp(kCols, 0.5f, 0.1f);
  std::memcpy(x, values.data(), nbytes);
  session.bind_input(0, DType::kFloat32, {kRows, kCols}, x, nbytes);
  session.set_input("scale", Tensor::from_float32s(scale, {kCols}));
  session.run();
  expect_output(session.output(0), expected(values, scale));

  // Not copied: a change to the caller's buffer shows in the next run.
  for (size_t i = 0; i < values.size(); ++i) x[i] = values[i] = static_cast<float>(i) * -0.1f;
  session.run();
  expect_output(session.output(0), expected(values, scale));

  // set_input copies into the session's own storage again: the buffer no longer matters.
  std::vector<float> own = ramp(kRows * kCols, 0.0f, 1.0f);
  session.set_input("x", Tensor::from_float32s(own, {kRows, kCols}));
  std::fill(x, x + kRows * kCols, -1000.0f);
  session.run();
  expect_output(session.output(0), expected(own, scale));
}

TEST_F(SessionTest, OpensAnUnpackedDirectory) {
  TempDir unpacked;
  std::string command = "tar -xf '" + package() + "' -C '" + unpacked.file("") + "'";
  ASSERT_EQ(std::system(command.c_str()), 0);
  std::vector<float> x = ramp(kRows * kCols, -1.0f, 0.3f), scale = ramp(kCols, 1.0f, -0.2f);
  Session from_dir(unpacked.file(""));
  from_dir.set_input("x", Tensor::from_float32s(x, {kRows, kCols}));
  from_dir.set_input("scale", Tensor::from_float32s(scale, {kCols}));
  from_dir.run();
  expect_output(from_dir.output(0), expected(x, scale));

  // Checksums are verified for a directory as for a tar.
  std::string params = runtime::testing::read_file(unpacked.file("mod.json"));
  runtime::testing::write_file(unpacked.file("mod.json"), params + " ");
  EXPECT_KILN_ERROR(Session{unpacked.file("")}, "mod.json does not match its SHA-256");
  std::filesystem::remove(unpacked.file("mod.so"));
  EXPECT_KILN_ERROR(Session{unpacked.file("")}, "mod.so is missing");
}

// Two packages whose kernels share names, open at once: each session runs its own kernels (the
// second module must not be taken for the first, whose in-memory file name it could reuse).
TEST_F(SessionTest, SessionsOfDifferentPackagesCoexist) {
  TempDir dir;
  CompileOptions options;
  options.package_path = dir.file("narrow.tar");
  compile(scale_model(24), options);
  std::vector<std::unique_ptr<Session>> sessions;
  for (int i = 0; i < 3; ++i) {
    sessions.push_back(std::make_unique<Session>(package()));
    sessions.push_back(std::make_unique<Session>(options.package_path));
  }
  for (auto& session : sessions) {
    int64_t cols = session->inputs()[1].shape[0];
    std::vector<float> x = ramp(static_cast<size_t>(kRows * cols), -2.0f, 0.25f);
    std::vector<float> scale = ramp(static_cast<size_t>(cols), 0.75f, -0.125f);
    session->set_input("x", Tensor::from_float32s(x, {kRows, cols}));
    session->set_input("scale", Tensor::from_float32s(scale, {cols}));
    session->run();
    std::vector<float> want = expected(x, scale);
    TensorView view = session->output(0);
    ASSERT_EQ(view.nbytes, want.size() * sizeof(float));
    for (size_t i = 0; i < want.size(); ++i) ASSERT_FLOAT_EQ(view.data_as<float>()[i], want[i]);
  }
}

TEST_F(SessionTest, RunAllocatesNothing) {
  Session session(package(), SessionOptions{2});
  std::vector<float> x = ramp(kRows * kCols, -3.0f, 0.5f), scale = ramp(kCols, -1.0f, 0.25f);
  session.set_input("x", Tensor::from_float32s(x, {kRows, kCols}));
  session.set_input("scale", Tensor::from_float32s(scale, {kCols}));
  session.run();  // the thread pool starts on the first run
  std::vector<int64_t> shape = {kRows, kCols};
  g_allocations = 0;
  g_count_allocations = true;
  float sum = 0;
  for (int i = 0; i < 10; ++i) {
    session.set_input(0, DType::kFloat32, shape, x.data(), x.size() * sizeof(float));
    session.run();
    TensorView view = session.output(0);
    sum += view.data_as<float>()[0] + static_cast<float>(view.shape[1]);
  }
  g_count_allocations = false;
  EXPECT_EQ(g_allocations.load(), 0);
  EXPECT_GT(sum, 0.0f);
}

TEST_F(SessionTest, ThreadCountIsPerSession) {
  Session one(package(), SessionOptions{1});
  Session three(package(), SessionOptions{3});
  EXPECT_EQ(one.num_threads(), 1);
  EXPECT_EQ(three.num_threads(), 3);
  Session plain(package());
  EXPECT_EQ(plain.num_threads(), runtime::num_threads());
  std::vector<float> x = ramp(kRows * kCols, -3.0f, 0.5f), scale = ramp(kCols, -1.0f, 0.25f);
  for (Session* session : {&one, &three}) {
    session->set_input("x", Tensor::from_float32s(x, {kRows, kCols}));
    session->set_input("scale", Tensor::from_float32s(scale, {kCols}));
    session->run();
    expect_output(session->output(0), expected(x, scale));
  }
  one.set_num_threads(2);
  EXPECT_EQ(one.num_threads(), 2);
  EXPECT_KILN_ERROR(one.set_num_threads(2000), "between 1 and 1024");
  EXPECT_KILN_ERROR(one.set_num_threads(-1), "between 1 and 1024");
  EXPECT_KILN_ERROR((Session{package(), SessionOptions{5000}}), "between 1 and 1024");
}

TEST_F(SessionTest, ErrorsNameTheExpectedInput) {
  Session session(package());
  EXPECT_KILN_ERROR(session.set_input("x", Tensor(DType::kFloat32, {kRows, kCols - 1})),
                    "input 'x' expects float32[4, 40], got float32[4, 39]");
  EXPECT_KILN_ERROR(session.set_input("x", Tensor(DType::kInt32, {kRows, kCols})),
                    "input 'x' expects float32[4, 40], got int32[4, 40]");
  EXPECT_KILN_ERROR(session.set_input("z", Tensor(DType::kFloat32, {1})),
                    "no input 'z'; its inputs are: 'x' float32[4, 40], 'scale' float32[40]");
  EXPECT_KILN_ERROR(session.set_input(7, Tensor(DType::kFloat32, {1})), "out of range");
  EXPECT_KILN_ERROR(session.set_input("x", Tensor()), "got an empty tensor");
  std::vector<float> small(3);
  EXPECT_KILN_ERROR(session.set_input(0, DType::kFloat32, {kRows, kCols}, small.data(), 12),
                    "needs 640 bytes, got 12");
  alignas(64) static float buffer[kRows * kCols + 1];
  EXPECT_KILN_ERROR(session.bind_input(0, DType::kFloat32, {kRows, kCols}, buffer + 1,
                                       kRows * kCols * sizeof(float)),
                    "aligned to 64 bytes");
  EXPECT_KILN_ERROR(session.output(1), "output index 1 is out of range");
  EXPECT_KILN_ERROR(session.output_index("q"), "no output 'q'; its outputs are: 'y'");
  EXPECT_KILN_ERROR(Session{"/nonexistent/model.tar"}, "cannot open the package");
  TempDir empty;
  EXPECT_KILN_ERROR(Session{empty.file("")}, "metadata.json is missing");
}

TEST_F(SessionTest, RefusesAPackageForAnotherArchitecture) {
  TempDir dir;
  CompileOptions options;
  options.package_path = dir.file("arm.tar");
  options.target = "llvm -mtriple=aarch64-linux-gnu";
  compile(scale_model(), options);
  EXPECT_KILN_ERROR(Session{options.package_path}, "was compiled for aarch64");
}

TEST_F(SessionTest, InterruptStopsARun) {
  Session session(package());
  request_interrupt();
  EXPECT_THROW(session.run(), Interrupted);
  clear_interrupt();
  EXPECT_NO_THROW(session.run());
}

TEST_F(SessionTest, InterruptStopsACompile) {
  TempDir dir;
  CompileOptions options;
  options.package_path = dir.file("never.tar");
  request_interrupt();
  EXPECT_THROW(compile(scale_model(), options), Interrupted);
  clear_interrupt();
  EXPECT_FALSE(std::filesystem::exists(options.package_path));
}

TEST_F(SessionTest, CAbi) {
  KilnSession* session = nullptr;
  ASSERT_EQ(kiln_session_open(package().c_str(), 2, &session), KILN_OK) << kiln_last_error();
  size_t inputs = 0, outputs = 0;
  ASSERT_EQ(kiln_session_num_inputs(session, &inputs), KILN_OK);
  ASSERT_EQ(kiln_session_num_outputs(session, &outputs), KILN_OK);
  EXPECT_EQ(inputs, 2u);
  EXPECT_EQ(outputs, 1u);
  KilnTensorInfo info{};
  ASSERT_EQ(kiln_session_input_info(session, 0, &info), KILN_OK);
  EXPECT_STREQ(info.name, "x");
  EXPECT_STREQ(info.dtype, "float32");
  ASSERT_EQ(info.ndim, 2u);
  EXPECT_EQ(info.shape[1], kCols);
  EXPECT_EQ(info.nbytes, kRows * kCols * sizeof(float));
  size_t scale_index = 0;
  ASSERT_EQ(kiln_session_input_index(session, "scale", &scale_index), KILN_OK);
  EXPECT_EQ(scale_index, 1u);

  std::vector<float> x = ramp(kRows * kCols, -3.0f, 0.5f), scale = ramp(kCols, -1.0f, 0.25f);
  auto* aligned = static_cast<float*>(std::aligned_alloc(64, x.size() * sizeof(float)));
  std::unique_ptr<float, decltype(&std::free)> owner(aligned, std::free);
  std::memcpy(aligned, x.data(), x.size() * sizeof(float));
  ASSERT_EQ(kiln_session_bind_input(session, 0, aligned, x.size() * sizeof(float)), KILN_OK);
  ASSERT_EQ(kiln_session_set_input(session, 1, scale.data(), scale.size() * sizeof(float)),
            KILN_OK);
  ASSERT_EQ(kiln_session_run(session), KILN_OK) << kiln_last_error();
  const void* data = nullptr;
  size_t nbytes = 0;
  ASSERT_EQ(kiln_session_output(session, 0, &data, &nbytes), KILN_OK);
  std::vector<float> want = expected(x, scale);
  ASSERT_EQ(nbytes, want.size() * sizeof(float));
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_FLOAT_EQ(static_cast<const float*>(data)[i], want[i]);
  }

  // Errors: a status and a message naming what was expected.
  EXPECT_EQ(kiln_session_set_input(session, 0, x.data(), 12), KILN_ERROR);
  EXPECT_NE(std::string(kiln_last_error()).find("input 'x' (float32[4, 40]) needs 640 bytes"),
            std::string::npos)
      << kiln_last_error();
  EXPECT_EQ(kiln_session_input_index(session, "nope", &scale_index), KILN_ERROR);
  EXPECT_NE(std::string(kiln_last_error()).find("its inputs are: 'x'"), std::string::npos);
  EXPECT_EQ(kiln_session_set_input(session, 9, x.data(), 4), KILN_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_session_output(session, 3, &data, &nbytes), KILN_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_session_input_info(session, 0, nullptr), KILN_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_session_run(nullptr), KILN_INVALID_ARGUMENT);
  EXPECT_NE(std::string(kiln_last_error()).find("session is NULL"), std::string::npos);
  EXPECT_EQ(kiln_session_bind_input(session, 0, reinterpret_cast<char*>(aligned) + 4,
                                    x.size() * sizeof(float)),
            KILN_ERROR);
  EXPECT_NE(std::string(kiln_last_error()).find("aligned"), std::string::npos);
  EXPECT_EQ(kiln_session_set_num_threads(session, 0), KILN_OK);
  EXPECT_EQ(kiln_session_set_num_threads(session, 99999), KILN_ERROR);
  kiln_request_interrupt();
  EXPECT_EQ(kiln_session_run(session), KILN_INTERRUPTED);
  kiln_clear_interrupt();
  EXPECT_EQ(kiln_session_run(session), KILN_OK);
  kiln_session_close(session);
  kiln_session_close(nullptr);

  KilnSession* missing = nullptr;
  EXPECT_EQ(kiln_session_open("/nonexistent.tar", 0, &missing), KILN_ERROR);
  EXPECT_EQ(missing, nullptr);
  EXPECT_NE(std::string(kiln_last_error()).find("/nonexistent.tar"), std::string::npos);
  EXPECT_EQ(kiln_session_open(nullptr, 0, &missing), KILN_INVALID_ARGUMENT);
  EXPECT_STREQ(kiln_runtime_version(), version().c_str());
}

}  // namespace
}  // namespace kiln
