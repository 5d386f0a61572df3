"""Inference backends: one exported per-frame graph run by torch, onnxruntime or TensorRT."""
