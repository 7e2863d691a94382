// onnx_runtime.js - the ONNX models of tests/onnx-test.sh run by ONNX Runtime
// (npm onnxruntime-node), their outputs held to `backprop predict`'s within 1e-5
// (relative beyond 1).
//
//     node tests/onnx_runtime.js DIR
//
// DIR holds NAME.onnx, NAME.expected.csv and inputs.csv. Prints one "ok"/"FAIL" line per
// model and "runtime: N passed, M failed".
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

const TOLERANCE = 1e-5;

function readCsv(file, header) {
    const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
    return lines.slice(header ? 1 : 0).map((l) => l.split(',').map(Number));
}

async function main() {
    const dir = process.argv[2];
    const inputs = readCsv(path.join(dir, 'inputs.csv'), false);
    const n = inputs.length, n0 = inputs[0].length;
    const x = new ort.Tensor('float32', Float32Array.from(inputs.flat()), [n, n0]);
    let passed = 0, failed = 0;
    const models = fs.readdirSync(dir).filter((f) => f.endsWith('.onnx')).sort();
    for (const file of models) {
        const name = file.slice(0, -5);
        const expected = readCsv(path.join(dir, name + '.expected.csv'), true);
        try {
            const session = await ort.InferenceSession.create(path.join(dir, file));
            const result = await session.run({input: x});
            const out = result.output;
            const nL = expected[0].length;
            if (out.dims.length !== 2 || out.dims[0] !== n || out.dims[1] !== nL)
                throw new Error('output shape ' + JSON.stringify(out.dims));
            let worst = 0;
            for (let i = 0; i < n; i++)
                for (let k = 0; k < nL; k++) {
                    const want = expected[i][k];
                    worst = Math.max(worst, Math.abs(out.data[i * nL + k] - want) / Math.max(1, Math.abs(want)));
                }
            if (worst <= TOLERANCE) {
                console.log('ok   ONNX Runtime: ' + name + ' (largest difference ' + worst.toPrecision(2) + ')');
                passed++;
            } else {
                console.log('FAIL ONNX Runtime: ' + name + ': outputs differ from backprop predict by ' +
                            worst.toPrecision(3));
                failed++;
            }
        } catch (e) {
            console.log('FAIL ONNX Runtime: ' + name + ': ' + e.message);
            failed++;
        }
    }
    console.log('runtime: ' + passed + ' passed, ' + failed + ' failed');
    process.exit(failed ? 1 : 0);
}

main();
