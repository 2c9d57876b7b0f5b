"""CLIP text encoding, in one place: what a text query, a tag label or a phrase bank becomes.

- `encoder.py`: the `TextEncoder` interface and `text_encoder_in_job`, the one function that picks
  the onnxruntime tower (no torch) when its export is ready, else the torch tower.
- `onnx_tower.py`: the exported tower and the checks made before it answers (with `..onnx_exports`).
- `onnx_export.py`: making that export from the torch tower, with a parity check (queued by
  `..clip_exports`, once per model).
- `batched.py`: many short texts at once (phrase banks, prompt candidates), CLIP token counts.
"""
