// Statements of the loop IR and the function that holds them. A kernel is a PrimFunc: buffer
// parameters and a body of loops, stores and allocations.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tir/expr.h"

namespace kiln::tir {

enum class StmtKind : uint8_t { kFor, kBufferStore, kAllocate, kSeq, kIfThenElse, kLet, kEvaluate };

class StmtNode {
 public:
  virtual ~StmtNode() = default;
  StmtKind kind() const { return kind_; }

 protected:
  explicit StmtNode(StmtKind kind) : kind_(kind) {}

 private:
  StmtKind kind_;
};

using Stmt = std::shared_ptr<const StmtNode>;

template <typename T>
const T* as(const Stmt& stmt) {
  return stmt && stmt->kind() == T::kKind ? static_cast<const T*>(stmt.get()) : nullptr;
}

enum class ForKind : uint8_t {
  kSerial,
  kParallel,    // iterations run on the runtime's thread pool
  kVectorized,  // the vectorize pass turns the loop into vector operations
  kUnrolled,    // codegen emits the body `extent` times
};
std::string_view for_kind_name(ForKind kind);

// for (var = min; var < min + extent; ++var) body
class ForNode final : public StmtNode {
 public:
  static constexpr StmtKind kKind = StmtKind::kFor;
  ForNode(Var var, PrimExpr min, PrimExpr extent, ForKind for_kind, Stmt body)
      : StmtNode(kKind),
        var(std::move(var)),
        min(std::move(min)),
        extent(std::move(extent)),
        for_kind(for_kind),
        body(std::move(body)) {}
  const Var var;
  const PrimExpr min;
  const PrimExpr extent;
  const ForKind for_kind;
  const Stmt body;
};

// buffer[indices] = value
class BufferStoreNode final : public StmtNode {
 public:
  static constexpr StmtKind kKind = StmtKind::kBufferStore;
  BufferStoreNode(Buffer buffer, PrimExpr value, std::vector<PrimExpr> indices)
      : StmtNode(kKind),
        buffer(std::move(buffer)),
        value(std::move(value)),
        indices(std::move(indices)) {}
  const Buffer buffer;
  const PrimExpr value;
  const std::vector<PrimExpr> indices;
};

// `buffer` exists (uninitialised) while `body` runs: on the stack for small local buffers, in
// the runtime's workspace otherwise.
class AllocateNode final : public StmtNode {
 public:
  static constexpr StmtKind kKind = StmtKind::kAllocate;
  AllocateNode(Buffer buffer, Stmt body)
      : StmtNode(kKind), buffer(std::move(buffer)), body(std::move(body)) {}
  const Buffer buffer;
  const Stmt body;
};

class SeqNode final : public StmtNode {
 public:
  static constexpr StmtKind kKind = StmtKind::kSeq;
  explicit SeqNode(std::vector<Stmt> stmts) : StmtNode(kKind), stmts(std::move(stmts)) {}
  const std::vector<Stmt> stmts;
};

class IfThenElseNode final : public StmtNode {
 public:
  static constexpr StmtKind kKind = StmtKind::kIfThenElse;
  IfThenElseNode(PrimExpr condition, Stmt then_case, Stmt else_case)
      : StmtNode(kKind),
        condition(std::move(condition)),
        then_case(std::move(then_case)),
        else_case(std::move(else_case)) {}
  const PrimExpr condition;
  const Stmt then_case;
  const Stmt else_case;  // may be null
};

// let var = value in body
class LetNode final : public StmtNode {
 public:
  static constexpr StmtKind kKind = StmtKind::kLet;
  LetNode(Var var, PrimExpr value, Stmt body)
      : StmtNode(kKind), var(std::move(var)), value(std::move(value)), body(std::move(body)) {}
  const Var var;
  const PrimExpr value;
  const Stmt body;
};

class EvaluateNode final : public StmtNode {
 public:
  static constexpr StmtKind kKind = StmtKind::kEvaluate;
  explicit EvaluateNode(PrimExpr value) : StmtNode(kKind), value(std::move(value)) {}
  const PrimExpr value;
};

Stmt make_for(Var var, PrimExpr min, PrimExpr extent, ForKind kind, Stmt body);
Stmt make_store(Buffer buffer, PrimExpr value, std::vector<PrimExpr> indices);
Stmt make_allocate(Buffer buffer, Stmt body);
Stmt make_seq(std::vector<Stmt> stmts);  // flattens nested Seqs; one statement stays itself
Stmt make_if(PrimExpr condition, Stmt then_case, Stmt else_case = nullptr);
Stmt make_let(Var var, PrimExpr value, Stmt body);

// A kernel: `params` are the buffers it reads and writes, in calling order (inputs first, then
// outputs). Codegen emits `int32_t name(void** args)` taking one data pointer per param.
struct PrimFunc {
  std::string name;
  std::vector<Buffer> params;
  Stmt body;
};

}  // namespace kiln::tir
