#include "tir/flatten.h"

#include "kiln/error.h"
#include "tir/functor.h"

namespace kiln::tir {
namespace {

// The row-major offset of `indices` into `buffer`.
std::vector<PrimExpr> flat_index(const Buffer& buffer, const std::vector<PrimExpr>& indices) {
  size_t rank = buffer->shape.size();
  if (indices.size() == 1 && rank != 1) return indices;  // already flat
  KILN_CHECK(indices.size() == rank) << "buffer " << buffer->name << " of rank " << rank
                                     << " accessed with " << indices.size() << " indices";
  if (rank == 0) return {int_imm(0)};
  PrimExpr offset;
  int64_t stride = 1;
  // Innermost dimension first, so the sum reads outermost-first after the simplifier orders it.
  for (size_t k = rank; k-- > 0;) {
    KILN_CHECK(indices[k].dtype().element() == index_type())
        << "index " << k << " of " << buffer->name << " is " << indices[k].dtype().to_string();
    PrimExpr term = stride == 1 ? indices[k] : indices[k] * int_imm(stride);
    offset = offset ? term + offset : term;
    stride *= buffer->shape[k];
  }
  return {offset};
}

bool unchanged(const std::vector<PrimExpr>& index, const std::vector<PrimExpr>& original) {
  return original.size() == 1 && index[0].same_as(original[0]);
}

class Flattener final : public IRMutator {
 protected:
  PrimExpr mutate_buffer_load(const BufferLoadNode* op, const PrimExpr& self) override {
    PrimExpr loaded = IRMutator::mutate_buffer_load(op, self);
    const auto* load = loaded.as<BufferLoadNode>();
    std::vector<PrimExpr> index = flat_index(load->buffer, load->indices);
    if (unchanged(index, load->indices)) return loaded;
    return make_load(load->dtype(), load->buffer, std::move(index));
  }

  Stmt mutate_buffer_store(const BufferStoreNode* op, const Stmt& self) override {
    Stmt stored = IRMutator::mutate_buffer_store(op, self);
    const auto* store = as<BufferStoreNode>(stored);
    std::vector<PrimExpr> index = flat_index(store->buffer, store->indices);
    if (unchanged(index, store->indices)) return stored;
    return make_store(store->buffer, store->value, std::move(index));
  }

  PrimExpr mutate_tensor_read(const TensorReadNode*, const PrimExpr&) override {
    KILN_CHECK(false) << "flatten: a te TensorRead is left in the loop IR";
    return {};
  }
  PrimExpr mutate_reduce(const ReduceNode*, const PrimExpr&) override {
    KILN_CHECK(false) << "flatten: a te Reduce is left in the loop IR";
    return {};
  }
};

}  // namespace

Stmt flatten(const Stmt& stmt) { return Flattener().mutate(stmt); }

PrimFunc flatten(PrimFunc func) {
  func.body = flatten(func.body);
  return func;
}

}  // namespace kiln::tir
