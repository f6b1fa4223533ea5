"""A circle-native, CenterNet-style lesion detector in plain torch.

network.py (raw heads) - targets.py (circles -> training maps) - loss.py (named loss terms)
- decode.py (heads -> circles) - data.py (real photos + augmentation) - train.py (loop)
- tiling.py (model-agnostic tiles + circle NMS) - infer.py (`Detector`) - export.py (ONNX).
"""
