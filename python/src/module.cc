// The _kiln extension module: a thin nanobind layer over the C++ driver. Python-side
// conveniences (printing to files, numpy arrays, the tvmc names) live in python/kiln/*.py.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cstring>

#include "frontend/frontend.h"
#include "interrupt.h"
#include "ir/op.h"
#include "kiln/kiln.h"
#include "op/op_impl.h"
#include "runtime/graph_executor.h"
#include "session.h"

namespace nb = nanobind;

namespace {

nb::dict tensor_info_to_dict(const kiln::TensorInfo& info) {
  nb::dict item;
  item["name"] = info.name;
  nb::list shape;
  for (size_t i = 0; i < info.shape.size(); ++i) {
    if (info.shape[i] >= 0) {
      shape.append(info.shape[i]);
    } else {
      shape.append(info.dim_names[i]);
    }
  }
  item["shape"] = shape;
  item["dtype"] = std::string(kiln::dtype_name(info.dtype));
  return item;
}

nb::list tensor_infos(const std::vector<kiln::TensorInfo>& infos) {
  nb::list items;
  for (const auto& info : infos) items.append(tensor_info_to_dict(info));
  return items;
}

// (name, dtype name, shape, raw bytes) per constant; python turns them into numpy arrays.
nb::list params_as_tuples(const kiln::Model& model) {
  nb::list items;
  for (const auto& [name, tensor] : model.params()) {
    nb::bytes data(static_cast<const char*>(tensor.data()), tensor.nbytes());
    items.append(
        nb::make_tuple(name, std::string(kiln::dtype_name(tensor.dtype())), tensor.shape(), data));
  }
  return items;
}

// Inputs arrive as (name, dtype, shape, bytes) tuples built in Python.
nb::dlpack::dtype dlpack_dtype(kiln::DType dtype) {
  using Code = nb::dlpack::dtype_code;
  auto make = [](Code code, int bits) {
    return nb::dlpack::dtype{static_cast<uint8_t>(code), static_cast<uint8_t>(bits), 1};
  };
  switch (dtype) {
    case kiln::DType::kFloat32:
      return make(Code::Float, 32);
    case kiln::DType::kFloat16:
      return make(Code::Float, 16);
    case kiln::DType::kFloat64:
      return make(Code::Float, 64);
    case kiln::DType::kBFloat16:
      return make(Code::UInt, 16);  // numpy has no bfloat16: raw bits (Python views them)
    case kiln::DType::kInt8:
      return make(Code::Int, 8);
    case kiln::DType::kInt16:
      return make(Code::Int, 16);
    case kiln::DType::kInt32:
      return make(Code::Int, 32);
    case kiln::DType::kInt64:
      return make(Code::Int, 64);
    case kiln::DType::kUInt8:
      return make(Code::UInt, 8);
    case kiln::DType::kUInt16:
      return make(Code::UInt, 16);
    case kiln::DType::kUInt32:
      return make(Code::UInt, 32);
    case kiln::DType::kUInt64:
      return make(Code::UInt, 64);
    case kiln::DType::kBool:
      return make(Code::Bool, 8);
    default:  // narrow types: their bytes (uint8); Python views them as the ml_dtypes dtype
      break;
  }
  if (kiln::dtype_is_narrow(dtype)) return make(Code::UInt, 8);
  return make(Code::Float, 32);
}

// A numpy array over the tensor's own (aligned) storage: no copy; the array keeps it alive.
nb::object tensor_to_numpy(const kiln::Tensor& tensor) {
  auto* holder = new kiln::Tensor(tensor);
  nb::capsule owner(holder,
                    [](void* pointer) noexcept { delete static_cast<kiln::Tensor*>(pointer); });
  std::vector<size_t> shape(holder->shape().begin(), holder->shape().end());
  nb::ndarray<nb::numpy> array(holder->mutable_data(), shape.size(), shape.data(), owner, nullptr,
                               dlpack_dtype(holder->dtype()));
  return nb::cast(array, nb::rv_policy::reference);
}

kiln::Tensor tensor_from_parts(const std::string& name, const std::string& dtype_text,
                               const std::vector<int64_t>& shape, const nb::bytes& data) {
  auto dtype = kiln::dtype_from_name(dtype_text);
  if (!dtype) throw kiln::Error("input '" + name + "' has the unsupported dtype " + dtype_text);
  kiln::Tensor tensor(*dtype, shape);
  if (tensor.nbytes() != data.size()) {
    throw kiln::Error("input '" + name + "': " + std::to_string(data.size()) +
                      " bytes do not match its shape");
  }
  if (data.size() > 0) std::memcpy(tensor.mutable_data(), data.c_str(), data.size());
  return tensor;
}

// Raises the module's exception `type_name` with `what` decoded with errors="backslashreplace":
// file-supplied text is escaped to valid UTF-8 where it enters Kiln, and this is the safety net
// that keeps any other byte from turning an error into a UnicodeDecodeError.
void raise_escaped(void* module, const char* type_name, const char* what) {
  PyObject* type = PyObject_GetAttrString(static_cast<PyObject*>(module), type_name);
  PyObject* message =
      PyUnicode_DecodeUTF8(what, static_cast<Py_ssize_t>(std::strlen(what)), "backslashreplace");
  if (type != nullptr && message != nullptr) PyErr_SetObject(type, message);
  Py_XDECREF(message);
  Py_XDECREF(type);
}

void translate_kiln_errors(const std::exception_ptr& error, void* module) {
  try {
    std::rethrow_exception(error);
  } catch (const kiln::MissingDependency& e) {
    raise_escaped(module, "MissingDependency", e.what());
  } catch (const kiln::Error& e) {
    raise_escaped(module, "Error", e.what());
  } catch (const kiln::InternalError& e) {
    raise_escaped(module, "InternalError", e.what());
  }
}

}  // namespace

