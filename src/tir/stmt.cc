#include "tir/stmt.h"

#include "kiln/error.h"

namespace kiln::tir {

std::string_view for_kind_name(ForKind kind) {
  switch (kind) {
    case ForKind::kSerial:
      return "serial";
    case ForKind::kParallel:
      return "parallel";
    case ForKind::kVectorized:
      return "vectorized";
    case ForKind::kUnrolled:
      return "unrolled";
  }
  return "?";
}

Stmt make_for(Var var, PrimExpr min, PrimExpr extent, ForKind kind, Stmt body) {
  KILN_CHECK(var && min && extent && body);
  return std::make_shared<const ForNode>(std::move(var), std::move(min), std::move(extent), kind,
                                         std::move(body));
}

Stmt make_store(Buffer buffer, PrimExpr value, std::vector<PrimExpr> indices) {
  KILN_CHECK(buffer && value);
  return std::make_shared<const BufferStoreNode>(std::move(buffer), std::move(value),
                                                 std::move(indices));
}

Stmt make_allocate(Buffer buffer, Stmt body) {
  KILN_CHECK(buffer && body);
  return std::make_shared<const AllocateNode>(std::move(buffer), std::move(body));
}

Stmt make_seq(std::vector<Stmt> stmts) {
  std::vector<Stmt> flat;
  for (Stmt& stmt : stmts) {
    if (!stmt) continue;
    if (const auto* seq = as<SeqNode>(stmt)) {
      flat.insert(flat.end(), seq->stmts.begin(), seq->stmts.end());
    } else {
      flat.push_back(std::move(stmt));
    }
  }
  if (flat.size() == 1) return flat[0];
  return std::make_shared<const SeqNode>(std::move(flat));
}

Stmt make_if(PrimExpr condition, Stmt then_case, Stmt else_case) {
  KILN_CHECK(condition && then_case);
  return std::make_shared<const IfThenElseNode>(std::move(condition), std::move(then_case),
                                                std::move(else_case));
}

Stmt make_let(Var var, PrimExpr value, Stmt body) {
  KILN_CHECK(var && value && body);
  return std::make_shared<const LetNode>(std::move(var), std::move(value), std::move(body));
}

}  // namespace kiln::tir
