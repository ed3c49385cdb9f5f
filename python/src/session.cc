// kiln.Session's native half (python/kiln/session.py is the Python face): a kiln::Session plus
// the Python objects whose memory is bound to its inputs (zero copy), kept alive here.
#include "session.h"

#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>

#include "interrupt.h"
#include "kiln/runtime.h"
#include "runtime/dlpack.h"

namespace nb = nanobind;

namespace kiln::python {

namespace {

// Any CPU array (numpy, a DLPack producer such as torch), read only, compact row-major: nanobind
// copies one that is not compact; a compact one arrives without a copy.
using InputArray = nb::ndarray<nb::ro, nb::device::cpu, nb::c_contig>;

struct NativeSession {
  NativeSession(const std::string& path, int threads)
      : session(path, SessionOptions{threads}), bound(session.inputs().size()) {}
  Session session;
  std::vector<std::optional<InputArray>> bound;  // per input: the array bound (zero copy)
  // A session runs one call at a time; a second thread gets an error instead of a data race.
  std::atomic<bool> busy{false};
};

// Marks `native` busy for one call; kiln::Error when another thread is inside it.
class BusyScope {
 public:
  explicit BusyScope(NativeSession& native) : native_(native) {
    if (native_.busy.exchange(true, std::memory_order_acquire)) {
      throw Error(
          "this kiln.Session is in use by another thread: a session runs one call at a "
          "time; open a Session per thread");
    }
  }
  ~BusyScope() { native_.busy.store(false, std::memory_order_release); }
  BusyScope(const BusyScope&) = delete;
  BusyScope& operator=(const BusyScope&) = delete;

