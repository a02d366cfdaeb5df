"""On-device models (pose, ASR, OCR): loaded from packages that ship their weights, never from a hub."""
