"""ONNX export, int8 quantisation, ONNX Runtime inference and the kept export."""
