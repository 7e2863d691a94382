// relaxed-simd.js - the build step that makes the playground's relaxed-SIMD engine usable
// (web/build.sh runs it; docs/PLAYGROUND.md, "The GEMM in WebAssembly").
//
// Debian's Emscripten 3.1.6 (clang 14, binaryen 108) compiles relaxed SIMD's fused
// multiply-add, but writes it with the proposal's prototype opcode (0xfd 0xaf 0x01,
// "f32x4.fma"), which no shipping engine accepts; the standardized instruction is
// f32x4.relaxed_madd, 0xfd 0x105 (LEB128 0x85 0x02), computing a * b + c from the stack's
// a, b, c. Both encodings are three bytes, so the rewrite changes no size or offset.
//
//   node relaxed-simd.js rewrite IN OUT
//       Decodes every instruction of every function body of IN (a .wasm, or Emscripten's
//       SINGLE_FILE .js with the module in a base64 data URI) and writes OUT with each
//       prototype f32x4.fma replaced by f32x4.relaxed_madd; prints how many, in which
//       bodies. Fails on any other prototype relaxed-SIMD instruction, on an instruction it
//       does not know, on a module without any f32x4.fma (the kernel lost its FMA), and on
//       a result that WebAssembly.validate refuses (Node 20 needs
//       --experimental-wasm-relaxed-simd for that; without relaxed SIMD it fails).
//   node relaxed-simd.js patch BASE RELAXED OUT.json
//       The function bodies in which RELAXED differs from BASE (two links of the same
//       objects but the kernel's), as web/wasm-patch.js applies them. Fails unless every
//       other byte is the same and applying the patch to BASE gives RELAXED exactly.
//
// The decoder knows the instructions clang 14 and binaryen 108 write for this build: the
// MVP, sign extension, saturating truncation, bulk memory, reference types and SIMD128.
// Anything else (threads, exceptions, tail calls) stops the rewrite rather than be skipped.
'use strict';
const fs = require('fs');
const path = require('path');
const WasmPatch = require(path.join(__dirname, 'wasm-patch.js'));
const {leb} = WasmPatch;

const PROTOTYPE_FMA = 0xaf; // f32x4.fma in clang 14's numbering (0xfd prefix)
const RELAXED_MADD = 0x105; // f32x4.relaxed_madd, standardized
// The numbers the standard SIMD instruction set leaves unassigned, where clang 14 puts its
// prototype relaxed-SIMD instructions (0xaf among them): after the rewrite none may be left.
const SIMD_GAPS = new Set([0x9a, 0xa2, 0xa5, 0xa6, 0xaf, 0xb0, 0xb2, 0xb3, 0xb4, 0xbb, 0xc2, 0xc5, 0xc6, 0xcf, 0xd0,
                           0xd2, 0xd3, 0xd4]);

function sleb(bytes, pos) {
    let byte;
    do {
        if (pos >= bytes.length) throw new Error('a signed LEB128 number runs past the body');
        byte = bytes[pos++];
    } while (byte & 0x80);
    return pos;
}

