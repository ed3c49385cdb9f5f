#include "te/tensor.h"

#include <unordered_set>
#include <utility>

#include "kiln/error.h"
#include "tir/functor.h"

namespace kiln::te {

using tir::ReduceNode;
using tir::TensorReadNode;

TensorNode::TensorNode(std::string name, DataType dtype, std::vector<int64_t> shape,
                       std::vector<IterVar> axis, PrimExpr body, std::string tag)
    : name(std::move(name)),
      dtype(dtype),
      shape(std::move(shape)),
      axis(std::move(axis)),
      body(std::move(body)),
      tag(std::move(tag)) {
  KILN_CHECK(this->body ? this->axis.size() == this->shape.size() : this->axis.empty())
      << "tensor " << this->name << ": axes do not match the shape";
}

std::vector<IterVar> TensorNode::reduce_axis() const {
  if (const auto* reduce = body.as<ReduceNode>()) return reduce->axes;
  return {};
}

PrimExpr Tensor::operator()(std::vector<PrimExpr> indices) const {
  KILN_CHECK(node_) << "read of a null tensor";
  return PrimExpr(std::make_shared<const TensorReadNode>(node_, std::move(indices)));
}

namespace {

void check_shape(const std::vector<int64_t>& shape, const std::string& name) {
  for (int64_t dim : shape) {
    if (dim < 0) throw Error("tensor '" + name + "': negative dimension in its shape");
  }
}

// Reduce is a statement-level construct in disguise (an init and an update): nested inside other
// arithmetic it has no loop to live in.
class NestedReduceFinder : public tir::IRVisitor {
 public:
  bool found = false;

 protected:
  void visit_reduce(const ReduceNode* op) override {
    found = true;
    tir::IRVisitor::visit_reduce(op);
  }
};

class TensorReadCollector : public tir::IRVisitor {
 public:
  std::vector<Tensor> tensors;

 protected:
  void visit_tensor_read(const TensorReadNode* op) override {
    if (seen_.insert(op->tensor.get()).second) tensors.emplace_back(op->tensor);
    tir::IRVisitor::visit_tensor_read(op);
  }

 private:
  std::unordered_set<const TensorNode*> seen_;
};

}  // namespace

Tensor placeholder(std::vector<int64_t> shape, DataType dtype, std::string name) {
  check_shape(shape, name);
  return Tensor(std::make_shared<const TensorNode>(std::move(name), dtype, std::move(shape),
                                                   std::vector<IterVar>{}, PrimExpr(), ""));
}

Tensor compute(std::vector<int64_t> shape, const std::function<PrimExpr(const Indices&)>& body,
               std::string name, std::string tag, std::vector<std::string> axis_names) {
  check_shape(shape, name);
  if (!axis_names.empty() && axis_names.size() != shape.size()) {
    throw Error("compute '" + name + "': " + std::to_string(axis_names.size()) +
                " axis names for a shape of rank " + std::to_string(shape.size()));
  }
  std::vector<IterVar> axis;
  Indices vars;
  for (size_t k = 0; k < shape.size(); ++k) {
    Var var = tir::make_var(axis_names.empty() ? "i" + std::to_string(k) : axis_names[k]);
    axis.push_back(IterVar{var, shape[k]});
    vars.push_back(var);
  }
  PrimExpr value = body(vars);
  KILN_CHECK(value) << "compute " << name << ": null body";
  NestedReduceFinder finder;
  if (const auto* reduce = value.as<ReduceNode>()) {
    finder.visit(reduce->source);
  } else {
    finder.visit(value);
  }
  if (finder.found) {
    throw Error("compute '" + name +
                "': a reduction must be the whole body; compute it as its own tensor and read it");
  }
  DataType dtype = value.dtype();
  return Tensor(std::make_shared<const TensorNode>(
      std::move(name), dtype, std::move(shape), std::move(axis), std::move(value), std::move(tag)));
}

IterVar reduce_axis(int64_t extent, std::string name) {
  if (extent < 0) throw Error("reduce axis '" + name + "': negative extent");
  return IterVar{tir::make_var(std::move(name)), extent};
}

namespace {
PrimExpr make_reduce(tir::ReduceCombiner combiner, PrimExpr source, std::vector<IterVar> axes) {
  KILN_CHECK(source) << "reduction of a null expression";
  KILN_CHECK(!axes.empty()) << "reduction without reduce axes";
  return PrimExpr(std::make_shared<const ReduceNode>(combiner, std::move(source), std::move(axes)));
}
}  // namespace

PrimExpr sum(PrimExpr source, std::vector<IterVar> axes) {
  return make_reduce(tir::ReduceCombiner::kSum, std::move(source), std::move(axes));
}
PrimExpr prod(PrimExpr source, std::vector<IterVar> axes) {
  return make_reduce(tir::ReduceCombiner::kProd, std::move(source), std::move(axes));
}
PrimExpr max_reduce(PrimExpr source, std::vector<IterVar> axes) {
  return make_reduce(tir::ReduceCombiner::kMax, std::move(source), std::move(axes));
}
PrimExpr min_reduce(PrimExpr source, std::vector<IterVar> axes) {
  return make_reduce(tir::ReduceCombiner::kMin, std::move(source), std::move(axes));
}

std::vector<Tensor> input_tensors(const Tensor& tensor) {
  if (tensor->is_placeholder()) return {};
  TensorReadCollector collector;
  collector.visit(tensor->body);
  return std::move(collector.tensors);
}

std::vector<Tensor> post_order(const std::vector<Tensor>& outputs) {
  // Iterative depth-first search: fused groups can be long chains, and the stack must not care.
  std::vector<Tensor> order;
  std::unordered_set<const TensorNode*> done;
  struct Frame {
    Tensor tensor;
    std::vector<Tensor> inputs;
    size_t next = 0;
  };
  for (const Tensor& output : outputs) {
    KILN_CHECK(output) << "post_order of a null tensor";
    if (done.count(output.get())) continue;
    std::vector<Frame> stack;
    std::unordered_set<const TensorNode*> on_stack{output.get()};
    stack.push_back(Frame{output, input_tensors(output)});
    while (!stack.empty()) {
      Frame& frame = stack.back();
      if (frame.next < frame.inputs.size()) {
        Tensor input = frame.inputs[frame.next++];
        if (done.count(input.get())) continue;
        KILN_CHECK(on_stack.insert(input.get()).second) << "cycle through tensor " << input->name;
        stack.push_back(Frame{input, input_tensors(input)});
        continue;
      }
      done.insert(frame.tensor.get());
      on_stack.erase(frame.tensor.get());
      order.push_back(frame.tensor);
      stack.pop_back();
    }
  }
  return order;
}

}  // namespace kiln::te
