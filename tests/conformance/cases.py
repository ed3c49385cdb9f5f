"""The ONNX backend node tests as conformance cases: discovery, metadata, reference data, comparison.

Shared by the runner (run.py, the parent process) and the worker (worker.py, one case at a time).
Nothing here imports kiln, so the parent never loads the code under test.

A case is a directory <onnx>/backend/test/data/node/<name>/ holding model.onnx and
test_data_set_*/input_*.pb, output_*.pb (TensorProto for tensors; SequenceProto / OptionalProto
for the other value kinds, which Kiln does not take).
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

# The ONNX backend default is rtol=1e-3, atol=1e-7. We keep its rtol but widen atol to 1e-5:
# Kiln computes in float32 with its own summation order, FMA contraction and vectorised
# exp/log/tanh, so results that should be ~0 (cancellations such as x - mean, sin(pi)) come out
# at ~1e-6, i.e. a few float32 ulps of the magnitude-1 intermediates; atol=1e-7 is below one
# float32 ulp at 1.0 (1.19e-7) and would fail exact-in-float64 reference values for rounding
# alone. Every case also records whether it passes the strict ONNX tolerance ("strict").
RTOL = 1e-3
ATOL = 1e-5
STRICT_ATOL = 1e-7

# Element types a caller can hand to / receive from kiln.run as numpy arrays. Anything else
# (strings, bfloat16 and the 8/4/2-bit floats and ints, which numpy lacks) makes the case
# "rejected (input type)", like sequences, optionals and maps.
KILN_IO_ELEM_TYPES = {
    "FLOAT", "FLOAT16", "DOUBLE", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32",
    "UINT64", "BOOL", "BFLOAT16", "FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ",
    "FLOAT8E8M0", "FLOAT4E2M1", "INT4", "UINT4", "INT2", "UINT2",
}

# Operator families for the per-category numbers. A case belongs to the family of its operator
# (for an expanded, multi-node case: the operator it expands). Ops not listed fall in "other".
FAMILIES: Dict[str, List[str]] = {
    "elementwise": """Abs Acos Acosh Add And Asin Asinh Atan Atanh BitShift BitwiseAnd BitwiseNot
        BitwiseOr BitwiseXor BitCast Cast CastLike Ceil Celu Clip Cos Cosh Div Elu Equal Erf Exp
        Floor Gelu Greater GreaterOrEqual HardSigmoid HardSwish IsInf IsNaN LeakyRelu Less
        LessOrEqual Log Max Mean Min Mish Mod Mul Neg Not Or PRelu Pow Reciprocal Relu Round Selu
        Shrink Sigmoid Sign Sin Sinh Softplus Softsign Sqrt Sub Sum Swish Tan Tanh
        ThresholdedRelu Where Xor""".split(),
    "nn": """Attention AffineGrid AveragePool BatchNormalization CausalConvWithState Col2Im Conv
        ConvTranspose DeformConv Det Dropout Einsum FlexAttention Gemm GlobalAveragePool
        GlobalMaxPool GridSample GroupNormalization Hardmax InstanceNormalization LRN
        LayerNormalization LinearAttention LogSoftmax LpNormalization LpPool MatMul MaxPool
        MaxUnpool MeanVarianceNormalization NegativeLogLikelihoodLoss NonMaxSuppression
        RMSNormalization Resize RoiAlign RotaryEmbedding Softmax SoftmaxCrossEntropyLoss
        Upsample""".split(),
    "reduce": """ArgMax ArgMin CumProd CumSum ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp
        ReduceMax ReduceMean ReduceMin ReduceProd ReduceSum ReduceSumSquare TopK""".split(),
    "tensor/shape": """CenterCropPad Compress Concat Constant ConstantOfShape DepthToSpace
        Expand EyeLike Flatten Gather GatherElements GatherND Identity NonZero OneHot Pad Range
        Reshape ReverseSequence Scatter ScatterElements ScatterND Shape Size Slice SpaceToDepth
        Split Squeeze TensorScatter Tile Transpose Trilu Unique Unsqueeze""".split(),
    "rnn": "GRU LSTM RNN".split(),
    "control flow": "If Loop Scan".split(),
    "quantized": """ConvInteger DequantizeLinear DynamicQuantizeLinear MatMulInteger QLinearConv
        QLinearMatMul QuantizeLinear""".split(),
    "signal/image": """BlackmanWindow DFT HammingWindow HannWindow ImageDecoder MelWeightMatrix
        STFT""".split(),
    "random": "Bernoulli Multinomial RandomNormal RandomNormalLike RandomUniform "
              "RandomUniformLike".split(),
    "sequence/optional/string": """ConcatFromSequence OptionalGetElement OptionalHasElement
        RegexFullMatch SequenceAt SequenceConstruct SequenceEmpty SequenceErase SequenceInsert
        SequenceLength SequenceMap SplitToSequence StringConcat StringNormalizer StringSplit
        TfIdfVectorizer""".split(),
    "ml (ai.onnx.ml)": "ArrayFeatureExtractor Binarizer LabelEncoder TreeEnsemble".split(),
    "training": "Adagrad Adam Gradient Momentum".split(),
}
FAMILY_OF_OP = {op: family for family, ops in FAMILIES.items() for op in ops}
FAMILY_ORDER = list(FAMILIES) + ["other"]


def data_dir() -> str:
    """<onnx package>/backend/test/data/node of the installed onnx (1.22.0 ships the data)."""
    import onnx

    path = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "node")
    if not os.path.isdir(path):
        raise SystemExit(f"ONNX node test data not found at {path}: install onnx==1.22.0 "
                         f"(later releases generate the data instead of shipping it)")
    return path


def list_case_names(root: str) -> List[str]:
    return sorted(n for n in os.listdir(root) if os.path.isfile(os.path.join(root, n, "model.onnx")))


@dataclass
class CaseInfo:
    """What the parent knows about a case before running it (from model.onnx alone)."""

    name: str
    path: str
    op: str                 # op_type of the single node, else "expanded/function"
    base_op: str            # the operator the case tests (for expanded cases: the one expanded)
    family: str
    training: bool          # exists only for training (training ops, test_training_*)
    io_type_problem: Optional[str] = None  # why kiln.run cannot take/return its values
    nodes: int = 1
    datasets: List[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _value_type_problem(value_info, onnx) -> Optional[str]:
    """None when the value is a tensor of an element type Kiln's numpy I/O carries."""
    kind = value_info.type.WhichOneof("value")
    if kind != "tensor_type":
        return f"{value_info.name!r} is a {kind.replace('_type', '') if kind else 'untyped value'}"
    elem = onnx.TensorProto.DataType.Name(value_info.type.tensor_type.elem_type)
    if elem not in KILN_IO_ELEM_TYPES:
        return f"{value_info.name!r} has element type {elem}"
    return None