// Walks one function body (start..end, from its size) instruction by instruction and calls
// simd(op, at) for every 0xfd-prefixed one, at being the position of the 0xfd byte.
function walkBody(bytes, start, end, simd) {
    let [, pos] = leb(bytes, start); // the body's size
    let [groups, p] = leb(bytes, pos);
    pos = p;
    for (let i = 0; i < groups; i++) {
        [, pos] = leb(bytes, pos);
        pos++; // the value type
    }
    const u = () => ([, pos] = leb(bytes, pos));
    const memarg = () => {
        let align;
        [align, pos] = leb(bytes, pos);
        if (align >= 64) throw new Error('a memory index (multiple memories) is not supported');
        u();
    };
    const blocktype = () => {
        const t = bytes[pos];
        if (t === 0x40 || (t >= 0x6f && t <= 0x7f)) pos++;
        else pos = sleb(bytes, pos);
    };
    let depth = 1;
    while (pos < end) {
        const at = pos, op = bytes[pos++];
        if (op === 0x02 || op === 0x03 || op === 0x04) {
            blocktype();
            depth++;
        } else if (op === 0x0b) {
            if (--depth === 0) break;
        } else if (op === 0x00 || op === 0x01 || op === 0x05 || op === 0x0f || op === 0x1a || op === 0x1b ||
                   (op >= 0x45 && op <= 0xc4) || op === 0xd1) {
            // no immediate
        } else if (op === 0x0c || op === 0x0d || op === 0x10 || (op >= 0x20 && op <= 0x26) || op === 0xd2) {
            u();
        } else if (op === 0x0e) {
            let n;
            [n, pos] = leb(bytes, pos);
            for (let i = 0; i <= n; i++) u();
        } else if (op === 0x11) {
            u(), u();
        } else if (op === 0x1c) {
            let n;
            [n, pos] = leb(bytes, pos);
            pos += n;
        } else if (op >= 0x28 && op <= 0x3e) {
            memarg();
        } else if (op === 0x3f || op === 0x40) {
            pos++;
        } else if (op === 0x41 || op === 0x42) {
            pos = sleb(bytes, pos);
        } else if (op === 0x43) {
            pos += 4;
        } else if (op === 0x44) {
            pos += 8;
        } else if (op === 0xd0) {
            pos++;
        } else if (op === 0xfc) {
            let sub;
            [sub, pos] = leb(bytes, pos);
            if (sub <= 7) {
                // saturating truncation
            } else if (sub === 8) u(), pos++;
            else if (sub === 9 || sub === 13 || (sub >= 15 && sub <= 17)) u();
            else if (sub === 10) pos += 2;
            else if (sub === 11) pos++;
            else if (sub === 12 || sub === 14) u(), u();
            else throw new Error(`unknown instruction 0xfc ${sub} at byte ${at}`);
        } else if (op === 0xfd) {
            let sub;
            [sub, pos] = leb(bytes, pos);
            if (sub <= 11 || sub === 0x5c || sub === 0x5d) memarg();
            else if (sub === 12 || sub === 13) pos += 16;
            else if (sub >= 21 && sub <= 34) pos++;
            else if (sub >= 0x54 && sub <= 0x5b) memarg(), pos++;
            else if (sub > 0xff && sub !== RELAXED_MADD) throw new Error(`unknown SIMD instruction 0xfd ${sub} at byte ${at}`);
            simd(sub, at, pos);
        } else {
            throw new Error(`unknown instruction 0x${op.toString(16)} at byte ${at}`);
        }
    }
    if (depth !== 0 || pos !== end) throw new Error(`a function body does not end where its size says (byte ${start})`);
}

function rewrite(module) {
    const out = Uint8Array.from(module);
    const {bodies} = WasmPatch.code(out);
    const where = new Map();
    bodies.forEach((b, index) => {
        walkBody(out, b.start, b.end, (op, at, next) => {
            if (op === PROTOTYPE_FMA) {
                if (next - at !== 3) throw new Error(`f32x4.fma at byte ${at} is not three bytes long`);
                out[at + 1] = 0x80 | (RELAXED_MADD & 0x7f);
                out[at + 2] = RELAXED_MADD >> 7;
                where.set(index, (where.get(index) || 0) + 1);
            } else if (SIMD_GAPS.has(op)) {
                throw new Error(`prototype instruction 0xfd 0x${op.toString(16)} at byte ${at}: only f32x4.fma (0xaf) is rewritten`);
            }
        });
    });
    return {bytes: out, where};
}

