"""Convert MediaPipe's face-landmark and iris-landmark TFLite models to ONNX, once.

    python tools/convert_face_models.py MEDIAPIPE_WHEEL [--out src/acnekit/face/models]

The models ship (Apache-2.0) inside the ``mediapipe==0.10.21`` wheel for Linux x86-64
CPython 3.11 (``pip download mediapipe==0.10.21 --no-deps``). That wheel pins protobuf < 5,
which clashes with onnx, so acnekit does not depend on it: this script, run in a throwaway
virtualenv (``pip install tflite==2.18.0 onnx ai-edge-litert onnxruntime``), reads the
.tflite files straight from the wheel, rebuilds each network as an ONNX graph (the models use
only CONV_2D, DEPTHWISE_CONV_2D, PRELU, ADD, MAX_POOL_2D, PAD, RESHAPE and DEQUANTIZE of
float16 weights; tflite2onnx 0.4.1 fails on face_landmark), checks on random and real-looking
inputs that onnxruntime agrees with the TFLite runtime (``ai-edge-litert``), and writes the
.onnx files plus ``NOTICE.json`` (provenance: wheel, original path and SHA-256, converter,
agreement measured). The committed files in ``src/acnekit/face/models`` came from this script.

Layout: TFLite is NHWC; the ONNX graph transposes the input once to NCHW, runs in NCHW and
flattens outputs in NHWC order, so the outputs equal the TFLite outputs element for element.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import zipfile
from pathlib import Path

import numpy as np

MODELS = {  # name -> path inside the wheel
    "face_landmark": "mediapipe/modules/face_landmark/face_landmark.tflite",
    "iris_landmark": "mediapipe/modules/iris_landmark/iris_landmark.tflite",
}


def _opts(op, cls):
    t = op.BuiltinOptions()
    o = cls()
    o.Init(t.Bytes, t.Pos)
    return o


def convert(buf: bytes, name: str):
    """An onnx ModelProto equivalent to the TFLite flatbuffer ``buf``."""
    import onnx
    import tflite
    from onnx import TensorProto, helper, numpy_helper

    model = tflite.Model.GetRootAsModel(buf, 0)
    g = model.Subgraphs(0)
    codes = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
    act_names = {v: k for k, v in vars(tflite.ActivationFunctionType).items() if not k.startswith("_")}
    nodes, inits = [], []
    consts: dict[int, np.ndarray] = {}
    tname = {}
    for i in range(g.TensorsLength()):
        t = g.Tensors(i)
        tname[i] = f"t{i}_" + t.Name().decode().replace("/", "_").replace(";", "_")[:40]
        data = model.Buffers(t.Buffer()).DataAsNumpy()
        if not isinstance(data, int) and data.size:
            dt = {0: np.float32, 1: np.float16, 2: np.int32}[t.Type()]
            consts[i] = np.frombuffer(data.tobytes(), dtype=dt).reshape(t.ShapeAsNumpy())
    shape = {i: [int(d) for d in g.Tensors(i).ShapeAsNumpy()] for i in range(g.TensorsLength())}

    def init(arr, nm):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), nm))
        return nm

    def act(out, fused):
        a = act_names[fused]
        if a == "NONE":
            return out
        pre = out + "_pre"
        if a == "RELU":
            nodes.append(helper.make_node("Relu", [pre], [out]))
        elif a == "RELU6":
            nodes.append(helper.make_node("Clip", [pre, init(np.float32(0), pre + "_lo"),
                                                   init(np.float32(6), pre + "_hi")], [out]))
        else:
            raise NotImplementedError(f"fused activation {a}")
        return pre

    inp = g.Inputs(0)
    x_in = "input"
    nodes.append(helper.make_node("Transpose", [x_in], [tname[inp]], perm=[0, 3, 1, 2]))
    for k in range(g.OperatorsLength()):
        op = g.Operators(k)
        code = model.OperatorCodes(op.OpcodeIndex())
        opname = codes[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
        ins = [op.Inputs(j) for j in range(op.InputsLength())]
        out = op.Outputs(0)
        o = tname[out]
        if opname == "DEQUANTIZE":
            consts[out] = consts[ins[0]].astype(np.float32)
        elif opname in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            w = consts[ins[1]].astype(np.float32)
            b = consts[ins[2]].astype(np.float32)
            if opname == "CONV_2D":
                opt = _opts(op, tflite.Conv2DOptions)
                w_oihw, group = w.transpose(0, 3, 1, 2), 1
            else:
                opt = _opts(op, tflite.DepthwiseConv2DOptions)
                w_oihw = w.transpose(3, 0, 1, 2)  # (1, kh, kw, C) -> (C, 1, kh, kw)
                group = w_oihw.shape[0]
            pad = "SAME_UPPER" if opt.Padding() == tflite.Padding.SAME else "VALID"
            nodes.append(helper.make_node(
                "Conv", [tname[ins[0]], init(w_oihw, o + "_w"), init(b, o + "_b")],
                [act(o, opt.FusedActivationFunction())], group=group, auto_pad=pad,
                strides=[opt.StrideH(), opt.StrideW()],
                dilations=[opt.DilationHFactor(), opt.DilationWFactor()]))
        elif opname == "PRELU":
            alpha = consts[ins[1]].astype(np.float32).reshape(-1, 1, 1)
            nodes.append(helper.make_node("PRelu", [tname[ins[0]], init(alpha, o + "_alpha")], [o]))
        elif opname == "ADD":
            opt = _opts(op, tflite.AddOptions)
            nodes.append(helper.make_node("Add", [tname[ins[0]], tname[ins[1]]],
                                          [act(o, opt.FusedActivationFunction())]))
        elif opname == "MAX_POOL_2D":
            opt = _opts(op, tflite.Pool2DOptions)
            pad = "SAME_UPPER" if opt.Padding() == tflite.Padding.SAME else "VALID"
            nodes.append(helper.make_node(
                "MaxPool", [tname[ins[0]]], [act(o, opt.FusedActivationFunction())], auto_pad=pad,
                kernel_shape=[opt.FilterHeight(), opt.FilterWidth()], strides=[opt.StrideH(), opt.StrideW()]))
        elif opname == "PAD":
            p = consts[ins[1]].astype(np.int64)  # (4, 2) NHWC before/after
            nchw = p[[0, 3, 1, 2]]
            pads = np.concatenate([nchw[:, 0], nchw[:, 1]])
            nodes.append(helper.make_node("Pad", [tname[ins[0]], init(pads, o + "_pads")], [o]))
        elif opname == "RESHAPE":
            nhwc = o + "_nhwc"
            nodes.append(helper.make_node("Transpose", [tname[ins[0]]], [nhwc], perm=[0, 2, 3, 1]))
            nodes.append(helper.make_node("Reshape", [nhwc, init(np.array(shape[out], np.int64), o + "_shape")], [o]))
        else:
            raise NotImplementedError(f"{name}: TFLite op {opname} is not supported by this converter")
    outputs = []
    for j in range(g.OutputsLength()):
        t = g.Outputs(j)
        nm = g.Tensors(t).Name().decode()
        if len(shape[t]) == 4:  # NCHW inside -> NHWC as TFLite, flattened like the original
            nodes.append(helper.make_node("Transpose", [tname[t]], [nm], perm=[0, 2, 3, 1]))
        else:
            nodes.append(helper.make_node("Identity", [tname[t]], [nm]))
        outputs.append(helper.make_tensor_value_info(nm, TensorProto.FLOAT, shape[t]))
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info(x_in, TensorProto.FLOAT, shape[inp])],
                              outputs, inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="acnekit-convert")
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def agreement(tflite_bytes: bytes, onnx_bytes: bytes, n: int = 8) -> float:
    """Max abs difference between TFLite and onnxruntime outputs over ``n`` random inputs."""
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=tflite_bytes)
    it.allocate_tensors()
    sess = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    inp = it.get_input_details()[0]
    rng = np.random.default_rng(0)
    worst = 0.0
    for k in range(n):
        x = rng.random(inp["shape"], dtype=np.float32)
        if k % 2:  # a smooth image-like input, not only noise
            x = (np.cumsum(x, axis=1) / inp["shape"][1]).astype(np.float32)
        it.set_tensor(inp["index"], x)
        it.invoke()
        ref = {d["name"]: it.get_tensor(d["index"]) for d in it.get_output_details()}
        got = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"input": x})))
        for nm, r in ref.items():
            worst = max(worst, float(np.max(np.abs(r.reshape(got[nm].shape) - got[nm]))))
    return worst


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("wheel", type=Path)
    ap.add_argument("--out", type=Path, default=Path("src/acnekit/face/models"))
    a = ap.parse_args(argv)
    from importlib.metadata import version

    a.out.mkdir(parents=True, exist_ok=True)
    notice = {"source": {"wheel": a.wheel.name, "project": "mediapipe", "version": "0.10.21",
                         "wheel_sha256": hashlib.sha256(a.wheel.read_bytes()).hexdigest(),
                         "licence": "Apache-2.0 (see LICENSE-mediapipe.txt)"},
              "converter": {"script": "tools/convert_face_models.py", "tflite": version("tflite"),
                            "onnx": version("onnx"), "onnxruntime": version("onnxruntime"),
                            "reference_runtime": f"ai-edge-litert {version('ai-edge-litert')}"},
              "models": {}}
    with zipfile.ZipFile(a.wheel) as z:
        for name, path in MODELS.items():
            buf = z.read(path)
            m = convert(buf, name)
            data = m.SerializeToString()
            diff = agreement(buf, data)
            (a.out / f"{name}.onnx").write_bytes(data)
            notice["models"][name] = {"original_path": path, "original_sha256": hashlib.sha256(buf).hexdigest(),
                                      "onnx_sha256": hashlib.sha256(data).hexdigest(),
                                      "max_abs_diff_vs_tflite": diff}
            print(f"{name}: {len(data)} bytes, max |onnx - tflite| = {diff:.2e}")
            if diff > 1e-3:
                print(f"{name}: disagreement too large", file=sys.stderr)
                return 1
    (a.out / "NOTICE.json").write_text(json.dumps(notice, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
