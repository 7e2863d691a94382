// web-relaxed-test.js - tests of the playground's relaxed-SIMD build step on modules written
// out byte by byte here: web/relaxed-simd.js (the prototype f32x4.fma found by decoding
// instructions, rewritten into f32x4.relaxed_madd, anything else refused) and
// web/wasm-patch.js (function bodies replaced). tests/web-test.sh runs it, under a Node
// with relaxed SIMD where it can (Node 20: --experimental-wasm-relaxed-simd); without it the
// rewritten module's validation and run are skipped and the last line says so.
//
//   node [--experimental-wasm-relaxed-simd] tests/web-relaxed-test.js [BUILD/web]
//
// Given the page's build folder, also checks that its relaxed-patch.json applied to
// engine.js's module gives engine-relaxed.js's module byte for byte.
'use strict';
const fs = require('fs');
const path = require('path');
const web = path.join(__dirname, '..', 'web');
const {rewrite, makePatch, PROBE} = require(path.join(web, 'relaxed-simd.js'));
const WasmPatch = require(path.join(web, 'wasm-patch.js'));

let passed = 0, failed = 0;
function check(name, fn) {
    try {
        fn();
        console.log(`ok   ${name}`);
        passed++;
    } catch (e) {
        console.log(`FAIL ${name}: ${e.message}`);
        failed++;
    }
}
function assert(cond, what) {
    if (!cond) throw new Error(what);
}
function throwsWith(fn, pattern) {
    try {
        fn();
    } catch (e) {
        assert(pattern.test(e.message), `threw "${e.message}", expected ${pattern}`);
        return;
    }
    throw new Error(`did not throw (expected ${pattern})`);
}

// A module of functions () -> f32, each exported as f0, f1, ..., with one page of memory.
const section = (id, bytes) => [id, ...WasmPatch.encodeLeb(bytes.length), ...bytes];
const vec = (items) => [...WasmPatch.encodeLeb(items.length), ...items.flat()];
function module(bodies) {
    const code = bodies.map((instr) => {
        const body = [0, ...instr]; // no locals
        return [...WasmPatch.encodeLeb(body.length), ...body];
    });
    return Uint8Array.from([
        0, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
        ...section(1, vec([[0x60, 0, 1, 0x7d]])),
        ...section(3, vec(bodies.map(() => [0]))),
        ...section(5, vec([[0, 1]])),
        ...section(7, vec(bodies.map((_, i) => [2, 0x66, 0x30 + i, 0, i]))),
        ...section(10, vec(code)),
    ]);
}
const f32x4 = (x) => [0xfd, 0x0c, ...new Uint8Array(new Float32Array([x, x, x, x]).buffer)];
const FMA = [0xfd, 0xaf, 0x01], MADD = [0xfd, 0x85, 0x02], LANE0 = [0xfd, 0x1f, 0];
// Instructions with immediates around the FMA, one of them holding the FMA's bytes, which a
// search for the bytes rather than the instructions would rewrite too.
const NOISE = [
    0x02, 0x40,                         // block
    0x41, 0x7f, 0x1a,                   //   i32.const -1, drop
    0x41, 0, 0xfd, 0x00, 0x04, 0, 0x1a, //   i32.const 0, v128.load align=16, drop
    0xfd, 0x0c, ...FMA, ...new Array(13).fill(0), 0x1a, // v128.const holding fd af 01, drop
    0x0b,                               // end
];
// a * b + c in lane 0, with a = 2, b = 3, c = 10 on the stack in that order: 16 when the
// instruction computes a * b + c as f32x4.relaxed_madd does.
const MADD_BODY = (op) => [...NOISE, ...f32x4(2), ...f32x4(3), ...f32x4(10), ...op, ...LANE0, 0x0b];

const relaxedHere = WebAssembly.validate(PROBE);
let skipped = 0;

check('the prototype f32x4.fma is rewritten, and nothing else', () => {
    const input = module([MADD_BODY(FMA), [...f32x4(1), ...LANE0, 0x0b]]);
    const {bytes, where} = rewrite(input);
    assert([...where].join() === '0,1', `rewrites: ${[...where].join(' ')}`);
    const expected = module([MADD_BODY(MADD), [...f32x4(1), ...LANE0, 0x0b]]);
    assert(bytes.length === expected.length && bytes.every((b, i) => b === expected[i]), 'not the expected bytes');
    assert(input.every((b, i) => b === module([MADD_BODY(FMA), [...f32x4(1), ...LANE0, 0x0b]])[i]), 'the input changed');
});