 private:
  NativeSession& native_;
};

// The Kiln dtype of an array: `declared` (a name Python chose, e.g. "bfloat16" for an ml_dtypes
// array handed over as its uint16 bits) when given, else from its DLPack type.
DType array_dtype(const InputArray& array, const std::string& declared, const TensorSpec& spec) {
  nb::dlpack::dtype type = array.dtype();
  if (!declared.empty()) {
    auto dtype = dtype_from_name(declared);
    if (!dtype || dtype_size(*dtype) * 8 != type.bits) {
      throw Error("input '" + spec.name + "': dtype '" + declared + "' does not match the array");
    }
    return *dtype;
  }
  DLDataType dl_type{type.code, type.bits, type.lanes};
  if (std::optional<DType> dtype = runtime::from_dlpack_dtype(dl_type)) return *dtype;
  throw Error("input '" + spec.name + "' expects " + spec.type_string() +
              ", got an array of a type Kiln lacks (DLPack code " + std::to_string(type.code) +
              ", " + std::to_string(type.bits) + " bits)");
}

std::vector<int64_t> array_shape(const InputArray& array) {
  std::vector<int64_t> shape(array.ndim());
  for (size_t i = 0; i < array.ndim(); ++i) shape[i] = static_cast<int64_t>(array.shape(i));
  return shape;
}

// DLPack type of an output as numpy sees it: narrow and bfloat16 values as their bits (uintN);
// Python views them as the ml_dtypes type.
nb::dlpack::dtype numpy_dtype(DType dtype) {
  using Code = nb::dlpack::dtype_code;
  auto make = [](Code code, size_t bytes) {
    return nb::dlpack::dtype{static_cast<uint8_t>(code), static_cast<uint8_t>(bytes * 8), 1};
  };
  size_t bytes = dtype_size(dtype);
  switch (dtype) {
    case DType::kFloat32:
    case DType::kFloat16:
    case DType::kFloat64:
      return make(Code::Float, bytes);
    case DType::kInt8:
    case DType::kInt16:
    case DType::kInt32:
    case DType::kInt64:
      return make(Code::Int, bytes);
    case DType::kBool:
      return make(Code::Bool, bytes);
    default:
      return make(Code::UInt, bytes);  // unsigned integers, bfloat16 and narrow types as bits
  }
}

nb::list specs_to_list(const std::vector<TensorSpec>& specs) {
  nb::list items;
  for (const TensorSpec& spec : specs) {
    nb::dict item;
    item["name"] = spec.name;
    item["shape"] = spec.shape;
    item["dtype"] = std::string(dtype_name(spec.dtype));
    items.append(item);
  }
  return items;
}

// Sets input `index` from `array`: zero copy when `zero_copy` and the memory is aligned (returns
// true), else a copy; `require_zero_copy` turns "not possible" into a kiln::Error.
bool set_input(NativeSession& native, size_t index, const InputArray& array,
               const std::string& declared, bool zero_copy, bool require_zero_copy) {
  BusyScope busy(native);
  const auto& inputs = native.session.inputs();
  if (index >= inputs.size()) {
    throw Error("input index " + std::to_string(index) + " is out of range (the model has " +
                std::to_string(inputs.size()) + " inputs)");
  }
  DType dtype = array_dtype(array, declared, inputs[index]);
  std::vector<int64_t> shape = array_shape(array);
  size_t nbytes = array.nbytes();
  bool aligned = reinterpret_cast<uintptr_t>(array.data()) % Tensor::kAlignment == 0;
  if (zero_copy && (aligned || require_zero_copy)) {
    native.session.bind_input(index, dtype, shape, array.data(), nbytes);
    native.bound[index] = array;  // keeps the caller's memory alive while it is bound
    return true;
  }
  native.session.set_input(index, dtype, shape, array.data(), nbytes);
  native.bound[index].reset();
  return false;
}

}  // namespace

void bind_session(nb::module_& m) {
  nb::class_<NativeSession>(m, "Session")
      .def(
          "__init__",
          [](NativeSession* self, const std::string& path, int threads) {
            // Without the GIL while the package loads; opening is not interruptible, and once
            // constructed the object must not be abandoned by an exception (finish() is skipped).
            InterruptibleCall call;
            new (self) NativeSession(path, threads);
          },
          nb::arg("path"), nb::arg("num_threads") = 0)
      .def_prop_ro("path", [](const NativeSession& s) { return s.session.path(); })
      .def_prop_ro("target", [](const NativeSession& s) { return s.session.target(); })
      .def_prop_ro("metadata_json",
                   [](const NativeSession& s) { return s.session.metadata_json(); })
      .def_prop_ro("inputs",
                   [](const NativeSession& s) { return specs_to_list(s.session.inputs()); })
      .def_prop_ro("outputs",
                   [](const NativeSession& s) { return specs_to_list(s.session.outputs()); })
      .def_prop_ro("num_kernels", [](const NativeSession& s) { return s.session.num_kernels(); })
      .def_prop_ro("storage_bytes",
                   [](const NativeSession& s) { return s.session.storage_bytes(); })
      .def_prop_ro("param_bytes", [](const NativeSession& s) { return s.session.param_bytes(); })
      .def_prop_rw(
          "num_threads", [](const NativeSession& s) { return s.session.num_threads(); },
          [](NativeSession& s, int threads) { s.session.set_num_threads(threads); })
      .def("input_index", [](const NativeSession& s,
                             const std::string& name) { return s.session.input_index(name); })
      .def("output_index", [](const NativeSession& s,
                              const std::string& name) { return s.session.output_index(name); })
      .def("set_input", &set_input, nb::arg("index"), nb::arg("array"), nb::arg("dtype"),
           nb::arg("zero_copy"), nb::arg("require_zero_copy"))
      .def("run",
           [](NativeSession& s) {
             BusyScope busy(s);
             interruptible([&] { s.session.run(); });
           })
      // Output i as a numpy array over the session's storage (no copy), writable: DLPack
      // consumers (torch.from_dlpack) refuse read-only arrays. The array keeps the session alive.
      .def("output",
           [](nb::handle self, size_t index) {
             NativeSession& s = nb::cast<NativeSession&>(self);
             TensorView view = s.session.output(index);
             std::vector<size_t> shape(view.shape.begin(), view.shape.end());
             nb::ndarray<nb::numpy> array(const_cast<void*>(view.data), shape.size(), shape.data(),
                                          self, nullptr, numpy_dtype(view.dtype));
             return nb::cast(array, nb::rv_policy::reference);
           })
      .def("profile", [](NativeSession& s, int runs) {
        BusyScope busy(s);
        std::vector<KernelTiming> timings = interruptible([&] { return s.session.profile(runs); });
        nb::list rows;
        for (const KernelTiming& timing : timings) {
          nb::dict row;
          row["kernel"] = timing.kernel;
          row["name"] = timing.name;
          row["ops"] = timing.ops;
          row["seconds"] = timing.seconds;
          row["calls"] = timing.calls;
          rows.append(row);
        }
        return rows;
      });
}

Session& native_session(nb::handle handle) { return nb::cast<NativeSession&>(handle).session; }

std::shared_ptr<void> use_session(nb::handle handle) {
  return std::make_shared<BusyScope>(nb::cast<NativeSession&>(handle));
}

}  // namespace kiln::python