def graph_inputs(graph) -> list:
    """The graph inputs a caller feeds: declared inputs that are not initializers, in order."""
    initializers = {t.name for t in graph.initializer}
    return [v for v in graph.input if v.name not in initializers]


def describe_cases(root: str, names: List[str]) -> List[CaseInfo]:
    """Reads every model.onnx once (about 3 s for all 1765) and derives each case's metadata."""
    import onnx

    graphs = {n: onnx.load(os.path.join(root, n, "model.onnx"), load_external_data=False).graph
              for n in names}
    # Expanded cases (test_x_expanded, test_x_expanded_ver18) are the function body of the
    # operator tested by test_x; we need test_x's op even when test_x itself is not selected.
    single_op = {n: g.node[0].op_type for n, g in graphs.items() if len(g.node) == 1}
    all_names = set(list_case_names(root))

    def sibling_op(name: str) -> Optional[str]:
        base = name.split("_expanded")[0]
        if base in single_op:
            return single_op[base]
        if base in all_names:
            g = onnx.load(os.path.join(root, base, "model.onnx"), load_external_data=False).graph
            if len(g.node) == 1:
                single_op[base] = g.node[0].op_type
                return single_op[base]
        return None

    infos = []
    for name in names:
        graph = graphs[name]
        if len(graph.node) == 1:
            op = base_op = graph.node[0].op_type
        else:
            op = "expanded/function"
            base_op = sibling_op(name) or op
        domains = {node.domain for node in graph.node}
        training = name.startswith("test_training_") or any(
            d == "ai.onnx.preview.training" for d in domains) or FAMILY_OF_OP.get(base_op) == "training"
        problems = [p for v in list(graph_inputs(graph)) + list(graph.output)
                    if (p := _value_type_problem(v, onnx))]
        case_dir = os.path.join(root, name)
        datasets = sorted(d for d in os.listdir(case_dir) if d.startswith("test_data_set_"))
        infos.append(CaseInfo(
            name=name, path=case_dir, op=op, base_op=base_op,
            family=FAMILY_OF_OP.get(base_op, "other"), training=training,
            io_type_problem="; ".join(problems) if problems else None,
            nodes=len(graph.node), datasets=datasets))
    return infos


