"""The attention family of ONNX opsets 23-27 (Attention, RotaryEmbedding, TensorScatter,
CausalConvWithState, LinearAttention): one-node models compiled and run by Kiln, compared with
ONNX's reference evaluator (onnx.reference), and with onnxruntime where it runs the operator.

Tolerances: float32 rtol 1e-4 / atol 1e-5 (same operations, another summation order and Kiln's
own exp/tanh); float16 rtol/atol 2e-3 (Kiln computes half inputs in float32, the reference in
float16); int64 results exact. Sizes include odd lengths and head sizes around the 8/16-float
vector width.
"""

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

NP_TO_ONNX = {
    np.dtype(np.float32): TensorProto.FLOAT,
    np.dtype(np.float16): TensorProto.FLOAT16,
    np.dtype(np.int64): TensorProto.INT64,
    np.dtype(np.bool_): TensorProto.BOOL,
}


def make_model(op, inputs, num_outputs, attrs, opset):
    """`inputs` is a list of (name, array) pairs; a None array is an omitted optional input."""
    names = [name if value is not None else "" for name, value in inputs]
    outputs = [f"y{i}" for i in range(num_outputs)]
    node = helper.make_node(op, names, outputs, name="node", **(attrs or {}))
    graph = helper.make_graph(
        [node], op.lower(),
        [helper.make_tensor_value_info(n, NP_TO_ONNX[v.dtype], v.shape)
         for n, v in inputs if v is not None],
        [helper.make_tensor_value_info(n, TensorProto.UNDEFINED, None) for n in outputs])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def run_kiln(kiln, tmp_path, model, feeds, num_outputs):
    path = tmp_path / "model.onnx"
    path.write_bytes(model.SerializeToString())
    package = kiln.compile(kiln.load(str(path)), target="llvm",
                           package_path=str(tmp_path / "m.tar"))
    result = kiln.run(package, inputs=feeds)
    return [result.outputs[f"output_{i}"] for i in range(num_outputs)]


def compare(got, expected, rtol, atol):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == e.shape
        assert g.dtype == e.dtype
        if np.issubdtype(e.dtype, np.floating):
            np.testing.assert_allclose(g.astype(np.float64), e.astype(np.float64), rtol=rtol,
                                       atol=atol)
        else:
            np.testing.assert_array_equal(g, e)


def check(kiln, tmp_path, op, inputs, num_outputs=1, attrs=None, opset=24, ort=False,
          reference_inputs=None):
    """reference_inputs: equivalent inputs for the reference evaluator, where it mishandles
    Kiln's (a bool mask with is_causal gives NaN there: 0 * -inf)."""
    model = make_model(op, inputs, num_outputs, attrs, opset)
    feeds = {n: v for n, v in inputs if v is not None}
    half = any(v.dtype == np.float16 for v in feeds.values())
    rtol, atol = (2e-3, 2e-3) if half else (1e-4, 1e-5)
    if reference_inputs is None:
        expected = ReferenceEvaluator(model).run(None, feeds)
    else:
        expected = ReferenceEvaluator(make_model(op, reference_inputs, num_outputs, attrs, opset)).run(
            None, {n: v for n, v in reference_inputs if v is not None})
    got = run_kiln(kiln, tmp_path, model, feeds, num_outputs)
    compare(got, expected, rtol, atol)
    if ort:
        import onnxruntime
        for output, value in zip(model.graph.output, expected):  # onnxruntime wants the types
            output.type.tensor_type.elem_type = NP_TO_ONNX[value.dtype]
        try:
            session = onnxruntime.InferenceSession(model.SerializeToString(),
                                                   providers=["CPUExecutionProvider"])
        except Exception as error:  # an operator or opset onnxruntime lacks
            pytest.skip(f"onnxruntime does not run it: {str(error)[:200]}")
        compare(got, session.run(None, feeds), rtol, atol)


def rand(*shape, seed=0, low=-1.0, high=1.0, dtype=np.float32):
    return np.random.default_rng(seed).uniform(low, high, shape).astype(dtype)


# ---------------------------------------------------------------------------------------------
# Attention
# ---------------------------------------------------------------------------------------------
ATTENTION_INPUTS = ["Q", "K", "V", "attn_mask", "past_key", "past_value", "nonpad_kv_seqlen"]


def attention_inputs(q, k, v, mask=None, past_key=None, past_value=None, nonpad=None):
    values = [q, k, v, mask, past_key, past_value, nonpad]
    while values[-1] is None:
        values.pop()
    return list(zip(ATTENTION_INPUTS, values))


