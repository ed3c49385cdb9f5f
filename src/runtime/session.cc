// kiln::Session (include/kiln/runtime.h): the one way to open and run a compiled package.
#include <nlohmann/json.hpp>

#include "kiln/error.h"
#include "kiln/runtime.h"
#include "runtime/graph_executor.h"
#include "runtime/package.h"
#include "runtime/thread_pool.h"

#ifndef KILN_VERSION
#error "KILN_VERSION must be defined by the build"
#endif

namespace kiln {

namespace {

// The architecture part of the target triples this runtime runs (metadata.json's "triple").
#if defined(__x86_64__)
constexpr const char* kHostArch = "x86_64";
#elif defined(__aarch64__)
constexpr const char* kHostArch = "aarch64";
#else
#error "unknown host architecture: add its triple name"
#endif

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

std::string type_string(DType dtype, const std::vector<int64_t>& shape) {
  return std::string(dtype_name(dtype)) + shape_string(shape);
}

std::string listing(const std::vector<TensorSpec>& specs) {
  std::string text;
  for (const TensorSpec& spec : specs) {
    text += (text.empty() ? "'" : ", '") + spec.name + "' " + spec.type_string();
  }
  return text.empty() ? "(none)" : text;
}

void check_thread_count(int threads) {
  if (threads < 0 || threads > runtime::kMaxThreads) {
    throw Error("a session's thread count must be between 1 and " +
                std::to_string(runtime::kMaxThreads) + " (0: the process default), got " +
                std::to_string(threads));
  }
}

}  // namespace

size_t TensorSpec::nbytes() const {
  size_t count = 1;
  for (int64_t dim : shape) count *= static_cast<size_t>(dim);
  return count * dtype_size(dtype);
}

std::string TensorSpec::type_string() const { return kiln::type_string(dtype, shape); }

struct Session::Impl {
  std::string path;
  std::string target;
  std::string metadata_json;
  std::unique_ptr<runtime::GraphExecutor> executor;
  int num_threads = 0;

  const TensorSpec& input_checked(size_t index, DType dtype, const std::vector<int64_t>& shape,
                                  size_t nbytes) const {
    const auto& inputs = executor->inputs();
    if (index >= inputs.size()) {
      throw Error("input index " + std::to_string(index) + " is out of range: the model has " +
                  std::to_string(inputs.size()) + " inputs: " + listing(inputs));
    }
    const TensorSpec& spec = inputs[index];
    if (dtype != spec.dtype || shape != spec.shape) {
      throw Error("input '" + spec.name + "' expects " + spec.type_string() + ", got " +
                  type_string(dtype, shape));
    }
    if (nbytes != spec.nbytes()) {
      throw Error("input '" + spec.name + "' (" + spec.type_string() + ") needs " +
                  std::to_string(spec.nbytes()) + " bytes, got " + std::to_string(nbytes));
    }
    return spec;
  }
};

Session::Session(const std::string& package_path, const SessionOptions& options)
    : impl_(std::make_unique<Impl>()) {
  check_thread_count(options.num_threads);
  impl_->path = package_path;
  impl_->num_threads = options.num_threads;
  // mod.params is read into an aligned buffer whose tensors the executor binds in place: one copy
  // of the weights in memory, never two.
  runtime::PackageContents contents = runtime::read_package(package_path, true);
  impl_->metadata_json = std::move(contents.metadata_json);
  std::string triple;
  try {
    auto metadata = nlohmann::json::parse(impl_->metadata_json);
    impl_->target = metadata.at("target").get<std::string>();
    triple = metadata.value("triple", "");
  } catch (const nlohmann::json::exception& error) {
    throw Error(package_path + " is not a valid Kiln package: metadata.json has no target (" +
                error.what() + ")");
  }
  // Before dlopen, whose message for another architecture is obscure.
  std::string arch = triple.substr(0, triple.find('-'));
  if (!arch.empty() && arch != kHostArch) {
    throw Error(package_path + " was compiled for " + triple + " and cannot run on this machine (" +
                kHostArch + "); run it where that target lives");
  }
  std::shared_ptr<runtime::KernelModule> module =
      runtime::load_shared_library_bytes(contents.library, package_path + ":mod.so");
  contents.library = std::string();
  auto params = runtime::deserialize_params_in_place(
      std::move(contents.params_storage), contents.params_size, package_path + ":mod.params");
  impl_->executor = std::make_unique<runtime::GraphExecutor>(contents.graph_json, module, params);
}

Session::~Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

const std::string& Session::path() const { return impl_->path; }
const std::string& Session::target() const { return impl_->target; }
const std::string& Session::metadata_json() const { return impl_->metadata_json; }
const std::vector<TensorSpec>& Session::inputs() const { return impl_->executor->inputs(); }
const std::vector<TensorSpec>& Session::outputs() const { return impl_->executor->outputs(); }

size_t Session::input_index(const std::string& name) const {
  const auto& inputs = impl_->executor->inputs();
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].name == name) return i;
  }
  throw Error("the model has no input '" + name + "'; its inputs are: " + listing(inputs));
}

