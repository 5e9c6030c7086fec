"""Any ONNX model as hwnas ops (`OpSpec`s), so an op-level profile prices models hwnas did not build.

The graph is read with `onnx` (shapes inferred by ONNX Runtime's symbolic shape inference) and each node becomes the op the
op-level model knows: `Conv` by kind (dense, depthwise, pointwise; 1-D or 2-D), `Gemm` and `MatMul` with a weight
as linear layers, `MatMul → (scale, mask) → Softmax → MatMul` as softmax attention, norms, activations (ReLU,
ReLU6 as `Clip(0, 6)`, sigmoid, hard-swish, GELU as `Erf`, tanh), pooling, elementwise arithmetic, and the
copies that move data (`Transpose`, `Concat`, `Split`, and a `Slice` of data such as the halves torch's `chunk`
exports) as permuting copies. Ops that only relabel a tensor (`Reshape`, `Flatten`, `Shape`, `Constant`, ...)
or compute on shapes cost nothing. Anything else is listed by name, never guessed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hwnas.errors import DataFileError, UnsupportedOpError
from hwnas.search_spaces import _ops as ops_lib

#: Operators that relabel or describe a tensor without computing: free.
FREE = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Shape", "Constant", "ConstantOfShape", "Identity",
                  "Cast", "Gather", "Range", "Equal", "Where", "Expand", "Dropout", "Size", "NonZero"})
#: A `Slice` with at least this many output elements copies data (ONNX Runtime writes a new tensor); a smaller
#: one computes on a shape (the `Shape → Gather → Slice` chains torch exports), which the runtime folds away.
SLICE_COPY_MIN = 64
#: Operators that copy their output in another order: priced as a permuting copy (`shuffle`).
COPIES = frozenset({"Transpose", "Concat", "Split", "Pad", "Tile", "DepthToSpace", "SpaceToDepth"})
ELEMENTWISE = {"Add": "add", "Sub": "add", "Mul": "mul", "Div": "mul", "Pow": "mul", "Sqrt": "mul", "Neg": "add",
               "Max": "add", "Min": "add"}
ACTIVATION = {"Relu": "relu", "Sigmoid": "sigmoid", "HardSwish": "hswish", "Tanh": "tanh", "Erf": "gelu", "Gelu": "gelu",
              "HardSigmoid": "sigmoid", "LeakyRelu": "relu", "Elu": "relu", "Softplus": "silu", "Mish": "silu",
              "Exp": "sigmoid", "Log": "sigmoid"}  # transcendentals: priced as the one elementwise exp a sigmoid is
POOLS = {"GlobalAveragePool": "avg", "AveragePool": "avg", "MaxPool": "max", "GlobalMaxPool": "max", "ReduceMean": "avg"}


@dataclass
class OnnxOps:
    """A model's ops and what could not be mapped (operator name → how many)."""

    ops: list[Any] = field(default_factory=list)
    unsupported: Counter = field(default_factory=Counter)
    source: str = ""

    def check(self) -> list[Any]:
        """The ops, or `UnsupportedOpError` naming every operator hwnas cannot price."""
        if self.unsupported:
            named = ", ".join(f"{name} ×{count}" for name, count in sorted(self.unsupported.items()))
            raise UnsupportedOpError(f"{self.source}: operators hwnas cannot price: {named}")
        return self.ops


class _Graph:
    """Shapes, constants and consumers of an inferred ONNX graph."""

    def __init__(self, model: Any) -> None:
        from onnx import numpy_helper  # the parser (a dependency of hwnas)

        self.graph = model.graph
        self.shapes: dict[str, tuple[int, ...]] = {}
        for info in [*model.graph.input, *model.graph.value_info, *model.graph.output]:
            dims = info.type.tensor_type.shape.dim
            if all(d.HasField("dim_value") for d in dims):
                self.shapes[info.name] = tuple(int(d.dim_value) for d in dims)
        self.constants: dict[str, np.ndarray] = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        for node in model.graph.node:
            if node.op_type == "Constant":
                for attribute in node.attribute:
                    if attribute.name == "value":
                        self.constants[node.output[0]] = numpy_helper.to_array(attribute.t)
        for name, value in self.constants.items():
            self.shapes.setdefault(name, tuple(value.shape))
        self.consumers: dict[str, list[Any]] = {}
        for node in model.graph.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)

    def shape(self, name: str) -> tuple[int, ...] | None:
        return self.shapes.get(name)

    def numel(self, name: str) -> int:
        shape = self.shape(name)
        return int(np.prod(shape)) if shape else 0

    def only_consumer(self, name: str) -> Any | None:
        users = self.consumers.get(name, [])
        return users[0] if len(users) == 1 else None


