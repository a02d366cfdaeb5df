"""tflite -> ONNX conversion of the two BlazePose models, for the onnxruntime backend.

Why a converter of our own: the generic ones do not handle these files. ``tflite2onnx``
0.4.1 stops at DENSIFY (the detector stores 38 weight tensors sparse) and mis-reads the
float16 + DEQUANTIZE weights of the landmark model; ``tf2onnx`` needs TensorFlow. The two
graphs use only a dozen op types, so a small, exact converter is less code than patching.

How it works:

* The graph (ops, tensors, op options such as padding, strides and fused activations) is
  read with the flatbuffer accessors that ``ai_edge_litert`` ships (``schema_py_generated``),
  so no extra parser package is needed.
* Weight values are *not* decoded here. Every tensor computed only from constants (the
  DENSIFY and DEQUANTIZE chains) is read back from LiteRT's own reference kernels after one
  invoke with ``experimental_preserve_all_tensors``: the ONNX model gets exactly the float32
  weights LiteRT computes with, and sparse formats need no code of ours.
* The ONNX graph runs in NCHW, onnxruntime's native conv layout. Layout is tracked per
  tensor and a Transpose is inserted only where a layout-sensitive op (RESHAPE, the final
  outputs) needs NHWC, so in practice there is one Transpose at the input and one per output.
* Input and output names and shapes are the tflite ones (``input_1`` NHWC;
  ``Identity``, ``Identity_1``, ...), so :mod:`models.pose.backends` feeds both runtimes
  the same tensors and asks for the same names.

``onnx`` is needed only here, at set-up time (``python -m models.pose.weights``); the
daemon only needs onnxruntime to load the result.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import onnx

CONVERTER_VERSION = "2"
"""Bumped whenever the produced graph changes, so set-up re-converts old files."""

OPSET = 17
"""ONNX opset: old enough for onnxruntime>=1.17 (the floor in pyproject), new enough for Resize/Pad inputs."""

IR_VERSION = 8
"""IR version that onnxruntime 1.17 (our dependency floor) accepts."""

REASON = (
    "the ONNX files are produced at set-up time by `python -m models.pose.weights`, "
    "which needs the `onnx` package (pip install onnx); use backend='litert' otherwise"
)


class OnnxUnavailable(RuntimeError):
    """The onnxruntime backend cannot be used: the ``.onnx`` files are missing and cannot be made."""


class UnsupportedModel(ValueError):
    """The tflite graph uses an op or option this converter does not translate."""


# tflite enums (schema.fbs); spelled out so the code reads without the schema at hand.
_PAD_SAME, _PAD_VALID = 0, 1
_ACT_NONE, _ACT_RELU, _ACT_RELU_N1_TO_1, _ACT_RELU6, _ACT_TANH = 0, 1, 2, 3, 4
_NHWC_TO_NCHW = (0, 3, 1, 2)
_NCHW_TO_NHWC = (0, 2, 3, 1)
_NHWC_AXIS_IN_NCHW = {0: 0, 1: 2, 2: 3, 3: 1}


@dataclass(frozen=True)
class _Op:
    """One tflite operator with the bits the converter needs."""

    index: int
    kind: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: Any


def _same_pads(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow SAME padding for one axis: extra pixel (if odd) goes at the end."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


class _Converter:
    """Builds one ONNX graph from one tflite file (single subgraph, float32 activations)."""

    def __init__(self, tflite_path: Path) -> None:
        from ai_edge_litert import schema_py_generated as schema
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        self.path = tflite_path
        data = tflite_path.read_bytes()
        model = schema.ModelT.InitFromPackedBuf(data, 0)
        if len(model.subgraphs) != 1:
            raise UnsupportedModel(f"{tflite_path.name}: {len(model.subgraphs)} subgraphs, expected 1")
        self.sg = model.subgraphs[0]
        op_names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
        codes = [max(int(c.builtinCode), int(c.deprecatedBuiltinCode)) for c in model.operatorCodes]
        self.ops = [
            _Op(i, op_names.get(codes[op.opcodeIndex], str(codes[op.opcodeIndex])),
                tuple(int(t) for t in op.inputs), tuple(int(t) for t in op.outputs), op.builtinOptions)
            for i, op in enumerate(self.sg.operators)
        ]  # fmt: skip
        self.shapes = [tuple(int(d) for d in t.shape) if t.shape is not None else () for t in self.sg.tensors]
        self.tensor_names = [t.name.decode() if isinstance(t.name, bytes) else str(t.name) for t in self.sg.tensors]

        # Constant tensors: stored in a buffer, or produced by ops whose inputs are all constant.
        self.constant: set[int] = set()
        for i, t in enumerate(self.sg.tensors):
            buf = model.buffers[t.buffer] if t.buffer < len(model.buffers) else None
            if buf is not None and ((buf.data is not None and len(buf.data) > 0) or buf.size > 0):
                self.constant.add(i)
        for op in self.ops:
            if op.inputs and all(t < 0 or t in self.constant for t in op.inputs):
                self.constant.update(op.outputs)

        # LiteRT's reference kernels (no XNNPACK: it would swallow the tensors) materialise them.
        self.it = Interpreter(
            model_path=str(tflite_path),
            experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
            experimental_preserve_all_tensors=True,
        )
        self.it.allocate_tensors()
        for d in self.it.get_input_details():
            self.it.set_tensor(d["index"], np.zeros(d["shape"], dtype=d["dtype"]))
        self.it.invoke()

        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.names: dict[int, dict[str, str]] = {}  # tensor -> {"nhwc"|"nchw": onnx value name}
        self._uid = 0
        self._scalars: dict[float, str] = {}

    # ------------------------------------------------------------------ helpers

    def const(self, t: int) -> np.ndarray:
        """Value of a constant tensor as LiteRT computed it (densified, dequantized)."""
        if t not in self.constant:
            raise UnsupportedModel(f"{self.path.name}: tensor {self.tensor_names[t]!r} is expected to be constant")
        return np.array(self.it.get_tensor(t))

    def fresh(self, hint: str) -> str:
        """A new unique ONNX value name."""
        self._uid += 1
        return f"{hint}__{self._uid}"

    def add_init(self, hint: str, value: np.ndarray) -> str:
        """Add an initializer (float16 weights are widened: onnxruntime's CPU convs are float32)."""
        from onnx import numpy_helper

        if value.dtype == np.float16:
            value = value.astype(np.float32)
        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def scalar(self, value: float) -> str:
        """A shared float32 scalar initializer (Clip bounds), so 100 Clips do not add 200 copies."""
        if value not in self._scalars:
            self._scalars[value] = self.add_init("scalar", np.array(value, np.float32))
        return self._scalars[value]

    def node(self, op_type: str, inputs: list[str], hint: str, **attrs: Any) -> str:
        """Append one node with one output; return the output's name."""
        from onnx import helper

        out = self.fresh(hint)
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def is4d(self, t: int) -> bool:
        """4-D activations are kept in NCHW; everything else keeps the tflite layout."""
        return len(self.shapes[t]) == 4

    def value(self, t: int, layout: str) -> str:
        """ONNX name of tensor *t* in *layout* ("nchw" or "nhwc"), adding a Transpose if needed."""
        have = self.names.get(t)
        if have is None:
            raise UnsupportedModel(f"{self.path.name}: tensor {self.tensor_names[t]!r} used before it is produced")
        if layout in have:
            return have[layout]
        if not self.is4d(t):
            return have["nhwc"]
        src = "nhwc" if layout == "nchw" else "nchw"
        perm = _NHWC_TO_NCHW if layout == "nchw" else _NCHW_TO_NHWC
        have[layout] = self.node("Transpose", [have[src]], f"t{t}_{layout}", perm=list(perm))
        return have[layout]

    def any_layout(self, t: int) -> tuple[str, str]:
        """The name already present (NCHW preferred): for layout-agnostic element-wise ops."""
        have = self.names[t]
        layout = "nchw" if "nchw" in have else "nhwc"
        return have[layout], layout

    def set_out(self, t: int, name: str, layout: str) -> None:
        """Record the ONNX name of tflite tensor *t*."""
        self.names[t] = {layout if self.is4d(t) else "nhwc": name}

    def activation(self, name: str, fused: int) -> str:
        """Append the fused activation of a conv/add/pool/concat."""
        if fused == _ACT_NONE:
            return name
        if fused == _ACT_RELU:
            return self.node("Relu", [name], "relu")
        if fused == _ACT_TANH:
            return self.node("Tanh", [name], "tanh")
        if fused in (_ACT_RELU6, _ACT_RELU_N1_TO_1):
            lo, hi = (0.0, 6.0) if fused == _ACT_RELU6 else (-1.0, 1.0)
            return self.node("Clip", [name, self.scalar(lo), self.scalar(hi)], "clip")
        raise UnsupportedModel(f"{self.path.name}: fused activation {fused} not supported")

    def spatial_pads(self, t_in: int, kernel: tuple[int, int], strides: tuple[int, int],
                     dilations: tuple[int, int], padding: int) -> list[int]:  # fmt: skip
        """ONNX ``pads`` [top, left, bottom, right] for a tflite SAME/VALID window op."""
        if padding == _PAD_VALID:
            return [0, 0, 0, 0]
        if padding != _PAD_SAME:
            raise UnsupportedModel(f"{self.path.name}: padding {padding} not supported")
        _, h, w, _ = self.shapes[t_in]
        top, bottom = _same_pads(h, kernel[0], strides[0], dilations[0])
        left, right = _same_pads(w, kernel[1], strides[1], dilations[1])
        return [top, left, bottom, right]

    # ------------------------------------------------------------------ ops

    def conv(self, op: _Op, depthwise: bool) -> None:
        """CONV_2D / DEPTHWISE_CONV_2D: OHWI (or 1HW[C*M]) weights to OIHW, explicit pads."""
        o = op.options
        x = self.value(op.inputs[0], "nchw")
        w = self.const(op.inputs[1])
        c_in = self.shapes[op.inputs[0]][3]
        if depthwise:
            weight = w.transpose(3, 0, 1, 2)  # [1, KH, KW, C*M] -> [C*M, 1, KH, KW]
            group = c_in
        else:
            weight = w.transpose(0, 3, 1, 2)  # [O, KH, KW, I] -> [O, I, KH, KW]
            group = c_in // w.shape[3]
        kernel = (int(weight.shape[2]), int(weight.shape[3]))
        strides = (int(o.strideH), int(o.strideW))
        dil = (int(o.dilationHFactor), int(o.dilationWFactor))
        inputs = [x, self.add_init(f"w{op.index}", weight)]
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            inputs.append(self.add_init(f"b{op.index}", self.const(op.inputs[2]).reshape(-1)))
        y = self.node("Conv", inputs, f"conv{op.index}", kernel_shape=list(kernel), strides=list(strides),
                      dilations=list(dil), group=int(group),
                      pads=self.spatial_pads(op.inputs[0], kernel, strides, dil, int(o.padding)))  # fmt: skip
        self.set_out(op.outputs[0], self.activation(y, int(o.fusedActivationFunction)), "nchw")

    def binary(self, op: _Op, onnx_op: str) -> None:
        """ADD / MUL with numpy broadcasting; constants are re-laid-out to match NCHW."""
        out_t = op.outputs[0]
        layout = "nchw" if self.is4d(out_t) else "nhwc"
        args = []
        for t in op.inputs:
            if t in self.constant:
                c = self.const(t)
                if layout == "nchw":
                    c = c.reshape((1,) * (4 - c.ndim) + c.shape).transpose(_NHWC_TO_NCHW)
                args.append(self.add_init(f"c{t}", c))
            elif len(self.shapes[t]) != len(self.shapes[out_t]):
                raise UnsupportedModel(f"{self.path.name}: {op.kind} broadcasting across ranks")
            else:
                args.append(self.value(t, layout))
        y = self.node(onnx_op, args, f"{onnx_op.lower()}{op.index}")
        fused = int(getattr(op.options, "fusedActivationFunction", _ACT_NONE) or _ACT_NONE)
        self.set_out(out_t, self.activation(y, fused), layout)

    def pad(self, op: _Op) -> None:
        """PAD (zeros): tflite [[before, after]] per NHWC axis -> ONNX begins+ends in NCHW order."""
        pads = self.const(op.inputs[1]).astype(np.int64).reshape(-1, 2)
        if self.is4d(op.inputs[0]):
            pads = pads[list(_NHWC_TO_NCHW)]
            layout = "nchw"
        else:
            layout = "nhwc"
        onnx_pads = np.concatenate([pads[:, 0], pads[:, 1]]).astype(np.int64)
        y = self.node("Pad", [self.value(op.inputs[0], layout), self.add_init(f"pads{op.index}", onnx_pads)],
                      f"pad{op.index}", mode="constant")  # fmt: skip
        self.set_out(op.outputs[0], y, layout)

    def reshape(self, op: _Op) -> None:
        """RESHAPE works on the tflite (NHWC) element order, so its input is transposed back."""
        shape = np.array(self.shapes[op.outputs[0]], dtype=np.int64)
        y = self.node("Reshape", [self.value(op.inputs[0], "nhwc"), self.add_init(f"shape{op.index}", shape)],
                      f"reshape{op.index}")  # fmt: skip
        self.set_out(op.outputs[0], y, "nhwc")

    def concat(self, op: _Op) -> None:
        """CONCATENATION along the tflite axis, remapped when the inputs are NCHW."""
        out_t = op.outputs[0]
        rank = len(self.shapes[out_t])
        axis = int(op.options.axis) % rank
        layout = "nchw" if rank == 4 else "nhwc"
        if layout == "nchw":
            axis = _NHWC_AXIS_IN_NCHW[axis]
        args = [self.add_init(f"c{t}", self.const(t).transpose(_NHWC_TO_NCHW) if layout == "nchw" else self.const(t))
                if t in self.constant else self.value(t, layout) for t in op.inputs]  # fmt: skip
        y = self.node("Concat", args, f"concat{op.index}", axis=axis)
        self.set_out(out_t, self.activation(y, int(op.options.fusedActivationFunction)), layout)

    def resize_bilinear(self, op: _Op) -> None:
        """RESIZE_BILINEAR -> Resize(linear) with the matching coordinate transform."""
        o = op.options
        if o.alignCorners:
            mode = "align_corners"
        elif o.halfPixelCenters:
            mode = "half_pixel"
        else:
            mode = "asymmetric"
        n, h, w, c = self.shapes[op.outputs[0]]
        sizes = self.add_init(f"sizes{op.index}", np.array([n, c, h, w], np.int64))
        y = self.node("Resize", [self.value(op.inputs[0], "nchw"), "", "", sizes], f"resize{op.index}",
                      mode="linear", coordinate_transformation_mode=mode)  # fmt: skip
        self.set_out(op.outputs[0], y, "nchw")

    def pool(self, op: _Op, onnx_op: str) -> None:
        """MAX_POOL_2D / AVERAGE_POOL_2D; tflite SAME average pooling ignores the padding."""
        o = op.options
        kernel = (int(o.filterHeight), int(o.filterWidth))
        strides = (int(o.strideH), int(o.strideW))
        attrs: dict[str, Any] = {
            "kernel_shape": list(kernel),
            "strides": list(strides),
            "pads": self.spatial_pads(op.inputs[0], kernel, strides, (1, 1), int(o.padding)),
        }
        if onnx_op == "AveragePool":
            attrs["count_include_pad"] = 0
        y = self.node(onnx_op, [self.value(op.inputs[0], "nchw")], f"pool{op.index}", **attrs)
        self.set_out(op.outputs[0], self.activation(y, int(o.fusedActivationFunction)), "nchw")

    def depth_to_space(self, op: _Op) -> None:
        """DEPTH_TO_SPACE in NHWC has the channel order of ONNX's DCR mode."""
        y = self.node("DepthToSpace", [self.value(op.inputs[0], "nchw")], f"d2s{op.index}",
                      blocksize=int(op.options.blockSize), mode="DCR")  # fmt: skip
        self.set_out(op.outputs[0], y, "nchw")

    def unary(self, op: _Op, onnx_op: str, **attrs: Any) -> None:
        """Element-wise op: stays in whatever layout its input already has."""
        x, layout = self.any_layout(op.inputs[0])
        self.set_out(op.outputs[0], self.node(onnx_op, [x], f"{onnx_op.lower()}{op.index}", **attrs), layout)

    def clip(self, op: _Op, lo: float, hi: float) -> None:
        """RELU6 / RELU_N1_TO_1 as Clip."""
        x, layout = self.any_layout(op.inputs[0])
        self.set_out(op.outputs[0], self.node("Clip", [x, self.scalar(lo), self.scalar(hi)], f"clip{op.index}"), layout)

    # ------------------------------------------------------------------ driver

    def convert(self) -> onnx.ModelProto:
        """Translate every non-constant op, in the tflite execution order."""
        from onnx import TensorProto, helper

        (inp,) = (int(t) for t in self.sg.inputs)
        in_name = self.tensor_names[inp]
        self.names[inp] = {"nhwc": in_name}
        for op in self.ops:
            if all(t in self.constant for t in op.outputs):
                continue  # DEQUANTIZE / DENSIFY chains: folded into initializers
            handler = {
                "CONV_2D": lambda op: self.conv(op, depthwise=False),
                "DEPTHWISE_CONV_2D": lambda op: self.conv(op, depthwise=True),
                "ADD": lambda op: self.binary(op, "Add"),
                "MUL": lambda op: self.binary(op, "Mul"),
                "PAD": self.pad,
                "RESHAPE": self.reshape,
                "CONCATENATION": self.concat,
                "RESIZE_BILINEAR": self.resize_bilinear,
                "MAX_POOL_2D": lambda op: self.pool(op, "MaxPool"),
                "AVERAGE_POOL_2D": lambda op: self.pool(op, "AveragePool"),
                "DEPTH_TO_SPACE": self.depth_to_space,
                "LOGISTIC": lambda op: self.unary(op, "Sigmoid"),
                "RELU": lambda op: self.unary(op, "Relu"),
                "TANH": lambda op: self.unary(op, "Tanh"),
                "RELU6": lambda op: self.clip(op, 0.0, 6.0),
                "RELU_N1_TO_1": lambda op: self.clip(op, -1.0, 1.0),
            }.get(op.kind)
            if handler is None:
                raise UnsupportedModel(f"{self.path.name}: op {op.kind} (#{op.index}) not supported")
            handler(op)

        outputs = []
        for t in (int(t) for t in self.sg.outputs):
            name = self.tensor_names[t]
            self.nodes.append(helper.make_node("Identity", [self.value(t, "nhwc")], [name], name=name))
            outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(self.shapes[t])))
        graph = helper.make_graph(
            self.nodes,
            self.path.stem,
            [helper.make_tensor_value_info(in_name, TensorProto.FLOAT, list(self.shapes[inp]))],
            outputs,
            initializer=self.initializers,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="classroom-edge models.pose.onnx_convert")  # fmt: skip
        model.ir_version = IR_VERSION
        return model


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def convert(tflite_path: Path, onnx_path: Path | None = None) -> Path:
    """Convert one tflite model to ONNX, written atomically next to it (or to *onnx_path*).

    The source file's SHA-256 and :data:`CONVERTER_VERSION` are stored as metadata, so
    :func:`ensure_onnx` can tell a current conversion from a stale one.
    """
    import onnx

    from models.pose.weights import _write_atomic

    tflite_path = Path(tflite_path)
    target = Path(onnx_path) if onnx_path is not None else tflite_path.with_suffix(".onnx")
    model = _Converter(tflite_path).convert()
    onnx.helper.set_model_props(model, {"source_sha256": _sha256(tflite_path), "converter_version": CONVERTER_VERSION})
    onnx.checker.check_model(model)
    _write_atomic(target, model.SerializeToString())
    return target