@pytest.mark.parametrize("q_len,kv_len,head", [(5, 7, 8), (1, 17, 16), (16, 16, 17), (9, 3, 4)])
def test_attention_4d(kiln, tmp_path, q_len, kv_len, head):
    q, k, v = rand(2, 3, q_len, head), rand(2, 3, kv_len, head, seed=1), \
        rand(2, 3, kv_len, head + 3, seed=2)
    check(kiln, tmp_path, "Attention", attention_inputs(q, k, v), opset=23, ort=True)


@pytest.mark.parametrize("q_heads,kv_heads", [(4, 2), (6, 1), (3, 3)])
@pytest.mark.parametrize("causal", [0, 1])
def test_attention_3d_gqa(kiln, tmp_path, q_heads, kv_heads, causal):
    head, v_head = 8, 5
    q = rand(2, 6, q_heads * head)
    k = rand(2, 6, kv_heads * head, seed=1)
    v = rand(2, 6, kv_heads * v_head, seed=2)
    check(kiln, tmp_path, "Attention", attention_inputs(q, k, v),
          attrs={"q_num_heads": q_heads, "kv_num_heads": kv_heads, "is_causal": causal},
          opset=23, ort=True)


@pytest.mark.parametrize("mask_kind", ["bool", "float", "bool_short", "float_3d"])
@pytest.mark.parametrize("causal", [0, 1])
def test_attention_mask_past_present(kiln, tmp_path, mask_kind, causal):
    batch, heads, q_len, kv_len, past, head = 2, 4, 3, 3, 5, 8
    total = past + kv_len
    rng = np.random.default_rng(3)
    if mask_kind.startswith("bool"):
        length = total - 2 if mask_kind == "bool_short" else total
        mask = rng.random((q_len, length)) > 0.3
        mask[:, 0] = True  # every query sees a key: no all-masked rows
    elif mask_kind == "float":
        mask = rand(batch, heads, q_len, total, seed=4)
    else:
        mask = rand(heads, q_len, total, seed=4)
    q, k, v = rand(batch, heads, q_len, head), rand(batch, 2, kv_len, head, seed=1), \
        rand(batch, 2, kv_len, head, seed=2)
    past_key, past_value = rand(batch, 2, past, head, seed=5), rand(batch, 2, past, head, seed=6)
    reference_inputs = None
    if causal and mask.dtype == np.bool_:
        float_mask = np.where(mask, 0.0, -np.inf).astype(np.float32)
        reference_inputs = attention_inputs(q, k, v, float_mask, past_key, past_value)
    check(kiln, tmp_path, "Attention",
          attention_inputs(q, k, v, mask, past_key, past_value), num_outputs=3,
          attrs={"is_causal": causal}, opset=23, reference_inputs=reference_inputs)


@pytest.mark.parametrize("mode", [0, 1, 2, 3])
def test_attention_qk_matmul_output(kiln, tmp_path, mode):
    q, k, v = rand(1, 2, 4, 8), rand(1, 2, 6, 8, seed=1), rand(1, 2, 6, 8, seed=2)
    mask = rand(4, 6, seed=3)
    attrs = {"qk_matmul_output_mode": mode, "scale": 0.7}
    if mode != 0:  # the reference applies softcap before taking mode 0's output
        attrs["softcap"] = 2.0
    check(kiln, tmp_path, "Attention", attention_inputs(q, k, v, mask), num_outputs=4,
          attrs=attrs, opset=23)


def test_attention_softcap_softmax_precision(kiln, tmp_path):
    q, k, v = rand(2, 2, 5, 16, high=3), rand(2, 2, 5, 16, seed=1, high=3), rand(2, 2, 5, 16)
    check(kiln, tmp_path, "Attention", attention_inputs(q, k, v),
          attrs={"softcap": 1.5, "softmax_precision": TensorProto.FLOAT, "scale": 0.3}, opset=23)


def test_attention_nonpad_kv_seqlen(kiln, tmp_path):
    q, k, v = rand(3, 2, 4, 8), rand(3, 2, 10, 8, seed=1), rand(3, 2, 10, 8, seed=2)
    nonpad = np.array([8, 3, 7], np.int64)
    # Shorter than the cache, at least max(nonpad_kv_seqlen) long; 4-D because the reference
    # adds the [batch, 1, 1, total] padding bias to it in place.
    mask = rand(3, 1, 4, 8, seed=3)
    check(kiln, tmp_path, "Attention", attention_inputs(q, k, v, mask, nonpad=nonpad), opset=24)