check('the rewritten module validates and computes a * b + c', () => {
    if (!relaxedHere) {
        skipped++;
        return;
    }
    const input = module([MADD_BODY(FMA)]);
    assert(!WebAssembly.validate(input), 'the prototype opcode validates');
    const {bytes} = rewrite(input);
    assert(WebAssembly.validate(bytes), 'the rewritten module does not validate');
    const result = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports.f0();
    assert(result === 16, `2 * 3 + 10 gave ${result}`);
});

check('a module without f32x4.fma is left as it is', () => {
    const input = module([[...f32x4(1), ...LANE0, 0x0b]]);
    const {bytes, where} = rewrite(input);
    assert(where.size === 0 && bytes.every((b, i) => b === input[i]), 'changed');
});

check('other prototype relaxed-SIMD instructions are refused', () => {
    // f32x4.fms (0xb0) and f64x2.fma (0xcf) in clang 14's numbering.
    for (const op of [[0xfd, 0xb0, 0x01], [0xfd, 0xcf, 0x01]]) {
        throwsWith(() => rewrite(module([MADD_BODY(op)])), /prototype instruction 0xfd 0x(b0|cf)/);
    }
});

check('instructions it does not know are refused, not skipped', () => {
    throwsWith(() => rewrite(module([[0x06, 0x40, 0x0b, ...f32x4(1), ...LANE0, 0x0b]])), /unknown instruction 0x6/);
    throwsWith(() => rewrite(module([[0xfe, 0x03, 0, ...f32x4(1), ...LANE0, 0x0b]])), /unknown instruction 0xfe/);
});

check('a body whose instructions do not end where its size says is refused', () => {
    throwsWith(() => rewrite(module([[...f32x4(1), ...LANE0]])), /does not end where its size says/);
    throwsWith(() => rewrite(module([[...f32x4(1), ...LANE0, 0x0b, 0x01]])), /does not end where its size says/);
});

check('the patch replaces exactly the bodies that differ', () => {
    const a = [...f32x4(1), ...LANE0, 0x0b];
    const base = module([a, MADD_BODY(FMA), a]);
    const relaxed = module([a, [...NOISE, ...MADD_BODY(MADD)], a]); // a longer body
    const patch = makePatch(base, relaxed);
    assert(patch.functions.length === 1 && patch.functions[0][0] === 1, JSON.stringify(patch.functions.map((f) => f[0])));
    const out = WasmPatch.apply(base, patch);
    assert(out.length === relaxed.length && out.every((b, i) => b === relaxed[i]), 'applying it gives other bytes');
    assert(WasmPatch.apply(base, {functions: []}).every((b, i) => b === base[i]), 'an empty patch changes the module');
});

check('two builds that differ outside their code sections give no patch', () => {
    const a = [...f32x4(1), ...LANE0, 0x0b];
    const base = module([a, a]), other = module([a, a]);
    other[other.indexOf(0x66, 20) + 1] ^= 1; // an export's name
    throwsWith(() => makePatch(base, other), /differ outside/);
    throwsWith(() => makePatch(base, module([a])), /functions/);
    throwsWith(() => WasmPatch.apply(base, {functions: [[7, 'AA==']]}), /no function body 7/);
});

const build = process.argv[2];
if (build) {
    check(`${build}/relaxed-patch.json makes engine-relaxed.js's module from engine.js's`, () => {
        const mod = (file) => {
            const m = /data:application\/octet-stream;base64,([A-Za-z0-9+/=]+)/.exec(fs.readFileSync(path.join(build, file), 'utf8'));
            return new Uint8Array(Buffer.from(m[1], 'base64'));
        };
        const patch = JSON.parse(fs.readFileSync(path.join(build, 'relaxed-patch.json'), 'utf8'));
        const out = WasmPatch.apply(mod('engine.js'), patch), want = mod('engine-relaxed.js');
        assert(patch.functions.length >= 1, 'an empty patch');
        assert(out.length === want.length && out.every((b, i) => b === want[i]), 'other bytes');
        if (relaxedHere) assert(WebAssembly.validate(out), 'the patched module does not validate');
    });
}

console.log(`${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped (this Node has no relaxed SIMD)` : ''));
process.exitCode = failed ? 1 : 0;
