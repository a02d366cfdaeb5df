"""One small inference interface over LiteRT and onnxruntime.

The pipeline code (detector, landmarks) only sees :class:`Backend`: feed one NHWC
float32 tensor, get the named outputs back. That keeps the numpy pre/post-processing
identical for both runtimes, so the comparison between them is about the runtime only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

BackendName = Literal["litert", "onnxruntime"]


class Backend(Protocol):
    """A loaded model: ``run`` returns the requested outputs, in the requested order."""

    name: str
    input_shape: tuple[int, ...]

    def run(self, tensor: np.ndarray, outputs: tuple[str, ...]) -> list[np.ndarray]:
        """Run one inference on *tensor* (shape ``input_shape``, float32)."""
        ...


class LiteRTBackend:
    """``ai_edge_litert`` interpreter with the XNNPACK CPU delegate (LiteRT's default).

    One interpreter per model; not thread-safe, which is why :class:`PoseEstimator`
    serialises calls with a lock.
    """

    name = "litert"

    def __init__(self, path: Path, threads: int = 2) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self._it = Interpreter(model_path=str(path), num_threads=max(1, int(threads)))
        self._it.allocate_tensors()
        inp = self._it.get_input_details()[0]
        self._input_index: int = int(inp["index"])
        self.input_shape = tuple(int(d) for d in inp["shape"])
        self._outputs: dict[str, int] = {str(d["name"]): int(d["index"]) for d in self._it.get_output_details()}

    def run(self, tensor: np.ndarray, outputs: tuple[str, ...]) -> list[np.ndarray]:
        """Set the input, invoke, copy out the named outputs (copies: the arena is reused)."""
        self._it.set_tensor(self._input_index, np.ascontiguousarray(tensor, dtype=np.float32))
        self._it.invoke()
        return [self._it.get_tensor(self._outputs[name]) for name in outputs]


class OnnxRuntimeBackend:
    """onnxruntime CPU session on the ONNX file converted at set-up time.

    The converter (:mod:`models.pose.onnx_convert`) keeps the tflite input/output names,
    shapes and NHWC layout, so the same tensors and output names work on both runtimes.
    """

    name = "onnxruntime"

    def __init__(self, path: Path, threads: int = 2) -> None:
        import onnxruntime as ort

        if not path.exists():
            raise FileNotFoundError(path)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, int(threads))
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # No busy-waiting between ops: on a loaded 2-core box spinning workers steal the
        # CPU from each other and from the camera threads (measured: the landmark model
        # 48-96 ms with spinning vs 22-26 ms without under load; LiteRT 20-38 ms).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._sess = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        inp = self._sess.get_inputs()[0]
        self._input_name: str = inp.name
        self.input_shape = tuple(int(d) for d in inp.shape)

    def run(self, tensor: np.ndarray, outputs: tuple[str, ...]) -> list[np.ndarray]:
        """One ``session.run`` for the named outputs."""
        feed: dict[str, Any] = {self._input_name: np.ascontiguousarray(tensor, dtype=np.float32)}
        result: list[np.ndarray] = self._sess.run(list(outputs), feed)
        return result


def load_backend(kind: BackendName, tflite_path: Path, threads: int = 2) -> Backend:
    """Open *tflite_path* (or its ``.onnx`` sibling for onnxruntime) on the chosen runtime.

    Raises ``OnnxUnavailable`` (a ``RuntimeError``) with the reason when the ONNX file
    does not exist, instead of letting onnxruntime fail with a bare "file not found".
    """
    if kind == "litert":
        return LiteRTBackend(tflite_path, threads)
    if kind == "onnxruntime":
        onnx_path = tflite_path.with_suffix(".onnx")
        if not onnx_path.exists():
            from models.pose.onnx_convert import REASON, OnnxUnavailable

            raise OnnxUnavailable(f"{onnx_path} not found: {REASON}")
        return OnnxRuntimeBackend(onnx_path, threads)
    raise ValueError(f"unknown pose backend {kind!r} (expected 'litert' or 'onnxruntime')")
