"""CLIP picture encoding on the CPU without torch.

- `onnx_tower.py`: the picture tower exported to ONNX, its record and the checks made before it
  encodes (those of `..onnx_exports`, with probe pictures whose torch vectors it must give).
- `onnx_export.py`: making that export from the torch model, with a parity check.
- `encoder.py`: `image_encoder_in_job`, the one function that picks the onnxruntime tower (on the
  CPU, when its export is ready) or the torch model.
"""