def test_attention_float16(kiln, tmp_path):
    q, k, v = (rand(1, 2, 5, 8, seed=s, dtype=np.float16) for s in range(3))
    check(kiln, tmp_path, "Attention", attention_inputs(q, k, v), attrs={"is_causal": 1},
          opset=23)


def test_attention_3d_without_heads_is_an_error(kiln, tmp_path):
    model = make_model("Attention", attention_inputs(rand(1, 4, 8), rand(1, 4, 8),
                                                     rand(1, 4, 8)), 1, None, 23)
    path = tmp_path / "bad.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(kiln.Error, match=r"node 'node' \(Attention\).*q_num_heads"):
        kiln.load(str(path))


def test_attention_batch_mismatch_is_an_error(kiln, tmp_path):
    model = make_model("Attention", attention_inputs(rand(1, 2, 4, 8), rand(2, 2, 4, 8),
                                                     rand(2, 2, 4, 8)), 1, None, 23)
    path = tmp_path / "bad.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(kiln.Error, match=r"\(Attention\).*same batch size"):
        kiln.load(str(path))


def test_attention_gqa_heads_must_divide(kiln, tmp_path):
    model = make_model("Attention", attention_inputs(rand(1, 3, 4, 8), rand(1, 2, 4, 8),
                                                     rand(1, 2, 4, 8)), 1, None, 23)
    path = tmp_path / "bad.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(kiln.Error, match=r"\(Attention\).*multiple of the key/value heads"):
        kiln.load(str(path))


# ---------------------------------------------------------------------------------------------
# RotaryEmbedding
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("interleaved", [0, 1])
@pytest.mark.parametrize("rotary_dim", [0, 6])
@pytest.mark.parametrize("form", ["4d_positions", "3d_positions", "4d_no_positions"])
def test_rotary_embedding(kiln, tmp_path, interleaved, rotary_dim, form):
    batch, heads, seq, head = 2, 3, 5, 10
    half = (rotary_dim or head) // 2
    if form == "3d_positions":
        x = rand(batch, seq, heads * head)
    else:
        x = rand(batch, heads, seq, head)
    if form.endswith("no_positions"):
        cos, sin = rand(batch, seq, half, seed=1), rand(batch, seq, half, seed=2)
        positions = None
    else:
        cos, sin = rand(12, half, seed=1), rand(12, half, seed=2)
        positions = np.random.default_rng(3).integers(0, 12, (batch, seq)).astype(np.int64)
    attrs = {"interleaved": interleaved, "rotary_embedding_dim": rotary_dim}
    if form == "3d_positions":
        attrs["num_heads"] = heads
    inputs = [("X", x), ("cos_cache", cos), ("sin_cache", sin)]
    if positions is not None:
        inputs.append(("position_ids", positions))
    check(kiln, tmp_path, "RotaryEmbedding", inputs, attrs=attrs, opset=23, ort=True)


def test_rotary_embedding_odd_rotary_dim_is_an_error(kiln, tmp_path):
    inputs = [("X", rand(1, 2, 3, 8)), ("cos_cache", rand(1, 3, 2)), ("sin_cache", rand(1, 3, 2))]
    model = make_model("RotaryEmbedding", inputs, 1, {"rotary_embedding_dim": 5}, 23)
    path = tmp_path / "bad.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(kiln.Error, match=r"\(RotaryEmbedding\).*rotary_embedding_dim 5"):
        kiln.load(str(path))


# ---------------------------------------------------------------------------------------------
# TensorScatter
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["linear", "circular"])
@pytest.mark.parametrize("shape,update_len,axis", [((2, 3, 9, 4), 2, -2), ((3, 7, 5), 3, 1),
                                                   ((2, 4, 6, 8), 6, 2)])
def test_tensor_scatter(kiln, tmp_path, mode, shape, update_len, axis):
    past = rand(*shape)
    update_shape = list(shape)
    update_shape[axis] = update_len
    update = rand(*update_shape, seed=1)
    max_len = shape[axis]
    rng = np.random.default_rng(2)
    high = max_len + 4 if mode == "circular" else max_len - update_len + 1
    write = rng.integers(0, high, shape[0]).astype(np.int64)
    check(kiln, tmp_path, "TensorScatter",
          [("past_cache", past), ("update", update), ("write_indices", write)],
          attrs={"mode": mode, "axis": axis}, opset=24)


def test_tensor_scatter_without_write_indices(kiln, tmp_path):
    check(kiln, tmp_path, "TensorScatter", [("past_cache", rand(2, 2, 8, 3)),
                                            ("update", rand(2, 2, 3, 3, seed=1))], opset=24)


