// Matrix products: dense (data[..., K] x weight[N, K]^T) and matmul (numpy semantics: 1-D
// operands are promoted to matrices, batch dims broadcast).
#include <string>
#include <vector>

#include "ir/op.h"
#include "kiln/error.h"
#include "op/nn/nn_util.h"
#include "op/op_util.h"

namespace kiln::op {
namespace {

// Matrix products over bool are not defined by ONNX; everything else numeric is.
void require_numeric(const TensorType& type, std::string_view what, std::string_view op_name) {
  if (type.dtype == DType::kBool) {
    type_error(op_name, std::string(what) + " must be numeric, got " + type.to_string());
  }
}

Type infer_dense(const std::vector<Type>& args, const ir::Attrs& /*attrs*/) {
  constexpr std::string_view kOp = "dense";
  const TensorType& data = tensor_arg(args, 0, kOp);
  const TensorType& weight = tensor_arg(args, 1, kOp);
  if (data.rank() < 1) type_error(kOp, "data must have rank >= 1, got " + data.to_string());
  require_rank(weight, 2, kOp, "weight");
  require_numeric(data, "data", kOp);
  if (data.dtype != weight.dtype) {
    type_error(kOp, "data " + data.to_string() + " and weight " + weight.to_string() +
                        " have different dtypes");
  }
  const Dim& features = data.shape.back();
  if (!dims_compatible(features, weight.shape[1])) {
    type_error(kOp, "data " + data.to_string() + " has " + features.to_string() +
                        " features but weight " + weight.to_string() + " expects " +
                        weight.shape[1].to_string());
  }
  Shape out = data.shape;
  out.back() = weight.shape[0];
  return TensorType{data.dtype, out};
}

// One dot product of length K per output element.
int64_t product_macs(const std::vector<Type>& args, const ir::Attrs& /*attrs*/,
                     const Type& result) {
  if (!nn::all_static(args, result)) return 0;
  return result.as_tensor().numel() * args[0].as_tensor().shape.back().value();
}

// The operands of a matmul as batched matrices: a 1-D a is a row [1, K], a 1-D b a column [K, 1].
struct MatmulOperands {
  Shape a_batch, b_batch;
  Dim m, k_a, k_b, n;
  bool a_vector = false, b_vector = false;
};

MatmulOperands matmul_operands(const Shape& a, const Shape& b) {
  MatmulOperands ops;
  ops.a_vector = a.size() == 1;
  ops.b_vector = b.size() == 1;
  ops.m = ops.a_vector ? Dim(1) : a[a.size() - 2];
  ops.k_a = a.back();
  ops.k_b = ops.b_vector ? b[0] : b[b.size() - 2];
  ops.n = ops.b_vector ? Dim(1) : b.back();
  ops.a_batch.assign(a.begin(), a.end() - (ops.a_vector ? 1 : 2));
  ops.b_batch.assign(b.begin(), b.end() - (ops.b_vector ? 1 : 2));
  return ops;
}

Type infer_matmul(const std::vector<Type>& args, const ir::Attrs& /*attrs*/) {
  constexpr std::string_view kOp = "matmul";
  const TensorType& a = tensor_arg(args, 0, kOp);
  const TensorType& b = tensor_arg(args, 1, kOp);
  if (a.rank() < 1 || b.rank() < 1) {
    type_error(kOp, "operands must have rank >= 1, got " + a.to_string() + " and " + b.to_string());
  }
  require_numeric(a, "a", kOp);
  require_same_dtype(a, b, kOp);
  MatmulOperands ops = matmul_operands(a.shape, b.shape);
  if (!dims_compatible(ops.k_a, ops.k_b)) {
    type_error(kOp, "inner dimensions differ: a " + a.to_string() + " has " + ops.k_a.to_string() +
                        " columns but b " + b.to_string() + " has " + ops.k_b.to_string() +
                        " rows");
  }
  Shape out = broadcast_shapes(ops.a_batch, ops.b_batch, kOp);
  // The dims that 1-D promotion added are removed again, as numpy does.
  if (!ops.a_vector) out.push_back(ops.m);
  if (!ops.b_vector) out.push_back(ops.n);
  return TensorType{a.dtype, out};
}

// Static batch dims of `batch` aligned right to `rank` dims, with the row-major stride of each
// (in matrices), and stride 0 where the dim is 1 so that it broadcasts.
std::vector<int64_t> broadcast_strides(const std::vector<int64_t>& batch, size_t rank) {
  std::vector<int64_t> padded(rank - batch.size(), 1);
  padded.insert(padded.end(), batch.begin(), batch.end());
  std::vector<int64_t> strides = row_major_strides(padded);
  for (size_t i = 0; i < rank; ++i) {
    if (padded[i] == 1) strides[i] = 0;
  }
  return strides;
}

std::vector<int64_t> static_dims(const Shape& shape) {
  std::vector<int64_t> dims;
  for (const Dim& dim : shape) dims.push_back(dim.value());
  return dims;
}

// Batched a[M, K] x b[K, N] in the accumulator type Acc (double for floating point, uint64_t for
// integers so that overflow wraps as two's complement instead of being undefined).
template <typename Acc>
std::vector<Acc> batched_matmul(const std::vector<Acc>& a, const std::vector<Acc>& b,
                                const MatmulOperands& ops) {
  std::vector<int64_t> a_batch = static_dims(ops.a_batch);
  std::vector<int64_t> b_batch = static_dims(ops.b_batch);
  std::vector<int64_t> out_batch =
      static_dims(broadcast_shapes(ops.a_batch, ops.b_batch, "matmul"));
  size_t rank = out_batch.size();
  std::vector<int64_t> a_strides = broadcast_strides(a_batch, rank);
  std::vector<int64_t> b_strides = broadcast_strides(b_batch, rank);
  std::vector<int64_t> out_strides = row_major_strides(out_batch);
  int64_t batches = 1;
  for (int64_t dim : out_batch) batches *= dim;

  int64_t m_size = ops.m.value(), k_size = ops.k_a.value(), n_size = ops.n.value();
  std::vector<Acc> out(static_cast<size_t>(batches * m_size * n_size));
  for (int64_t batch = 0; batch < batches; ++batch) {
    int64_t a_matrix = 0, b_matrix = 0;
    for (size_t d = 0; d < rank; ++d) {
      int64_t index = (batch / out_strides[d]) % out_batch[d];
      a_matrix += index * a_strides[d];
      b_matrix += index * b_strides[d];
    }
    const Acc* a_base = a.data() + a_matrix * m_size * k_size;
    const Acc* b_base = b.data() + b_matrix * k_size * n_size;
    Acc* out_base = out.data() + batch * m_size * n_size;
    for (int64_t m = 0; m < m_size; ++m) {
      for (int64_t n = 0; n < n_size; ++n) {
        Acc sum = 0;
        for (int64_t k = 0; k < k_size; ++k) sum += a_base[m * k_size + k] * b_base[k * n_size + n];
        out_base[m * n_size + n] = sum;
      }
    }
  }
  return out;
}

std::vector<uint64_t> to_wrapping_ints(const Tensor& tensor) {
  std::vector<int64_t> values = tensor.to_int64s();
  return {values.begin(), values.end()};
}

Tensor eval_matmul(const std::vector<Tensor>& args, const ir::Attrs& /*attrs*/,
                   const TensorType& result) {
  auto shape_of = [](const Tensor& tensor) {
    return ir::tensor_type(tensor.dtype(), tensor.shape()).shape;
  };
  MatmulOperands ops = matmul_operands(shape_of(args[0]), shape_of(args[1]));
  Tensor out(result.dtype, result.static_shape());
  if (dtype_is_float(result.dtype)) {
    std::vector<double> values =
        batched_matmul(nn::to_doubles(args[0]), nn::to_doubles(args[1]), ops);
    for (size_t i = 0; i < values.size(); ++i) {
      out.set_element_from_double(static_cast<int64_t>(i), values[i]);
    }
  } else {
    std::vector<uint64_t> values =
        batched_matmul(to_wrapping_ints(args[0]), to_wrapping_ints(args[1]), ops);
    for (size_t i = 0; i < values.size(); ++i) {
      out.set_element_from_int64(static_cast<int64_t>(i), static_cast<int64_t>(values[i]));
    }
  }
  return out;
}

}  // namespace

void register_dense_ops(ir::OpRegistry& registry) {
  ir::OpDef dense =
      nn::make_op("dense", "fully connected layer: data[..., K] x weight[N, K]^T -> [..., N]", 2, 2,
                  {}, ir::OpPattern::kOutEWiseFusable, infer_dense);
  dense.macs = product_macs;
  registry.add(std::move(dense));

  ir::OpDef matmul =
      nn::make_op("matmul", "numpy matmul: 1-D operands promoted, batch dims broadcast", 2, 2, {},
                  ir::OpPattern::kOutEWiseFusable, infer_matmul);
  matmul.evaluate = eval_matmul;
  matmul.macs = product_macs;
  registry.add(std::move(matmul));
}

}  // namespace kiln::op