// An Emscripten SINGLE_FILE .js holds its module as one base64 data URI; a .wasm is itself.
const URI = /data:application\/octet-stream;base64,([A-Za-z0-9+/=]+)/g;
function readModule(file) {
    const data = fs.readFileSync(file);
    if (data[0] === 0 && data[1] === 0x61) return {bytes: new Uint8Array(data), text: null};
    const text = data.toString('utf8');
    const found = [...text.matchAll(URI)];
    if (found.length !== 1) throw new Error(`${file}: expected one base64 data URI, found ${found.length}`);
    return {bytes: new Uint8Array(Buffer.from(found[0][1], 'base64')), text};
}
function writeModule(file, bytes, text) {
    const data = text === null ? Buffer.from(bytes)
        : text.replace(URI, () => 'data:application/octet-stream;base64,' + Buffer.from(bytes).toString('base64'));
    fs.writeFileSync(file + '.tmp', data);
    fs.renameSync(file + '.tmp', file);
}

// The standardized relaxed_madd in a one-function module: whether this engine has relaxed SIMD.
const PROBE = Uint8Array.from([0, 97, 115, 109, 1, 0, 0, 0, 1, 8, 1, 96, 3, 123, 123, 123, 1, 123, 3, 2, 1, 0,
                               10, 13, 1, 11, 0, 32, 0, 32, 1, 32, 2, 0xfd, 0x85, 0x02, 11]);

function makePatch(base, relaxed) {
    const a = WasmPatch.code(base), b = WasmPatch.code(relaxed);
    if (a.bodies.length !== b.bodies.length) throw new Error(`the builds have ${a.bodies.length} and ${b.bodies.length} functions`);
    const same = (x, y) => x.length === y.length && x.every((v, i) => v === y[i]);
    if (!same(base.subarray(0, a.section.start), relaxed.subarray(0, b.section.start)) ||
        !same(base.subarray(a.section.end), relaxed.subarray(b.section.end))) {
        throw new Error('the builds differ outside their code sections');
    }
    const functions = [];
    a.bodies.forEach((x, i) => {
        const y = b.bodies[i];
        if (!same(base.subarray(x.start, x.end), relaxed.subarray(y.start, y.end))) {
            let [, body] = leb(relaxed, y.start);
            functions.push([i, Buffer.from(relaxed.subarray(body, y.end)).toString('base64')]);
        }
    });
    const patch = {functions};
    if (!same(WasmPatch.apply(base, patch), relaxed)) throw new Error('applying the patch does not give the relaxed build');
    return patch;
}

function main(argv) {
    const [command, ...files] = argv;
    if (command === 'rewrite' && files.length === 2) {
        const {bytes, text} = readModule(files[0]);
        const {bytes: out, where} = rewrite(bytes);
        const count = [...where.values()].reduce((n, c) => n + c, 0);
        if (count === 0) throw new Error(`${files[0]}: no f32x4.fma to rewrite (was the kernel built with -mrelaxed-simd?)`);
        if (!WebAssembly.validate(PROBE)) throw new Error('this Node has no relaxed SIMD: run it with --experimental-wasm-relaxed-simd');
        if (!WebAssembly.validate(out)) throw new Error(`${files[0]}: the rewritten module does not validate`);
        writeModule(files[1], out, text);
        const list = [...where].map(([f, c]) => `${c} in body ${f}`).join(', ');
        console.log(`relaxed-simd.js: ${count} f32x4.fma -> f32x4.relaxed_madd (${list})`);
    } else if (command === 'patch' && files.length === 3) {
        const patch = makePatch(readModule(files[0]).bytes, readModule(files[1]).bytes);
        fs.writeFileSync(files[2], JSON.stringify(patch));
        const size = patch.functions.reduce((n, f) => n + f[1].length, 0);
        console.log(`relaxed-simd.js: the patch replaces ${patch.functions.length} function bodies (${size} bytes of base64)`);
    } else {
        console.error('usage: node relaxed-simd.js rewrite IN OUT | patch BASE RELAXED OUT.json');
        return 2;
    }
    return 0;
}

if (require.main === module) {
    try {
        process.exitCode = main(process.argv.slice(2));
    } catch (e) {
        console.error(`relaxed-simd.js: ${e.message}`);
        process.exitCode = 1;
    }
}
module.exports = {rewrite, makePatch, walkBody, PROBE};