NB_MODULE(_kiln, m) {
  m.doc() = "Kiln native module (use the `kiln` package)";
  kiln::python::register_interrupts();
  nb::exception<kiln::Error>(m, "Error", PyExc_RuntimeError);
  // A subclass of kiln.Error in Python (`except kiln.Error` catches everything Kiln raises); its
  // message still says that it is a bug in Kiln.
  nb::exception<kiln::InternalError>(m, "InternalError", m.attr("Error"));
  // Registered after Error so that it is translated first; a subclass of kiln.Error in Python.
  nb::exception<kiln::MissingDependency>(m, "MissingDependency", m.attr("Error"));
  nb::register_exception_translator(translate_kiln_errors, m.ptr());  // tried before the above

  nb::class_<kiln::Model>(m, "Model")
      .def("summary", &kiln::Model::summary)
      .def("save", &kiln::Model::save, nb::arg("path"))
      .def_prop_ro("inputs", [](const kiln::Model& model) { return tensor_infos(model.inputs()); })
      .def_prop_ro("outputs",
                   [](const kiln::Model& model) { return tensor_infos(model.outputs()); })
      .def("params", &params_as_tuples)
      .def("stats",
           [](const kiln::Model& model) {
             kiln::ModelStats stats = model.stats();
             nb::dict result;
             result["op_histogram"] = stats.op_histogram;
             result["num_params"] = stats.num_params;
             result["num_constants"] = stats.num_constants;
             result["macs"] = stats.macs;
             result["flops"] = stats.flops;
             return result;
           })
      .def_prop_ro("source_format", &kiln::Model::source_format)
      .def_prop_ro("source_path", &kiln::Model::source_path);

  m.def(
      "load",
      [](const std::string& path, const kiln::ShapeDict& shape_dict, const std::string& format,
         const nb::list& constant_inputs) {
        kiln::LoadOptions options;
        options.shape_dict = shape_dict;
        options.model_format = format;
        // (name, dtype, shape, bytes) tuples, as for run()'s inputs.
        for (nb::handle item : constant_inputs) {
          auto parts = nb::cast<nb::tuple>(item);
          std::string name = nb::cast<std::string>(parts[0]);
          options.constant_inputs[name] = tensor_from_parts(
              name, nb::cast<std::string>(parts[1]), nb::cast<std::vector<int64_t>>(parts[2]),
              nb::cast<nb::bytes>(parts[3]));
        }
        return kiln::python::interruptible([&] { return kiln::load(path, options); });
      },
      nb::arg("path"), nb::arg("shape_dict") = kiln::ShapeDict{}, nb::arg("model_format") = "",
      nb::arg("constant_inputs") = nb::list());
  m.def("parse_shape_dict", &kiln::parse_shape_dict);

  kiln::python::bind_session(m);

  nb::class_<kiln::Package>(m, "Package")
      .def(nb::init<const std::string&>(), nb::arg("path"))
      .def_prop_ro("path", &kiln::Package::path)
      .def_prop_ro("target", &kiln::Package::target)
      .def_prop_ro("metadata_json", &kiln::Package::metadata_json)
      .def_prop_ro("graph_json", &kiln::Package::graph_json)
      .def_prop_ro("num_kernels", &kiln::Package::num_kernels)
      .def_prop_ro("inputs",
                   [](const kiln::Package& package) { return tensor_infos(package.inputs()); })
      .def_prop_ro("outputs",
                   [](const kiln::Package& package) { return tensor_infos(package.outputs()); });

  m.def(
      "compile",
      [](const kiln::Model& model, const std::string& target, const std::string& package_path,
         int opt_level, const std::vector<std::string>& dump_code,
         const std::vector<std::string>& disabled_pass, const std::string& desired_layout,
         const std::vector<std::string>& desired_layout_ops, const std::string& target_host,
         const std::map<std::string, std::map<std::string, std::string>>& target_options,
         const std::vector<std::string>& pass_configs, const std::string& cross_compiler,
         const std::string& cross_compiler_options, const std::string& output_format,
         const std::string& mod_name, const std::string& tuning_records) {
        kiln::CompileOptions options;
        options.target = target;
        options.package_path = package_path;
        options.opt_level = opt_level;
        options.dump_code = dump_code;
        options.disabled_pass = disabled_pass;
        options.desired_layout = desired_layout;
        options.desired_layout_ops = desired_layout_ops;
        options.target_host = target_host;
        options.additional_target_options = target_options;
        options.pass_context_configs = pass_configs;
        options.cross_compiler = cross_compiler;
        options.cross_compiler_options = cross_compiler_options;
        options.output_format = output_format;
        options.mod_name = mod_name;
        options.tuning_records = tuning_records;
        return kiln::python::interruptible([&] { return kiln::compile(model, options); });
      },
      nb::arg("model"), nb::arg("target"), nb::arg("package_path"), nb::arg("opt_level"),
      nb::arg("dump_code"), nb::arg("disabled_pass") = std::vector<std::string>{},
      nb::arg("desired_layout") = "", nb::arg("desired_layout_ops") = std::vector<std::string>{},
      nb::arg("target_host") = "",
      nb::arg("additional_target_options") =
          std::map<std::string, std::map<std::string, std::string>>{},
      nb::arg("pass_context_configs") = std::vector<std::string>{}, nb::arg("cross_compiler") = "",
      nb::arg("cross_compiler_options") = "", nb::arg("output_format") = "so",
      nb::arg("mod_name") = "default", nb::arg("tuning_records") = "");
  m.def("pass_config_names", &kiln::pass_config_names);

  m.def(
      "run",
      // `target`: a Package (opened for this call) or a Session (kept open: no reload).
      [](nb::handle target, const std::string& device, const nb::list& inputs,
         const std::string& fill_mode, bool benchmark, int repeat, int number, double min_repeat_ms,
         uint64_t seed, bool profile, bool end_to_end) {
        kiln::RunOptions options;
        options.profile = profile;
        options.end_to_end = end_to_end;
        options.device = device;
        options.fill_mode = fill_mode;
        options.benchmark = benchmark;
        options.repeat = repeat;
        options.number = number;
        options.min_repeat_ms = min_repeat_ms;
        options.seed = seed;
        for (nb::handle item : inputs) {
          auto parts = nb::cast<nb::tuple>(item);
          std::string name = nb::cast<std::string>(parts[0]);
          options.inputs[name] = tensor_from_parts(name, nb::cast<std::string>(parts[1]),
                                                   nb::cast<std::vector<int64_t>>(parts[2]),
                                                   nb::cast<nb::bytes>(parts[3]));
        }
        kiln::RunResult result;
        if (nb::isinstance<kiln::Package>(target)) {
          const kiln::Package& package = nb::cast<const kiln::Package&>(target);
          result = kiln::python::interruptible([&] { return kiln::run(package, options); });
        } else {
          kiln::Session& session = kiln::python::native_session(target);
          std::shared_ptr<void> busy = kiln::python::use_session(target);
          result = kiln::python::interruptible([&] { return kiln::run(session, options); });
        }
        nb::dict out;
        nb::list outputs;
        for (const auto& [name, tensor] : result.outputs) {
          outputs.append(nb::make_tuple(name, tensor_to_numpy(tensor),
                                        std::string(kiln::dtype_name(tensor.dtype()))));
        }
        out["outputs"] = outputs;
        nb::list used_inputs;
        for (const auto& [name, tensor] : result.inputs) {
          used_inputs.append(nb::make_tuple(name, tensor_to_numpy(tensor),
                                            std::string(kiln::dtype_name(tensor.dtype()))));
        }
        out["inputs"] = used_inputs;
        if (result.has_times) {
          nb::dict times;
          times["results"] = result.times.results;
          times["mean"] = result.times.mean;
          times["median"] = result.times.median;
          times["max"] = result.times.max;
          times["min"] = result.times.min;
          times["std"] = result.times.std;
          out["times"] = times;
        } else {
          out["times"] = nb::none();
        }
        if (result.has_profile) {
          nb::dict profile;
          nb::list rows;
          for (const kiln::KernelProfile& row : result.profile.rows) {
            nb::dict item;
            item["kernel"] = row.kernel;
            item["ops"] = row.ops;
            item["names"] = row.names;
            item["seconds"] = row.seconds;
            item["calls"] = row.calls;
            item["percent"] = row.percent;
            rows.append(item);
          }
          profile["rows"] = rows;
          profile["total_seconds"] = result.profile.total_seconds;
          profile["runs"] = result.profile.runs;
          profile["end_to_end"] = result.profile.end_to_end;
          profile["text"] = kiln::format_profile(result.profile);
          out["profile"] = profile;
        } else {
          out["profile"] = nb::none();
        }
        out["storage_bytes"] = result.storage_bytes;
        out["param_bytes"] = result.param_bytes;
        return out;
      },
      nb::arg("package"), nb::arg("device"), nb::arg("inputs"), nb::arg("fill_mode"),
      nb::arg("benchmark"), nb::arg("repeat"), nb::arg("number"), nb::arg("min_repeat_ms"),
      nb::arg("seed"), nb::arg("profile") = false, nb::arg("end_to_end") = false);
  m.def("version", &kiln::version);
  m.def("num_threads", &kiln::runtime::num_threads);
  m.def(
      "set_num_threads",
      [](int threads) {
        if (threads < 1)
          throw kiln::Error("set_num_threads needs at least 1 thread, got " +
                            std::to_string(threads));
        kiln::runtime::set_num_threads(threads);
      },
      nb::arg("threads"));
  m.def("known_model_formats", &kiln::known_model_formats);
  m.def("onnx_supported_operators", &kiln::frontend::onnx_supported_operators);
  // The operator registry, for docs/ops.md (scripts/gen-ops-doc).
  m.def("operators", [] {
    nb::list items;
    for (const kiln::ir::OpDef* def : kiln::ir::OpRegistry::global().all()) {
      nb::dict item;
      item["name"] = def->name;
      item["family"] = def->family;
      item["summary"] = def->summary;
      item["min_args"] = def->min_args;
      item["max_args"] = def->max_args;
      item["pattern"] = std::string(kiln::ir::op_pattern_name(def->pattern));
      item["has_evaluator"] = static_cast<bool>(def->evaluate);
      item["has_macs"] = static_cast<bool>(def->macs);
      item["has_compute"] = kiln::op::find_impl(def->name) != nullptr;
      nb::list attrs;
      for (const kiln::ir::AttrDef& attr : def->attrs) {
        nb::dict entry;
        entry["name"] = attr.name;
        entry["kind"] = std::string(kiln::ir::attr_kind_name(attr.kind));
        entry["default"] = attr.default_value ? kiln::ir::attr_value_to_string(*attr.default_value)
                                              : std::string();
        entry["required"] = !attr.default_value.has_value();
        attrs.append(entry);
      }
      item["attrs"] = attrs;
      items.append(item);
    }
    return items;
  });
}