# ---------------------------------------------------------------------------------------------
# CausalConvWithState
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kernel", [1, 2, 4])
@pytest.mark.parametrize("length", [1, 3, 17])
@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("activation", ["none", "silu"])
def test_causal_conv_with_state(kiln, tmp_path, kernel, length, with_state, activation):
    if kernel == 1 and with_state:
        pytest.skip("a k=1 state is empty: zero-size inputs are not fed")
    batch, channels = 2, 5
    inputs = [("input", rand(batch, channels, length)),
              ("weight", rand(channels, 1, kernel, seed=1)),
              ("bias", rand(channels, seed=2) if activation == "silu" else None),
              ("past_state", rand(batch, channels, kernel - 1, seed=3) if with_state else None)]
    while inputs[-1][1] is None:
        inputs.pop()
    check(kiln, tmp_path, "CausalConvWithState", inputs, num_outputs=2,
          attrs={"activation": activation}, opset=27)


# ---------------------------------------------------------------------------------------------
# LinearAttention
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rule", ["linear", "gated", "delta", "gated_delta"])
@pytest.mark.parametrize("q_heads,kv_heads", [(2, 2), (4, 2), (3, 1)])
@pytest.mark.parametrize("tokens", [1, 5])
def test_linear_attention(kiln, tmp_path, rule, q_heads, kv_heads, tokens):
    batch, dk, dv = 2, 8, 6
    key = rand(batch, tokens, kv_heads * dk, seed=1)
    key = (key.reshape(batch, tokens, kv_heads, dk) /
           np.linalg.norm(key.reshape(batch, tokens, kv_heads, dk), axis=-1, keepdims=True)
           ).reshape(batch, tokens, kv_heads * dk).astype(np.float32)
    gated = rule in ("gated", "gated_delta")
    delta = rule in ("delta", "gated_delta")
    per_head = q_heads == 4  # decay of one value per head, else one per key dim
    decay = rand(batch, tokens, kv_heads if per_head else kv_heads * dk, seed=4, low=-0.5,
                 high=0.0) if gated else None
    beta = rand(batch, tokens, 1 if q_heads == 3 else kv_heads, seed=5, low=0.0) if delta else None
    inputs = [("query", rand(batch, tokens, q_heads * dk)), ("key", key),
              ("value", rand(batch, tokens, kv_heads * dv, seed=2)),
              ("past_state", rand(batch, kv_heads, dk, dv, seed=3) if tokens == 1 else None),
              ("decay", decay), ("beta", beta)]
    while inputs[-1][1] is None:
        inputs.pop()
    check(kiln, tmp_path, "LinearAttention", inputs, num_outputs=2,
          attrs={"update_rule": rule, "q_num_heads": q_heads, "kv_num_heads": kv_heads},
          opset=27)


def test_linear_attention_explicit_scale(kiln, tmp_path):
    inputs = [("query", rand(1, 3, 8)), ("key", rand(1, 3, 8, seed=1)),
              ("value", rand(1, 3, 4, seed=2))]
    check(kiln, tmp_path, "LinearAttention", inputs, num_outputs=2,
          attrs={"update_rule": "linear", "q_num_heads": 2, "kv_num_heads": 2, "scale": 0.25},
          opset=27)


def test_linear_attention_missing_decay_is_an_error(kiln, tmp_path):
    inputs = [("query", rand(1, 3, 8)), ("key", rand(1, 3, 8, seed=1)),
              ("value", rand(1, 3, 4, seed=2))]
    model = make_model("LinearAttention", inputs, 2,
                       {"update_rule": "gated", "q_num_heads": 2, "kv_num_heads": 2}, 27)
    path = tmp_path / "bad.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(kiln.Error, match=r"\(LinearAttention\).*requires the decay input"):
        kiln.load(str(path))


# ---------------------------------------------------------------------------------------------
# Opset 27: Range's stash_type computes float16 ranges in float32
# ---------------------------------------------------------------------------------------------
def test_range_float16_stash_type(kiln, tmp_path):
    # Opset 27 reads stash_type (default: compute in float32); the result must match exactly.
    inits = [numpy_helper.from_array(np.array(v, np.float16), n)
             for n, v in [("start", 1000.0), ("limit", 1100.0), ("delta", 0.7)]]
    node = helper.make_node("Range", ["start", "limit", "delta"], ["y0"], name="node")
    graph = helper.make_graph([node], "range", [],
                              [helper.make_tensor_value_info("y0", TensorProto.FLOAT16, None)],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 27)])
    expected = ReferenceEvaluator(model).run(None, {})
    compare(run_kiln(kiln, tmp_path, model, {}, 1), expected, rtol=0, atol=0)