# ---------------------------------------------------------------------------------------------
# Reference data
# ---------------------------------------------------------------------------------------------
def _numbered(dataset_dir: str, prefix: str) -> List[str]:
    files = glob.glob(os.path.join(dataset_dir, f"{prefix}_*.pb"))
    return sorted(files, key=lambda f: int(re.search(r"_(\d+)\.pb$", f).group(1)))


def load_tensor(path: str) -> np.ndarray:
    import onnx
    from onnx import numpy_helper

    tensor = onnx.TensorProto()
    with open(path, "rb") as f:
        tensor.ParseFromString(f.read())
    return numpy_helper.to_array(tensor)


def load_dataset(dataset_dir: str) -> Tuple[List[np.ndarray], List[np.ndarray]]:
    """(inputs, expected outputs) in file order: input_i feeds the i-th non-initializer graph
    input, output_i is the i-th graph output (the ONNX backend convention)."""
    inputs = [load_tensor(f) for f in _numbered(dataset_dir, "input")]
    outputs = [load_tensor(f) for f in _numbered(dataset_dir, "output")]
    return inputs, outputs


# ---------------------------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------------------------
@dataclass
class Mismatch:
    reason: str
    max_abs_err: Optional[float] = None
    max_rel_err: Optional[float] = None


def _finite_errors(actual: np.ndarray, expected: np.ndarray) -> Tuple[float, float]:
    """Max absolute and relative error over positions where both values are finite."""
    a = actual.astype(np.float64)
    e = expected.astype(np.float64)
    both = np.isfinite(a) & np.isfinite(e)
    if not both.any():
        return 0.0, 0.0
    diff = np.abs(a[both] - e[both])
    nonzero = e[both] != 0  # relative error is undefined where the reference is 0
    rel = diff[nonzero] / np.abs(e[both][nonzero])
    return float(diff.max()), float(rel.max()) if rel.size else 0.0


