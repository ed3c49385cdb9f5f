// Converters for the attention family of ONNX opsets 23-27: Attention, RotaryEmbedding,
// TensorScatter (KV-cache update), CausalConvWithState and LinearAttention. Each is decomposed
// onto existing IR operators (matmul, softmax, where, reshape, transpose, concat, slices,
// scatter_elements, conv2d, elementwise), following the ONNX operator specification.
//
// The decompositions need static sizes for everything but the batch dim (the masks and the
// unrolled recurrences are built at import time); compile needs static shapes anyway, and the
// error says to fix them with shape_dict.
#include <cmath>
#include <limits>

#include "frontend/onnx/converter.h"

namespace kiln::frontend::onnx_import {

namespace {

using Outputs = std::vector<ir::Expr>;
using Ints = std::vector<int64_t>;

constexpr double kInf = std::numeric_limits<double>::infinity();

// --- small IR builders -----------------------------------------------------------------------

// ONNX Reshape semantics: 0 copies the input's dim (keeps a symbolic batch), -1 is inferred.
ir::Expr reshape(const NodeContext& ctx, const ir::Expr& x, Ints newshape) {
  return ctx.call("reshape", {x}, {{"newshape", std::move(newshape)}, {"allowzero", int64_t{0}}});
}

ir::Expr transpose(const NodeContext& ctx, const ir::Expr& x, Ints axes) {
  return ctx.call("transpose", {x}, {{"axes", std::move(axes)}});
}

ir::Expr slice(const NodeContext& ctx, const ir::Expr& x, int64_t axis, int64_t begin, int64_t end,
               int64_t stride = 1) {
  return ctx.call("strided_slice", {x},
                  {{"begin", Ints{begin}},
                   {"end", Ints{end}},
                   {"axes", Ints{axis}},
                   {"strides", Ints{stride}}});
}

ir::Expr concat(const NodeContext& ctx, std::vector<ir::Expr> parts, int64_t axis) {
  if (parts.size() == 1) return parts[0];
  return ctx.call("concat", std::move(parts), {{"axis", axis}});
}

ir::Expr binary(const NodeContext& ctx, const char* op, const ir::Expr& a, const ir::Expr& b) {
  return ctx.call(op, {a, b});
}

ir::Expr cast(const NodeContext& ctx, const ir::Expr& x, DType dtype) {
  if (x->type().as_tensor().dtype == dtype) return x;
  return ctx.call("cast", {x}, {{"dtype", std::string(dtype_name(dtype))}});
}

const ir::Shape& shape_of(const ir::Expr& x) { return x->type().as_tensor().shape; }

// Half-precision inputs are computed in float32 (Kiln's reductions and exp are float32 at
// heart); the results are cast back to the input type.
DType compute_dtype(DType dtype) {
  return dtype == DType::kFloat16 || dtype == DType::kBFloat16 ? DType::kFloat32 : dtype;
}

// The static value of dim `axis` of input `what`, or an error asking for shape_dict.
int64_t static_dim(const NodeContext& ctx, const ir::Shape& shape, size_t axis,
                   const std::string& what) {
  if (axis >= shape.size() || !shape[axis].is_static()) {
    ctx.fail(what + " " + ir::shape_to_string(shape) + " needs a static dim " +
             std::to_string(axis) + ctx.shape_dict_hint());
  }
  return shape[axis].value();
}

void require_rank(const NodeContext& ctx, size_t input, int64_t rank, const std::string& what) {
  const ir::TensorType& type = ctx.input_type(input);
  if (type.rank() != rank) {
    ctx.fail(what + " must have rank " + std::to_string(rank) + ", got " + type.to_string());
  }
}

void require_float(const NodeContext& ctx, size_t input, const std::string& what) {
  const ir::TensorType& type = ctx.input_type(input);
  if (!dtype_is_float(type.dtype))
    ctx.fail(what + " must be a float tensor, got " + type.to_string());
}

// A constant of `dtype` and `shape` whose element i is values(i).
template <typename F>
ir::Expr constant_from(const NodeContext& ctx, DType dtype, Ints shape, F values) {
  Tensor tensor(dtype, std::move(shape));
  for (int64_t i = 0; i < tensor.numel(); ++i) tensor.set_element_from_double(i, values(i));
  return ctx.constant(std::move(tensor));
}

// [B, S, H * D] -> [B, H, S, D].
ir::Expr split_heads(const NodeContext& ctx, const ir::Expr& x, int64_t heads) {
  return transpose(ctx, reshape(ctx, x, {0, 0, heads, -1}), {0, 2, 1, 3});
}

// [B, H, S, D] -> [B, S, H * D].
ir::Expr merge_heads(const NodeContext& ctx, const ir::Expr& x) {
  return reshape(ctx, transpose(ctx, x, {0, 2, 1, 3}), {0, 0, -1});
}

// --- Attention (opset 23, 24) ------------------------------------------------------------------

constexpr size_t kQ = 0, kK = 1, kV = 2, kMask = 3, kPastKey = 4, kPastValue = 5, kNonpad = 6;

struct AttentionSetup {
  bool packed = false;  // 3-D inputs [B, S, H * D]
  int64_t q_heads = 0, kv_heads = 0, head_size = 0, v_head_size = 0;
  int64_t q_len = 0, past_len = 0, total_len = 0;
  DType dtype = DType::kFloat32;  // Q's type: the outputs' type
  DType compute = DType::kFloat32;
};

// Q, K, V in [B, H, S, D] form, in the compute dtype.
struct AttentionInputs {
  ir::Expr q, k, v;
};

AttentionSetup read_attention_setup(const NodeContext& ctx) {
  AttentionSetup setup;
  const ir::TensorType& q = ctx.input_type(kQ);
  const ir::TensorType& k = ctx.input_type(kK);
  const ir::TensorType& v = ctx.input_type(kV);
  for (size_t i : {kQ, kK, kV}) require_float(ctx, i, i == kQ ? "Q" : i == kK ? "K" : "V");
  if (q.rank() != k.rank() || q.rank() != v.rank() || (q.rank() != 3 && q.rank() != 4)) {
    ctx.fail(
        "Q, K and V must all be 3-D [batch, seq, hidden] or all 4-D [batch, heads, seq, "
        "head_size], got " +
        q.to_string() + ", " + k.to_string() + ", " + v.to_string());
  }
  if (k.dtype != q.dtype || v.dtype != q.dtype) {
    ctx.fail("Q, K and V must have the same type, got " + q.to_string() + ", " + k.to_string() +
             ", " + v.to_string());
  }
  // matmul would broadcast a batch of 1 against the others: a silent wrong shape.
  if (k.shape[0] != q.shape[0] || v.shape[0] != q.shape[0]) {
    ctx.fail("Q, K and V must have the same batch size, got " + q.to_string() + ", " +
             k.to_string() + ", " + v.to_string());
  }
  setup.dtype = q.dtype;
  setup.compute = compute_dtype(q.dtype);
  setup.packed = q.rank() == 3;
  if (setup.packed) {
    if (!ctx.has_attr("q_num_heads") || !ctx.has_attr("kv_num_heads")) {
      ctx.fail("3-D inputs need the attributes q_num_heads and kv_num_heads");
    }
    setup.q_heads = ctx.attr_int("q_num_heads");
    setup.kv_heads = ctx.attr_int("kv_num_heads");
    if (setup.q_heads <= 0 || setup.kv_heads <= 0) {
      ctx.fail("q_num_heads and kv_num_heads must be positive, got " +
               std::to_string(setup.q_heads) + " and " + std::to_string(setup.kv_heads));
    }
    int64_t q_hidden = static_dim(ctx, q.shape, 2, "Q");
    int64_t k_hidden = static_dim(ctx, k.shape, 2, "K");
    int64_t v_hidden = static_dim(ctx, v.shape, 2, "V");
    if (q_hidden % setup.q_heads || k_hidden % setup.kv_heads || v_hidden % setup.kv_heads) {
      ctx.fail("the hidden sizes of Q " + q.to_string() + ", K " + k.to_string() + " and V " +
               v.to_string() + " must be multiples of q_num_heads " +
               std::to_string(setup.q_heads) + " / kv_num_heads " + std::to_string(setup.kv_heads));
    }
    setup.head_size = q_hidden / setup.q_heads;
    if (k_hidden / setup.kv_heads != setup.head_size) {
      ctx.fail("Q and K must have the same head size, got " + std::to_string(setup.head_size) +
               " and " + std::to_string(k_hidden / setup.kv_heads));
    }
    setup.v_head_size = v_hidden / setup.kv_heads;
    setup.q_len = static_dim(ctx, q.shape, 1, "Q");
  } else {
    setup.q_heads = static_dim(ctx, q.shape, 1, "Q");
    setup.kv_heads = static_dim(ctx, k.shape, 1, "K");
    if (static_dim(ctx, v.shape, 1, "V") != setup.kv_heads) {
      ctx.fail("K and V must have the same number of heads, got " + k.to_string() + " and " +
               v.to_string());
    }
    setup.head_size = static_dim(ctx, q.shape, 3, "Q");
    if (static_dim(ctx, k.shape, 3, "K") != setup.head_size) {
      ctx.fail("Q and K must have the same head size, got " + q.to_string() + " and " +
               k.to_string());
    }
    setup.v_head_size = static_dim(ctx, v.shape, 3, "V");
    setup.q_len = static_dim(ctx, q.shape, 2, "Q");
  }
  if (setup.q_heads % setup.kv_heads != 0) {
    ctx.fail("the query heads (" + std::to_string(setup.q_heads) +
             ") must be a multiple of the key/value heads (" + std::to_string(setup.kv_heads) +
             ")");
  }
  int64_t kv_len = static_dim(ctx, k.shape, setup.packed ? 1 : 2, "K");
  if (static_dim(ctx, v.shape, setup.packed ? 1 : 2, "V") != kv_len) {
    ctx.fail("K and V must have the same sequence length, got " + k.to_string() + " and " +
             v.to_string());
  }
  if (ctx.has_input(kPastKey) != ctx.has_input(kPastValue)) {
    ctx.fail("past_key and past_value must be given together");
  }
  if (ctx.has_input(kPastKey)) {
    if (ctx.has_input(kNonpad)) {
      ctx.fail("nonpad_kv_seqlen cannot be used together with past_key / past_value");
    }
    require_rank(ctx, kPastKey, 4, "past_key");
    require_rank(ctx, kPastValue, 4, "past_value");
    setup.past_len = static_dim(ctx, ctx.input_type(kPastKey).shape, 2, "past_key");
    if (static_dim(ctx, ctx.input_type(kPastValue).shape, 2, "past_value") != setup.past_len) {
      ctx.fail("past_key and past_value must have the same sequence length");
    }
  }
  setup.total_len = setup.past_len + kv_len;
  return setup;
}

// Q, K, V as [B, H, S, D], with the past cache prepended to K and V.
AttentionInputs attention_inputs(const NodeContext& ctx, const AttentionSetup& setup) {
  AttentionInputs in{ctx.input(kQ), ctx.input(kK), ctx.input(kV)};
  if (setup.packed) {
    in.q = split_heads(ctx, in.q, setup.q_heads);
    in.k = split_heads(ctx, in.k, setup.kv_heads);
    in.v = split_heads(ctx, in.v, setup.kv_heads);
  }
  if (ctx.has_input(kPastKey)) {
    in.k = concat(ctx, {ctx.input(kPastKey), in.k}, 2);
    in.v = concat(ctx, {ctx.input(kPastValue), in.v}, 2);
  }
  return in;
}

// A float mask [..., q_len, total_len]: a bool mask becomes 0 / -inf; a shorter last dim is
// padded with -inf (the spec's padding up to total_sequence_length).
ir::Expr attention_mask_bias(const NodeContext& ctx, const AttentionSetup& setup) {
  ir::Expr mask = ctx.input(kMask);
  const ir::TensorType& type = ctx.input_type(kMask);
  if (type.rank() < 1 || type.rank() > 4) {
    ctx.fail(
        "attn_mask must have rank 1 to 4 (broadcast to [batch, q_heads, q_len, total_len]), "
        "got " +
        type.to_string());
  }
  if (type.dtype == DType::kBool) {
    mask =
        ctx.call("where", {mask, ctx.scalar(0.0, setup.compute), ctx.scalar(-kInf, setup.compute)});
  } else {
    mask = cast(ctx, mask, setup.compute);
  }
  int64_t mask_len = static_dim(ctx, type.shape, type.shape.size() - 1, "attn_mask");
  if (mask_len > setup.total_len) {
    ctx.fail("attn_mask " + type.to_string() + " is longer than the total sequence length " +
             std::to_string(setup.total_len));
  }
  if (mask_len < setup.total_len) {
    Ints pads(2 * type.shape.size(), 0);
    pads.back() = setup.total_len - mask_len;
    mask = ctx.call("pad", {mask},
                    {{"pads", pads}, {"mode", std::string("constant")}, {"value", -kInf}});
  }
  return mask;
}

// The upper-left aligned causal bias [q_len, total_len]: query i sees keys j <= i + past_len.
ir::Expr causal_bias(const NodeContext& ctx, const AttentionSetup& setup) {
  int64_t total = setup.total_len;
  int64_t past = setup.past_len;
  return constant_from(ctx, setup.compute, {setup.q_len, total}, [&](int64_t index) {
    int64_t i = index / total, j = index % total;
    return j > i + past ? -kInf : 0.0;
  });
}

// nonpad_kv_seqlen [B] -> [B, 1, 1, total_len]: 0 for the first n keys of a sample, -inf after.
ir::Expr padding_bias(const NodeContext& ctx, const AttentionSetup& setup) {
  const ir::TensorType& type = ctx.input_type(kNonpad);
  if (type.rank() != 1 || dtype_is_float(type.dtype) || type.dtype == DType::kBool) {
    ctx.fail("nonpad_kv_seqlen must be an integer vector [batch], got " + type.to_string());
  }
  if (type.shape[0] != ctx.input_type(kQ).shape[0]) {
    ctx.fail("nonpad_kv_seqlen " + type.to_string() +
             " must hold one length per batch entry of Q " + ctx.input_type(kQ).to_string());
  }
  ir::Expr lengths = reshape(ctx, cast(ctx, ctx.input(kNonpad), DType::kInt64), {-1, 1, 1, 1});
  ir::Expr positions = constant_from(ctx, DType::kInt64, {setup.total_len},
                                     [](int64_t i) { return static_cast<double>(i); });
  ir::Expr valid = binary(ctx, "less", positions, lengths);
  return ctx.call("where",
                  {valid, ctx.scalar(0.0, setup.compute), ctx.scalar(-kInf, setup.compute)});
}

// The sum of the mask, causal and padding biases, or nullptr when there is none.
ir::Expr attention_bias(const NodeContext& ctx, const AttentionSetup& setup) {
  ir::Expr bias;
  auto add = [&](const ir::Expr& term) { bias = bias ? binary(ctx, "add", bias, term) : term; };
  if (ctx.has_input(kMask)) add(attention_mask_bias(ctx, setup));
  if (ctx.attr_int("is_causal", 0) != 0) add(causal_bias(ctx, setup));
  if (ctx.has_input(kNonpad)) add(padding_bias(ctx, setup));
  return bias;
}

// a @ b over [B, H, ...] with the key/value heads shared by groups of query heads (GQA/MQA):
// `a` [B, Hq, M, K] is viewed as [B, Hkv, group, M, K] and `b` [B, Hkv, K, N] as
// [B, Hkv, 1, K, N], so the batch broadcast of matmul repeats each KV head without copying it.
ir::Expr grouped_matmul(const NodeContext& ctx, const AttentionSetup& setup, const ir::Expr& a,
                        const ir::Expr& b) {
  int64_t group = setup.q_heads / setup.kv_heads;
  if (group == 1) return ctx.call("matmul", {a, b});
  const ir::Shape& a_shape = shape_of(a);
  const ir::Shape& b_shape = shape_of(b);
  int64_t m = a_shape[2].value(), k = a_shape[3].value(), n = b_shape[3].value();
  ir::Expr a5 = reshape(ctx, a, {0, setup.kv_heads, group, m, k});
  ir::Expr b5 = reshape(ctx, b, {0, setup.kv_heads, 1, k, n});
  return reshape(ctx, ctx.call("matmul", {a5, b5}), {0, setup.q_heads, m, n});
}

Outputs convert_attention(const NodeContext& ctx) {
  AttentionSetup setup = read_attention_setup(ctx);
  AttentionInputs in = attention_inputs(ctx, setup);
  ir::Expr present_key = in.k, present_value = in.v;

  int64_t mode = ctx.attr_int("qk_matmul_output_mode", 0);
  if (mode < 0 || mode > 3) {
    ctx.fail("qk_matmul_output_mode must be 0, 1, 2 or 3, got " + std::to_string(mode));
  }
  double softcap = ctx.attr_float("softcap", 0.0);
  if (softcap < 0) ctx.fail("softcap must not be negative, got " + std::to_string(softcap));
  DType softmax_dtype = setup.compute;
  if (ctx.has_attr("softmax_precision")) {
    int64_t precision = ctx.attr_int("softmax_precision");
    std::optional<DType> dtype = dtype_from_onnx(precision);
    if (!dtype || !dtype_is_float(*dtype)) {
      ctx.fail("softmax_precision " + std::to_string(precision) +
               " is not a float type Kiln supports (1 float, 10 float16, 11 double, 16 bfloat16)");
    }
    // A narrower precision than the compute type is not worth losing accuracy for.
    softmax_dtype = compute_dtype(*dtype) == DType::kFloat64 ? DType::kFloat64 : setup.compute;
  }

  // The spec scales Q and K each by sqrt(scale) before the product, against overflow.
  double scale = ctx.has_attr("scale") ? ctx.attr_float("scale", 1.0)
                                       : 1.0 / std::sqrt(static_cast<double>(setup.head_size));
  ir::Expr root_scale = ctx.scalar(std::sqrt(scale), setup.compute);
  ir::Expr q = binary(ctx, "multiply", cast(ctx, in.q, setup.compute), root_scale);
  ir::Expr k = binary(ctx, "multiply", cast(ctx, in.k, setup.compute), root_scale);
  ir::Expr v = cast(ctx, in.v, setup.compute);

  ir::Expr scores = grouped_matmul(ctx, setup, q, transpose(ctx, k, {0, 1, 3, 2}));
  ir::Expr qk_output = scores;
  if (softcap > 0) {
    ir::Expr cap = ctx.scalar(softcap, setup.compute);
    scores = binary(ctx, "multiply", ctx.call("tanh", {binary(ctx, "divide", scores, cap)}), cap);
  }
  if (mode == 1) qk_output = scores;
  if (ir::Expr bias = attention_bias(ctx, setup)) scores = binary(ctx, "add", scores, bias);
  if (mode == 2) qk_output = scores;
  ir::Expr probs = ctx.call("softmax", {cast(ctx, scores, softmax_dtype)}, {{"axis", int64_t{-1}}});
  if (mode == 3) qk_output = probs;
  ir::Expr y = grouped_matmul(ctx, setup, cast(ctx, probs, setup.compute), v);
  if (setup.packed) y = merge_heads(ctx, y);

  Outputs outputs{cast(ctx, y, setup.dtype)};
  outputs.push_back(present_key);
  outputs.push_back(present_value);
  outputs.push_back(cast(ctx, qk_output, setup.dtype));
  return outputs;
}

// --- RotaryEmbedding (opset 23) ----------------------------------------------------------------

Outputs convert_rotary_embedding(const NodeContext& ctx) {
  const ir::TensorType& x_type = ctx.input_type(0);
  require_float(ctx, 0, "X");
  if (x_type.rank() != 3 && x_type.rank() != 4) {
    ctx.fail("X must be 3-D [batch, seq, hidden] or 4-D [batch, heads, seq, head_size], got " +
             x_type.to_string());
  }
  bool packed = x_type.rank() == 3;
  bool interleaved = ctx.attr_int("interleaved", 0) != 0;
  // Work in [B, S, H, D] for 3-D input and [B, H, S, D] for 4-D input; the cos/sin rows
  // [B, S, R/2] get a head axis of 1 inserted at 2 or 1.
  ir::Expr x = ctx.input(0);
  int64_t head_size = 0;
  if (packed) {
    int64_t heads = ctx.attr_int("num_heads", 0);
    int64_t hidden = static_dim(ctx, x_type.shape, 2, "X");
    if (heads <= 0 || hidden % heads != 0) {
      ctx.fail("3-D X " + x_type.to_string() +
               " needs attribute num_heads > 0 dividing its hidden size, got " +
               std::to_string(heads));
    }
    head_size = hidden / heads;
    x = reshape(ctx, x, {0, 0, heads, head_size});
  } else {
    head_size = static_dim(ctx, x_type.shape, 3, "X");
  }
  int64_t rotary = ctx.attr_int("rotary_embedding_dim", 0);
  if (rotary == 0) rotary = head_size;
  if (rotary < 0 || rotary > head_size || rotary % 2 != 0) {
    ctx.fail("rotary_embedding_dim " + std::to_string(rotary) +
             " must be even and at most the head size " + std::to_string(head_size));
  }
  int64_t half = rotary / 2;

  ir::Expr cos = ctx.input(1), sin = ctx.input(2);
  if (ctx.has_input(3)) {  // caches [max_position, R/2] looked up at position_ids [B, S]
    require_rank(ctx, 1, 2, "cos_cache");
    require_rank(ctx, 2, 2, "sin_cache");
    cos = ctx.call("gather", {cos, ctx.input(3)}, {{"axis", int64_t{0}}});
    sin = ctx.call("gather", {sin, ctx.input(3)}, {{"axis", int64_t{0}}});
  } else {
    require_rank(ctx, 1, 3, "cos_cache (without position_ids)");
    require_rank(ctx, 2, 3, "sin_cache (without position_ids)");
  }
  for (const ir::Expr& cache : {cos, sin}) {
    if (static_dim(ctx, shape_of(cache), 2, "the cos/sin rows") != half) {
      ctx.fail("the last dim of cos_cache / sin_cache must be rotary_embedding_dim / 2 = " +
               std::to_string(half) + ", got " + shape_of(cache).back().to_string());
    }
  }
  DType dtype = x_type.dtype;
  Ints head_axis{packed ? int64_t{2} : int64_t{1}};
  cos = cast(ctx, ctx.call("unsqueeze", {cos}, {{"axes", head_axis}}), dtype);
  sin = cast(ctx, ctx.call("unsqueeze", {sin}, {{"axes", head_axis}}), dtype);

  ir::Expr rotated = rotary == head_size ? x : slice(ctx, x, 3, 0, rotary);
  ir::Expr x1 =
      interleaved ? slice(ctx, rotated, 3, 0, rotary, 2) : slice(ctx, rotated, 3, 0, half);
  ir::Expr x2 =
      interleaved ? slice(ctx, rotated, 3, 1, rotary, 2) : slice(ctx, rotated, 3, half, rotary);
  ir::Expr real =
      binary(ctx, "subtract", binary(ctx, "multiply", cos, x1), binary(ctx, "multiply", sin, x2));
  ir::Expr imag =
      binary(ctx, "add", binary(ctx, "multiply", sin, x1), binary(ctx, "multiply", cos, x2));
  if (interleaved) {  // pairs (real_i, imag_i) side by side again
    Ints last{4};
    ir::Expr pairs = concat(ctx,
                            {ctx.call("unsqueeze", {real}, {{"axes", last}}),
                             ctx.call("unsqueeze", {imag}, {{"axes", last}})},
                            4);
    rotated = reshape(ctx, pairs, {0, 0, 0, rotary});
  } else {
    rotated = concat(ctx, {real, imag}, 3);
  }
  ir::Expr y = rotary == head_size ? rotated
                                   : concat(ctx, {rotated, slice(ctx, x, 3, rotary, head_size)}, 3);
  if (packed) y = reshape(ctx, y, {0, 0, -1});
  return {y};
}

// --- TensorScatter (opset 24) ------------------------------------------------------------------

// present = past with update written along `axis` at write_indices[b] + s (mod the cache length
// in circular mode): a scatter_elements whose indices are built from the write positions.
Outputs convert_tensor_scatter(const NodeContext& ctx) {
  const ir::TensorType& past = ctx.input_type(0);
  const ir::TensorType& update = ctx.input_type(1);
  int64_t rank = past.rank();
  if (update.rank() != rank || rank < 2) {
    ctx.fail("past_cache " + past.to_string() + " and update " + update.to_string() +
             " must have the same rank, at least 2");
  }
  if (update.dtype != past.dtype) {
    ctx.fail("past_cache and update must have the same type, got " + past.to_string() + " and " +
             update.to_string());
  }
  int64_t axis = normalize_axis(ctx, ctx.attr_int("axis", -2), rank, "axis");
  if (axis == 0) ctx.fail("axis must not be 0 (the batch dim)");
  std::string mode = ctx.attr_string("mode", "linear");
  if (mode != "linear" && mode != "circular") {
    ctx.fail("mode \"" + mode + "\" is not linear or circular");
  }
  int64_t max_len = static_dim(ctx, past.shape, static_cast<size_t>(axis), "past_cache");
  int64_t length = static_dim(ctx, update.shape, static_cast<size_t>(axis), "update");
  for (int64_t d = 0; d < rank; ++d) {
    if (d != axis && past.shape[d] != update.shape[d]) {
      ctx.fail("past_cache " + past.to_string() + " and update " + update.to_string() +
               " differ in dim " + std::to_string(d) + "; only the axis dim may differ");
    }
  }
  if (length > max_len) {
    ctx.fail("update " + update.to_string() + " is longer than the cache " + past.to_string());
  }
  // Positions s along the axis, shaped [1, .., length, .., 1].
  Ints position_shape(static_cast<size_t>(rank), 1);
  position_shape[static_cast<size_t>(axis)] = length;
  ir::Expr indices = constant_from(ctx, DType::kInt64, position_shape,
                                   [](int64_t i) { return static_cast<double>(i); });
  if (ctx.has_input(2)) {
    const ir::TensorType& write = ctx.input_type(2);
    if (write.rank() != 1 || dtype_is_float(write.dtype) || write.dtype == DType::kBool) {
      ctx.fail("write_indices must be an integer vector [batch], got " + write.to_string());
    }
    if (write.shape[0] != past.shape[0]) {
      ctx.fail("write_indices " + write.to_string() + " must hold one index per batch entry of " +
               past.to_string());
    }
    Ints batch_shape(static_cast<size_t>(rank), 1);
    batch_shape[0] = -1;
    ir::Expr offsets = reshape(ctx, cast(ctx, ctx.input(2), DType::kInt64), batch_shape);
    indices = binary(ctx, "add", indices, offsets);
  }
  if (mode == "circular") {
    indices = ctx.call("mod", {indices, ctx.scalar(static_cast<double>(max_len), DType::kInt64)},
                       {{"fmod", int64_t{0}}});
  }
  Ints full_shape;
  for (const ir::Dim& dim : update.shape) full_shape.push_back(dim.is_static() ? dim.value() : 1);
  if (!update.is_static())
    ctx.fail("update " + update.to_string() + " needs a static shape" + ctx.shape_dict_hint());
  indices = ctx.call("expand", {indices}, {{"shape", full_shape}});
  return {ctx.call("scatter_elements", {ctx.input(0), indices, ctx.input(1)},
                   {{"axis", axis}, {"reduction", std::string("none")}})};
}

// --- CausalConvWithState (opset 27) ------------------------------------------------------------

// output = depthwise conv1d over [past_state (or zeros), input], no padding, optional bias and
// SiLU; present_state = the last k - 1 positions of that concatenation.
Outputs convert_causal_conv_with_state(const NodeContext& ctx) {
  require_rank(ctx, 0, 3, "input");
  require_rank(ctx, 1, 3, "weight");
  require_float(ctx, 0, "input");
  const ir::TensorType& x = ctx.input_type(0);
  const ir::TensorType& w = ctx.input_type(1);
  int64_t channels = static_dim(ctx, x.shape, 1, "input");
  int64_t length = static_dim(ctx, x.shape, 2, "input");
  int64_t kernel = static_dim(ctx, w.shape, 2, "weight");
  if (static_dim(ctx, w.shape, 0, "weight") != channels ||
      static_dim(ctx, w.shape, 1, "weight") != 1) {
    ctx.fail("weight " + w.to_string() +
             " must be [channels, 1, k] with channels = " + std::to_string(channels));
  }
  if (kernel < 1) ctx.fail("the kernel size must be at least 1, got " + w.to_string());
  std::string activation = ctx.attr_string("activation", "none");
  if (activation != "none" && activation != "silu" && activation != "swish") {
    ctx.fail("activation \"" + activation + "\" is not one of none, silu, swish");
  }
  DType dtype = x.dtype;
  DType compute = compute_dtype(dtype);
  ir::Expr input = cast(ctx, ctx.input(0), compute);
  ir::Expr padded = input;
  if (ctx.has_input(3)) {
    const ir::TensorType& state = ctx.input_type(3);
    if (state.rank() != 3 || state.shape[1] != x.shape[1] ||
        static_dim(ctx, state.shape, 2, "past_state") != kernel - 1) {
      ctx.fail("past_state " + state.to_string() + " must be [batch, " + std::to_string(channels) +
               ", " + std::to_string(kernel - 1) + "]");
    }
    if (kernel > 1) padded = concat(ctx, {cast(ctx, ctx.input(3), compute), input}, 2);
  } else if (kernel > 1) {
    padded = ctx.call("pad", {input},
                      {{"pads", Ints{0, 0, kernel - 1, 0, 0, 0}},
                       {"mode", std::string("constant")},
                       {"value", 0.0}});
  }
  // conv2d with height 1 and one group per channel.
  ir::Expr data = ctx.call("unsqueeze", {padded}, {{"axes", Ints{2}}});
  ir::Expr weight = ctx.call("unsqueeze", {cast(ctx, ctx.input(1), compute)}, {{"axes", Ints{2}}});
  ir::Expr y = ctx.call("conv2d", {data, weight},
                        {{"strides", Ints{1, 1}},
                         {"padding", Ints{0, 0, 0, 0}},
                         {"dilation", Ints{1, 1}},
                         {"groups", channels}});
  if (ctx.has_input(2)) {
    y = ctx.call("bias_add", {y, cast(ctx, ctx.input(2), compute)}, {{"axis", int64_t{1}}});
  }
  y = ctx.call("squeeze", {y}, {{"axes", Ints{2}}});
  if (activation != "none") y = binary(ctx, "multiply", y, ctx.call("sigmoid", {y}));
  ir::Expr state = slice(ctx, padded, 2, length, length + kernel - 1);
  return {cast(ctx, y, dtype), cast(ctx, state, dtype)};
}

// --- LinearAttention (opset 27) ----------------------------------------------------------------

// The recurrence is unrolled over the tokens at import time; beyond this many tokens the graph
// would grow too large (a chunk-parallel form is future work).
constexpr int64_t kMaxLinearAttentionTokens = 256;

struct LinearAttentionSetup {
  int64_t q_heads = 0, kv_heads = 0, key_size = 0, value_size = 0, tokens = 0;
  bool gated = false, delta = false;
  DType dtype = DType::kFloat32;
};

LinearAttentionSetup read_linear_attention_setup(const NodeContext& ctx) {
  LinearAttentionSetup setup;
  std::string rule = ctx.attr_string("update_rule", "gated_delta");
  if (rule != "linear" && rule != "gated" && rule != "delta" && rule != "gated_delta") {
    ctx.fail("update_rule \"" + rule + "\" is not one of linear, gated, delta, gated_delta");
  }
  setup.gated = rule == "gated" || rule == "gated_delta";
  setup.delta = rule == "delta" || rule == "gated_delta";
  if (setup.gated != ctx.has_input(4)) {
    ctx.fail("update_rule \"" + rule + "\" " + (setup.gated ? "requires" : "forbids") +
             " the decay input");
  }
  if (setup.delta != ctx.has_input(5)) {
    ctx.fail("update_rule \"" + rule + "\" " + (setup.delta ? "requires" : "forbids") +
             " the beta input");
  }
  setup.q_heads = ctx.attr_int("q_num_heads");
  setup.kv_heads = ctx.attr_int("kv_num_heads");
  if (setup.q_heads <= 0 || setup.kv_heads <= 0 || setup.q_heads % setup.kv_heads != 0) {
    ctx.fail("q_num_heads (" + std::to_string(setup.q_heads) +
             ") must be a positive multiple of kv_num_heads (" + std::to_string(setup.kv_heads) +
             ")");
  }
  for (size_t i = 0; i < 3; ++i) {
    const char* name = i == 0 ? "query" : i == 1 ? "key" : "value";
    require_rank(ctx, i, 3, name);
    require_float(ctx, i, name);
  }
  const ir::TensorType& q = ctx.input_type(0);
  setup.dtype = q.dtype;
  setup.tokens = static_dim(ctx, q.shape, 1, "query");
  int64_t q_hidden = static_dim(ctx, q.shape, 2, "query");
  int64_t k_hidden = static_dim(ctx, ctx.input_type(1).shape, 2, "key");
  int64_t v_hidden = static_dim(ctx, ctx.input_type(2).shape, 2, "value");
  if (q_hidden % setup.q_heads || v_hidden % setup.kv_heads ||
      k_hidden != q_hidden / setup.q_heads * setup.kv_heads) {
    ctx.fail("query " + q.to_string() + ", key " + ctx.input_type(1).to_string() + " and value " +
             ctx.input_type(2).to_string() + " do not split into q_num_heads " +
             std::to_string(setup.q_heads) + " / kv_num_heads " + std::to_string(setup.kv_heads) +
             " heads of one key size");
  }
  setup.key_size = q_hidden / setup.q_heads;
  setup.value_size = v_hidden / setup.kv_heads;
  // Batch and tokens must agree: the per-token products would broadcast a 1 silently.
  for (size_t i : {size_t{1}, size_t{2}, size_t{4}, size_t{5}}) {
    if (!ctx.has_input(i)) continue;
    const ir::TensorType& type = ctx.input_type(i);
    if (type.rank() != 3 || type.shape[0] != q.shape[0] ||
        static_dim(ctx, type.shape, 1, "input " + std::to_string(i)) != setup.tokens) {
      ctx.fail("input " + std::to_string(i) + " " + type.to_string() +
               " must be [batch, tokens, ...] like query " + q.to_string());
    }
  }
  if (setup.tokens > kMaxLinearAttentionTokens) {
    ctx.fail("LinearAttention over " + std::to_string(setup.tokens) +
             " tokens is not supported yet: the recurrence is unrolled, up to " +
             std::to_string(kMaxLinearAttentionTokens) +
             " tokens per call; split the sequence into chunks carrying present_state");
  }
  return setup;
}

// decay [B, T, Hkv] or [B, T, Hkv * dk] as per-token factors exp(g) shaped [B, T, Hkv, dk or 1].
ir::Expr decay_factors(const NodeContext& ctx, const LinearAttentionSetup& setup) {
  require_rank(ctx, 4, 3, "decay");
  int64_t last = static_dim(ctx, ctx.input_type(4).shape, 2, "decay");
  if (last != setup.kv_heads && last != setup.kv_heads * setup.key_size) {
    ctx.fail("the last dim of decay " + ctx.input_type(4).to_string() +
             " must be kv_num_heads or kv_num_heads * d_k");
  }
  ir::Expr g = cast(ctx, ctx.input(4), DType::kFloat32);
  g = reshape(ctx, g, {0, 0, setup.kv_heads, last / setup.kv_heads});
  return ctx.call("exp", {g});
}

// beta [B, T, Hkv] or [B, T, 1] as [B, T, Hkv or 1, 1].
ir::Expr beta_factors(const NodeContext& ctx, const LinearAttentionSetup& setup) {
  require_rank(ctx, 5, 3, "beta");
  int64_t last = static_dim(ctx, ctx.input_type(5).shape, 2, "beta");
  if (last != setup.kv_heads && last != 1) {
    ctx.fail("the last dim of beta " + ctx.input_type(5).to_string() +
             " must be kv_num_heads or 1");
  }
  return reshape(ctx, cast(ctx, ctx.input(5), DType::kFloat32), {0, 0, last, 1});
}

// Token t of x [B, T, ...] as [B, ...] reshaped to `shape` (0 copies the batch).
ir::Expr token(const NodeContext& ctx, const ir::Expr& x, int64_t t, Ints shape) {
  return reshape(ctx, slice(ctx, x, 1, t, t + 1), std::move(shape));
}

// S_t = exp(g_t) S_{t-1} (gated) ; v'_t = beta_t (v_t - S^T k_t) (delta) ; S_t += k_t v'_t^T ;
// o_t = scale q_t^T S_t, in float32 with the state [B, Hkv, dk, dv] and the query heads of one
// KV head as the rows of q_t [B, Hkv, group, dk].
Outputs convert_linear_attention(const NodeContext& ctx) {
  LinearAttentionSetup setup = read_linear_attention_setup(ctx);
  int64_t hkv = setup.kv_heads, dk = setup.key_size, dv = setup.value_size;
  int64_t group = setup.q_heads / hkv;
  const DType f32 = DType::kFloat32;
  ir::Expr q = reshape(ctx, cast(ctx, ctx.input(0), f32), {0, 0, hkv, group, dk});
  ir::Expr k = reshape(ctx, cast(ctx, ctx.input(1), f32), {0, 0, hkv, dk});
  ir::Expr v = reshape(ctx, cast(ctx, ctx.input(2), f32), {0, 0, hkv, dv});
  ir::Expr decay = setup.gated ? decay_factors(ctx, setup) : nullptr;
  ir::Expr beta = setup.delta ? beta_factors(ctx, setup) : nullptr;

  DType state_dtype = setup.dtype;
  ir::Expr state;
  if (ctx.has_input(3)) {
    const ir::TensorType& past = ctx.input_type(3);
    if (past.rank() != 4 || past.shape[0] != ctx.input_type(0).shape[0] ||
        static_dim(ctx, past.shape, 1, "past_state") != hkv ||
        static_dim(ctx, past.shape, 2, "past_state") != dk ||
        static_dim(ctx, past.shape, 3, "past_state") != dv) {
      ctx.fail("past_state " + past.to_string() + " must be [batch, " + std::to_string(hkv) + ", " +
               std::to_string(dk) + ", " + std::to_string(dv) + "]");
    }
    state_dtype = past.dtype;
    state = cast(ctx, ctx.input(3), f32);
  } else {
    const ir::Dim& batch = ctx.input_type(0).shape[0];
    if (!batch.is_static()) {
      ctx.fail("a zero initial state needs a static batch size" + ctx.shape_dict_hint());
    }
    state = ctx.constant(Tensor(f32, {batch.value(), hkv, dk, dv}));
  }
  double scale = ctx.attr_float("scale", 0.0);
  if (scale == 0.0) scale = 1.0 / std::sqrt(static_cast<double>(dk));

  std::vector<ir::Expr> outputs;
  for (int64_t t = 0; t < setup.tokens; ++t) {
    if (decay) {
      int64_t width = shape_of(decay)[3].value();
      state = binary(ctx, "multiply", state, token(ctx, decay, t, {0, hkv, width, 1}));
    }
    ir::Expr v_row = token(ctx, v, t, {0, hkv, 1, dv});
    if (beta) {
      ir::Expr retrieved = ctx.call("matmul", {token(ctx, k, t, {0, hkv, 1, dk}), state});
      int64_t heads = shape_of(beta)[2].value();
      v_row = binary(ctx, "multiply", token(ctx, beta, t, {0, heads, 1, 1}),
                     binary(ctx, "subtract", v_row, retrieved));
    }
    ir::Expr outer = binary(ctx, "multiply", token(ctx, k, t, {0, hkv, dk, 1}), v_row);
    state = binary(ctx, "add", state, outer);
    ir::Expr out = ctx.call("matmul", {token(ctx, q, t, {0, hkv, group, dk}), state});
    outputs.push_back(reshape(ctx, out, {0, 1, hkv * group * dv}));
  }
  ir::Expr y = concat(ctx, std::move(outputs), 1);
  y = binary(ctx, "multiply", y, ctx.scalar(scale, f32));
  return {cast(ctx, y, setup.dtype), cast(ctx, state, state_dtype)};
}

}  // namespace

void add_attention_converters(ConverterTable& table) {
  table["Attention"] = convert_attention;
  table["RotaryEmbedding"] = convert_rotary_embedding;
  table["TensorScatter"] = convert_tensor_scatter;
  table["CausalConvWithState"] = convert_causal_conv_with_state;
  table["LinearAttention"] = convert_linear_attention;
}

}  // namespace kiln::frontend::onnx_import
