"""tflite -> ONNX conversion for the onnxruntime backend (work in progress)."""

from __future__ import annotations

from pathlib import Path


def ensure_onnx(detector: Path, landmarks: Path) -> list[Path]:
    """Convert both models next to the tflite files; not available yet."""
    raise NotImplementedError("tflite->ONNX conversion not implemented yet")