def compare(actual: np.ndarray, expected: np.ndarray) -> Tuple[Optional[Mismatch], bool]:
    """(None, strict_ok) when `actual` matches `expected`, else (Mismatch, False).

    Shapes and dtypes must be equal; floats within RTOL/ATOL with NaN (and +-inf) at the same
    positions; integers and bools exactly. strict_ok says whether the floats also meet the ONNX
    default tolerance (atol=1e-7)."""
    actual = np.asarray(actual)
    if actual.shape != expected.shape:
        return Mismatch(f"shape {list(actual.shape)} != expected {list(expected.shape)}"), False
    if actual.dtype != expected.dtype:
        return Mismatch(f"dtype {actual.dtype} != expected {expected.dtype}"), False
    if actual.size == 0:
        return None, True
    # ml_dtypes' narrow types (bfloat16, float8, int4, ...) compare as the float32 / int8 values
    # they stand for (numpy does not count them as floating or integer).
    if expected.dtype.kind == "V" or expected.dtype.type.__module__.startswith("ml_dtypes"):
        wide = np.float32 if "float" in expected.dtype.name else np.int8
        actual, expected = actual.astype(wide), expected.astype(wide)
    if np.issubdtype(expected.dtype, np.floating):
        nan_a, nan_e = np.isnan(actual), np.isnan(expected)
        if not np.array_equal(nan_a, nan_e):
            return Mismatch(f"NaN at {int((nan_a != nan_e).sum())} position(s) where the "
                            f"reference has none, or the other way round"), False
        max_abs, max_rel = _finite_errors(actual, expected)
        a64, e64 = actual.astype(np.float64), expected.astype(np.float64)
        try:
            np.testing.assert_allclose(a64, e64, rtol=RTOL, atol=ATOL, equal_nan=True)
        except AssertionError:
            bad = ~np.isclose(a64, e64, rtol=RTOL, atol=ATOL, equal_nan=True)
            inf_mismatch = (np.isinf(a64) | np.isinf(e64)) & bad
            what = (f"{int(inf_mismatch.sum())} infinities differ, " if inf_mismatch.any() else "")
            return Mismatch(f"{what}{int(bad.sum())}/{actual.size} values off (max abs err "
                            f"{max_abs:.3g}, max rel err {max_rel:.3g})", max_abs, max_rel), False
        strict = bool(np.allclose(a64, e64, rtol=RTOL, atol=STRICT_ATOL, equal_nan=True))
        return None, strict
    if not np.array_equal(actual, expected):
        bad = int((actual != expected).sum())
        max_abs, _ = _finite_errors(actual, expected)
        return Mismatch(f"{bad}/{actual.size} values differ (max abs err {max_abs:.6g})",
                        max_abs), False
    return None, True


# ---------------------------------------------------------------------------------------------
# Error messages: rejected vs error, and which operator a message names
# ---------------------------------------------------------------------------------------------
_REJECT_WORDS = re.compile(r"not supported|unsupported|cannot compile", re.IGNORECASE)
# The importer's list: "...: 2 operators are not supported: Loop (node 'x'), ai.onnx.ml.Foo (...)"
_OP_LIST = re.compile(r"not supported: (.*)$", re.DOTALL)
_OP_IN_LIST = re.compile(r"([A-Za-z_][\w.]*) \(node ")


def is_rejection(message: str) -> bool:
    return bool(_REJECT_WORDS.search(message))


def known_op_names() -> set:
    return set(FAMILY_OF_OP)


def operator_named(message: str, fallback: str) -> str:
    """The operator an error message blames: the importer's unsupported list first, else the first
    known ONNX op name mentioned as a word, else `fallback` (the case's own operator)."""
    listed = _OP_LIST.search(message)
    if listed:
        ops = _OP_IN_LIST.findall(listed.group(1))
        if ops:
            return ", ".join(sorted(set(ops)))
    for word in re.findall(r"[A-Za-z][A-Za-z0-9]*", message):
        if word in FAMILY_OF_OP:
            return word
    return fallback


def normalize_message(message: str) -> str:
    """A message with the case-specific parts (file paths, node names, shapes) taken out, so
    that the same problem in different cases mostly groups into one reason."""
    text = re.sub(r"(/[^\s:'\"]+)+", "<path>", message)
    text = re.sub(r"node '[^']*'", "node '…'", text)
    text = re.sub(r"\((\w+)\[[\d, ]*\]\)", r"(\1[…])", text)  # "(int64[2])": a case's shape
    text = re.sub(r"\s+", " ", text).strip()
    return text[:300]
