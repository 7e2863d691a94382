"""onnx_consumers.py - the ONNX models of tests/onnx-test.sh read by two third-party
consumers: onnx.checker (Debian python3-onnx) and OpenCV's dnn module (python3-opencv).

    /usr/bin/python3 tests/onnx_consumers.py DIR

DIR holds NAME.onnx, NAME.expected.csv (`backprop predict` on the inputs) and inputs.csv.
Prints one "ok"/"FAIL"/"skip" line per model and consumer, then
"consumers: N passed, M failed, K skipped". Outputs must match the expected ones within
1e-5 (relative beyond 1).
"""
import glob
import os
import sys

TOLERANCE = 1e-5


def read_csv(path, header):
    rows = []
    with open(path) as f:
        lines = f.read().split("\n")
    for line in lines[1 if header else 0:]:
        if line.strip():
            rows.append([float(v) for v in line.split(",")])
    return rows


def worst(got, want):
    """The largest difference over all outputs, scaled by max(1, |expected|)."""
    bad = 0.0
    for g_row, w_row in zip(got, want):
        if len(g_row) != len(w_row):
            return float("inf")
        for g, w in zip(g_row, w_row):
            bad = max(bad, abs(g - w) / max(1.0, abs(w)))
    return bad if len(got) == len(want) else float("inf")


def main():
    directory = sys.argv[1]
    passed = failed = skipped = 0
    inputs = read_csv(os.path.join(directory, "inputs.csv"), header=False)
    models = sorted(glob.glob(os.path.join(directory, "*.onnx")))
    try:
        import onnx
        import onnx.checker
    except ImportError as e:
        onnx = None
        print("skip onnx.checker: %s (apt-get install python3-onnx)" % e)
        skipped += 1
    try:
        import cv2
        import numpy
    except ImportError as e:
        cv2 = None
        print("skip OpenCV dnn: %s (apt-get install python3-opencv)" % e)
        skipped += 1
    for path in models:
        name = os.path.basename(path)[:-5]
        expected = read_csv(os.path.join(directory, name + ".expected.csv"), header=True)
        if onnx:
            try:
                model = onnx.load(path)
                onnx.checker.check_model(model, full_check=True)
                opset = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
                ins = [(i.name, [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim])
                       for i in model.graph.input]
                if opset != [13] or ins[0][0] != "input" or ins[0][1][0] != "batch":
                    raise ValueError("opset %s, inputs %s" % (opset, ins))
                print("ok   onnx.checker: %s" % name)
                passed += 1
            except Exception as e:  # a consumer's own error is the test's finding
                print("FAIL onnx.checker: %s: %s" % (name, e))
                failed += 1
        if cv2:
            try:
                net = cv2.dnn.readNetFromONNX(path)
                net.setInput(numpy.array(inputs, dtype=numpy.float32))
                got = net.forward().tolist()
                diff = worst(got, expected)
                if diff <= TOLERANCE:
                    print("ok   OpenCV dnn: %s (largest difference %.2g)" % (name, diff))
                    passed += 1
                else:
                    print("FAIL OpenCV dnn: %s: outputs differ from backprop predict by %.3g" % (name, diff))
                    failed += 1
            except Exception as e:
                print("FAIL OpenCV dnn: %s: %s" % (name, e))
                failed += 1
    print("consumers: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