size_t Session::output_index(const std::string& name) const {
  const auto& outputs = impl_->executor->outputs();
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (outputs[i].name == name) return i;
  }
  throw Error("the model has no output '" + name + "'; its outputs are: " + listing(outputs));
}

void Session::set_input(const std::string& name, const Tensor& value) {
  set_input(input_index(name), value);
}

void Session::set_input(size_t index, const Tensor& value) {
  if (!value.defined()) {
    if (index < inputs().size()) {
      throw Error("input '" + inputs()[index].name + "' expects " + inputs()[index].type_string() +
                  ", got an empty tensor");
    }
    throw Error("input index " + std::to_string(index) + " is out of range");
  }
  set_input(index, value.dtype(), value.shape(), value.data(), value.nbytes());
}

void Session::set_input(size_t index, DType dtype, const std::vector<int64_t>& shape,
                        const void* data, size_t nbytes) {
  impl_->input_checked(index, dtype, shape, nbytes);
  if (data == nullptr && nbytes > 0) {
    throw Error("input '" + inputs()[index].name + "': the data pointer is null");
  }
  impl_->executor->set_input(index, data, nbytes);
}

void Session::bind_input(size_t index, DType dtype, const std::vector<int64_t>& shape,
                         const void* data, size_t nbytes) {
  impl_->input_checked(index, dtype, shape, nbytes);
  if (data == nullptr)
    throw Error("input '" + inputs()[index].name + "': the data pointer is null");
  impl_->executor->bind_input(index, data);
}

void Session::run() {
  runtime::ThreadCountScope threads(impl_->num_threads);
  impl_->executor->run();
}

TensorView Session::output(size_t index) const {
  const auto& outputs = impl_->executor->outputs();
  if (index >= outputs.size()) {
    throw Error("output index " + std::to_string(index) + " is out of range: the model has " +
                std::to_string(outputs.size()) + " outputs: " + listing(outputs));
  }
  const TensorSpec& spec = outputs[index];
  return TensorView{impl_->executor->output_data(index), spec.nbytes(), spec.dtype, spec.shape};
}

Tensor Session::get_output(size_t index) const {
  TensorView view = output(index);
  return Tensor::from_bytes(view.dtype, std::vector<int64_t>(view.shape.begin(), view.shape.end()),
                            view.data, view.nbytes);
}

int Session::num_threads() const {
  return impl_->num_threads > 0 ? impl_->num_threads : runtime::num_threads();
}

void Session::set_num_threads(int threads) {
  check_thread_count(threads);
  impl_->num_threads = threads;
}

std::vector<KernelTiming> Session::profile(int runs) {
  runtime::ThreadCountScope threads(impl_->num_threads);
  return impl_->executor->profile(runs);
}

size_t Session::storage_bytes() const { return impl_->executor->storage_bytes(); }
size_t Session::param_bytes() const { return impl_->executor->param_bytes(); }
size_t Session::num_kernels() const { return impl_->executor->num_kernels(); }

std::string runtime_version() { return KILN_VERSION; }

}  // namespace kiln
