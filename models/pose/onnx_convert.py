"""tflite -> ONNX conversion for the onnxruntime backend: not available in this version.

Both BlazePose models store weights as float16 + DEQUANTIZE and the detector also as a
sparse tensor + DENSIFY, which generic converters must handle; a converter (or a
validated ``tflite2onnx``/``tf2onnx`` path without TensorFlow) has not been written yet.
Until then ``backend="onnxruntime"`` fails with :data:`REASON`, and set-up reports it.
"""

from __future__ import annotations

from pathlib import Path

REASON = (
    "ONNX conversion of the BlazePose tflite models is not implemented yet "
    "(needs DEQUANTIZE/float16 and DENSIFY/sparse-weight support); use backend='litert'"
)


class OnnxUnavailable(RuntimeError):
    """The onnxruntime backend cannot be used: no ONNX files can be produced yet."""


def ensure_onnx(detector: Path, landmarks: Path) -> list[Path]:
    """Return existing ``.onnx`` siblings of both models, else raise :class:`OnnxUnavailable`."""
    paths = [detector.with_suffix(".onnx"), landmarks.with_suffix(".onnx")]
    if all(p.exists() for p in paths):
        return paths
    raise OnnxUnavailable(REASON)