def _attrs(node: Any) -> dict[str, Any]:
    import onnx  # see _Graph

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def onnx_ops(model: str | Path | Any) -> OnnxOps:
    """The ops of an ONNX model (a path, bytes or a loaded `ModelProto`), with what could not be mapped."""
    import onnx  # see _Graph

    source = str(model) if isinstance(model, (str, Path)) else "model"
    try:
        if isinstance(model, (str, Path)):
            if not Path(model).is_file():
                raise DataFileError(f"{model}: file not found")
            model = onnx.load(str(model))
        elif isinstance(model, bytes):
            model = onnx.load_from_string(model)
        inferred = _infer_shapes(_batch_of_one(model, source))
    except DataFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - protobuf's and shape inference's errors: one line
        raise DataFileError(f"{source}: not an ONNX model hwnas can read ({type(exc).__name__}: "
                            f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''})") from None
    if not inferred.graph.node:
        raise DataFileError(f"{source}: not an ONNX model (no graph nodes)")
    graph = _Graph(inferred)
    found, consumed = OnnxOps(source=source), set()
    for node in graph.graph.node:
        if id(node) in consumed or node.op_type in FREE:
            continue
        op = _map(node, graph, consumed)
        if op is None:
            found.unsupported[node.op_type] += 1
        else:
            found.ops += op
    return found


def _batch_of_one(model: Any, source: str) -> Any:
    """A copy of `model` whose inputs' symbolic first (batch) axis is 1, the batch latency is priced at (models
    exported with a dynamic batch, as `hwnas extract` writes them); another symbolic axis is refused by name."""
    import onnx  # see _Graph

    fixed = onnx.ModelProto()
    fixed.CopyFrom(model)
    initializers = {t.name for t in fixed.graph.initializer}
    for value in fixed.graph.input:
        if value.name in initializers:
            continue
        for axis, dim in enumerate(value.type.tensor_type.shape.dim):
            if dim.HasField("dim_value"):
                continue
            if axis > 0:
                raise DataFileError(f"{source}: input {value.name!r} has the symbolic axis {dim.dim_param or axis!r}; "
                                    "export it with a fixed size to price it (an hwnas subnet: `hwnas latency SPACE "
                                    "--arch arch.json`)")
            dim.dim_value = 1
    return fixed


def _infer_shapes(model: Any) -> Any:
    """Every tensor's shape: ONNX Runtime's symbolic inference, which follows shapes computed at run time (the
    `Shape → Gather → Div → Slice` torch exports for `chunk`), else onnx's own."""
    import onnx  # see _Graph

    try:
        from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference  # part of the onnxruntime wheel

        return SymbolicShapeInference.infer_shapes(model, auto_merge=True)
    except Exception:  # noqa: BLE001 - any failure there: onnx's inference, which knows fewer shapes
        return onnx.shape_inference.infer_shapes(model, data_prop=True)


