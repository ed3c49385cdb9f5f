// Tensor expressions: a kernel's math, separate from its loop structure. A tensor is either a
// placeholder (an input buffer) or a compute: a shape and a body giving element (i0, i1, ...) as
// a scalar expression of the axis variables, possibly a reduction over reduce axes.
//
//   Tensor a = placeholder({m, k}, f32, "a"), b = placeholder({k, n}, f32, "b");
//   IterVar r = reduce_axis(k, "r");
//   Tensor c = compute({m, n}, [&](const Indices& i) {
//     return sum(a(i[0], r) * b(r, i[1]), {r});  // an IterVar indexes as its variable
//   }, "c");
//
// Shapes are static: Kiln compiles a model for the shapes it was loaded with.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tir/expr.h"

namespace kiln::te {

using tir::DataType;
using tir::IterVar;
using tir::PrimExpr;
using tir::Var;

class TensorNode {
 public:
  TensorNode(std::string name, DataType dtype, std::vector<int64_t> shape,
             std::vector<IterVar> axis, PrimExpr body, std::string tag);
  const std::string name;
  const DataType dtype;
  const std::vector<int64_t> shape;
  // For a compute: one axis per dimension of `shape` (extent = that dimension) and the body, a
  // scalar expression of the axis variables. Empty axis and null body for a placeholder.
  const std::vector<IterVar> axis;
  const PrimExpr body;
  // A free-form label for schedules ("conv2d_nchw", "elemwise", ...).
  const std::string tag;

  bool is_placeholder() const { return body.get() == nullptr; }
  // The reduce axes when the body is a Reduce, else empty.
  std::vector<IterVar> reduce_axis() const;
  int64_t ndim() const { return static_cast<int64_t>(shape.size()); }
};

class Tensor {
  static PrimExpr as_index(const IterVar& axis) { return PrimExpr(axis.var); }
  template <typename T>
  static PrimExpr as_index(const T& value) {
    return PrimExpr(value);
  }

 public:
  Tensor() = default;
  Tensor(std::shared_ptr<const TensorNode> node) : node_(std::move(node)) {}  // NOLINT
  const TensorNode* operator->() const { return node_.get(); }
  const TensorNode* get() const { return node_.get(); }
  const std::shared_ptr<const TensorNode>& node() const { return node_; }
  explicit operator bool() const { return node_ != nullptr; }
  bool operator==(const Tensor& other) const { return node_ == other.node_; }
  bool operator!=(const Tensor& other) const { return node_ != other.node_; }

  // Reads element `indices` (one index per dimension; an internal error otherwise).
  PrimExpr operator()(std::vector<PrimExpr> indices) const;
  // Each index may be a PrimExpr, a Var, an IterVar (its variable) or an integer.
  template <typename... Index>
  PrimExpr operator()(Index... indices) const {
    return (*this)(std::vector<PrimExpr>{as_index(indices)...});
  }

 private:
  std::shared_ptr<const TensorNode> node_;
};

using Indices = std::vector<Var>;

Tensor placeholder(std::vector<int64_t> shape, DataType dtype, std::string name);
// The body's dtype is the tensor's dtype (use tir::cast in the body to change it). Axis variables
// are named `axis_names[k]` when given (one per dimension), else i0, i1, ...; the schedule names
// the stage's loops after them. A Reduce may only be the whole body (kiln::Error otherwise).
Tensor compute(std::vector<int64_t> shape, const std::function<PrimExpr(const Indices&)>& body,
               std::string name, std::string tag = "", std::vector<std::string> axis_names = {});

IterVar reduce_axis(int64_t extent, std::string name);
PrimExpr sum(PrimExpr source, std::vector<IterVar> axes);
PrimExpr prod(PrimExpr source, std::vector<IterVar> axes);
PrimExpr max_reduce(PrimExpr source, std::vector<IterVar> axes);
PrimExpr min_reduce(PrimExpr source, std::vector<IterVar> axes);

// Tensors read directly by `tensor`'s body (empty for a placeholder), each once, in first-use
// order.
std::vector<Tensor> input_tensors(const Tensor& tensor);
// Every tensor reachable from `outputs`, producers before consumers.
std::vector<Tensor> post_order(const std::vector<Tensor>& outputs);

}  // namespace kiln::te