def _is_current(onnx_path: Path, tflite_path: Path) -> bool:
    """True when *onnx_path* was converted from this exact tflite file by this converter version."""
    import onnx

    try:
        model = onnx.load(str(onnx_path), load_external_data=False)
    except Exception:  # unreadable or truncated: convert again
        return False
    props = {p.key: p.value for p in model.metadata_props}
    return props.get("converter_version") == CONVERTER_VERSION and props.get("source_sha256") == _sha256(tflite_path)


def ensure_onnx(detector: Path, landmarks: Path) -> list[Path]:
    """Idempotent set-up step: the ``.onnx`` siblings of both models, converting where missing or stale.

    Without the ``onnx`` package, existing files are returned as they are and missing ones
    raise :class:`OnnxUnavailable` naming the fix; set-up reports that and carries on,
    because LiteRT is the default backend.
    """
    try:
        import onnx  # noqa: F401  (only checks availability)
    except ImportError:
        onnx_available = False
    else:
        onnx_available = True
    paths = []
    for src in (Path(detector), Path(landmarks)):
        dst = src.with_suffix(".onnx")
        if not onnx_available:
            if not dst.exists():
                raise OnnxUnavailable(
                    f"the `onnx` package is not installed in {sys.prefix}, so {dst.name} cannot be made "
                    f"(pip install onnx, then rerun `{sys.executable} -m models.pose.weights`)"
                )
        elif not (dst.exists() and _is_current(dst, src)):
            convert(src, dst)
        paths.append(dst)
    return paths