def _map(node: Any, g: _Graph, consumed: set[int]) -> list[Any] | None:  # noqa: PLR0911, PLR0912 - one case per operator
    kind, out = node.op_type, node.output[0]
    if kind == "Conv":
        return _conv(node, g)
    if kind == "Gemm":
        a, w = g.shape(node.input[0]), g.shape(node.input[1])
        if a is None or w is None:
            return None
        cout = w[0] if _attrs(node).get("transB", 0) else w[1]
        return [ops_lib.linear(a[0], a[1], cout, bias=len(node.input) > 2)]
    if kind == "MatMul":
        return _matmul(node, g, consumed)
    if kind == "BatchNormalization":
        shape = g.shape(node.input[0])
        if shape is None:
            return None
        return [ops_lib.batchnorm(shape[1], (shape[2] if len(shape) > 2 else 1, shape[3] if len(shape) > 3 else 1))]
    if kind in ("LayerNormalization", "InstanceNormalization", "GroupNormalization"):
        shape = g.shape(node.input[0])
        return None if shape is None else [ops_lib.layernorm(int(np.prod(shape[:-1])), shape[-1])]
    if kind == "Clip":
        return [ops_lib.act("relu6", g.numel(out))]
    if kind in ACTIVATION:
        return [ops_lib.act(ACTIVATION[kind], g.numel(out))]
    if kind == "Softmax":
        return [ops_lib.act("softmax", g.numel(out))]
    if kind in ELEMENTWISE:
        numel = g.numel(out)
        if numel == 0:
            return []
        return [ops_lib.add(numel) if ELEMENTWISE[kind] == "add" else ops_lib.mul(numel, broadcast=_gates(node, g))]
    if kind in POOLS:
        return [ops_lib.pool(POOLS[kind], g.numel(node.input[0]), g.numel(out))]
    if kind in COPIES or kind == "Slice":
        numel = sum(g.numel(o) for o in node.output)
        floor = SLICE_COPY_MIN if kind == "Slice" else 1
        return [] if numel < floor else [ops_lib.shuffle(numel, 1)]
    return None


def _gates(node: Any, g: _Graph) -> bool:
    """A product of two computed tensors, one spread over the other (squeeze-excite's per-channel gate; a norm's
    computed scale counts too); a constant factor (a scale, layer scale) is a plain product."""
    if node.op_type != "Mul" or len(node.input) != 2 or any(name in g.constants for name in node.input):
        return False
    sizes = [g.numel(name) for name in node.input]
    return min(sizes) > 1 and sizes[0] != sizes[1]


def _conv(node: Any, g: _Graph) -> list[Any] | None:
    x, w, y = g.shape(node.input[0]), g.shape(node.input[1]), g.shape(node.output[0])
    a = _attrs(node)
    groups, stride = int(a.get("group", 1)), int((a.get("strides") or [1])[0])
    if x is None and w is not None and y is not None:  # shape inference lost the input (a dynamic Split): from the output
        x = (y[0], w[1] * groups, *(size * stride for size in y[2:]))
    if x is None or w is None or len(x) not in (3, 4):
        return None
    pads = a.get("pads") or [0] * (2 * (len(x) - 2))
    k, bias = int(max(w[2:])), len(node.input) > 2
    cin, cout = x[1], w[0]
    if len(x) == 3:
        return [ops_lib.conv1d(cin, cout, k, stride, x[2], groups=groups, padding=int(pads[0]), bias=bias)]
    return [ops_lib.conv2d(cin, cout, k, stride, (x[2], x[3]), groups=groups, padding=int(pads[0]), bias=bias)]


def _matmul(node: Any, g: _Graph, consumed: set[int]) -> list[Any] | None:
    a, b = g.shape(node.input[0]), g.shape(node.input[1])
    if a is None or b is None:
        return None
    if node.input[1] in g.constants and len(b) == 2:  # x @ W: a linear layer without bias (an Add may follow)
        return [ops_lib.linear(int(np.prod(a[:-1])), b[0], b[1], bias=False)]
    attention = _attention(node, g, a, b)
    if attention is None:
        return None
    op, chain = attention
    consumed.update(id(n) for n in chain)
    return [op]


def _attention(node: Any, g: _Graph, q: tuple[int, ...], k: tuple[int, ...]) -> tuple[Any, list[Any]] | None:
    """Q·Kᵀ (→ scale, mask) → Softmax → ·V starting at `node`: one softmax attention op, and the nodes it covers."""
    chain, current = [], node
    while True:
        nxt = g.only_consumer(current.output[0])
        if nxt is None:
            return None
        chain.append(nxt)
        if nxt.op_type == "Softmax":
            break
        if nxt.op_type not in ("Mul", "Div", "Add") or len(chain) > 3:
            return None
        current = nxt
    values = g.only_consumer(chain[-1].output[0])
    if values is None or values.op_type != "MatMul" or values.input[0] != chain[-1].output[0]:
        return None
    chain.append(values)
    if len(q) < 2 or len(k) < 2:
        return None
    heads = int(np.prod(q[:-2])) if len(q) > 2 else 1
    n_q, head_dim, n_kv = q[-2], q[-1], k[-1]
    return ops_lib.attention("softmax", n_q, n_kv, heads, head_dim), chain
