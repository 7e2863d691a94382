// wasm-patch.js - replaces function bodies in a WebAssembly module: how the worker makes the
// relaxed-SIMD engine from the SIMD128 one (web/build.sh, docs/PLAYGROUND.md).
//
// The page carries one engine module, built with the SIMD128 GEMM kernel, and a patch: the
// bodies of the few functions (the kernel's) that differ in the build whose kernel uses
// relaxed SIMD's fused multiply-add. The two builds are otherwise the same bytes, which
// web/relaxed-simd.js checks when it makes the patch. A browser with relaxed SIMD gets the
// module with those bodies in place of the SIMD128 ones; one without runs the SIMD128 module
// as it is. The patch is a few kilobytes where a second module would be hundreds.
//
//   WasmPatch.apply(bytes, patch) -> the patched module's bytes (a new Uint8Array)
//   patch = {functions: [[index, base64 body], ...]}, index counting the code section's bodies
//
// Only the module's layout is read here (sections, the code section's sized bodies), never
// instructions: a body is replaced whole, with its size. Runs in the worker and under Node
// (web/relaxed-simd.js, which checks that applying the patch gives the relaxed build exactly).
'use strict';

const WasmPatch = (() => {
    // An unsigned LEB128 number at pos: [value, position after it].
    function leb(bytes, pos) {
        let value = 0, shift = 0, byte;
        do {
            if (pos >= bytes.length || shift > 28) throw new Error('wasm-patch: bad LEB128 number at byte ' + pos);
            byte = bytes[pos++];
            value += (byte & 0x7f) * 2 ** shift;
            shift += 7;
        } while (byte & 0x80);
        return [value, pos];
    }

    function encodeLeb(value) {
        const out = [];
        do {
            let byte = value & 0x7f;
            value = Math.floor(value / 128);
            if (value) byte |= 0x80;
            out.push(byte);
        } while (value);
        return out;
    }

    // The module's sections: {id, start, payload, end}, start at the id byte.
    function sections(bytes) {
        const magic = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
        if (bytes.length < 8 || magic.some((b, i) => bytes[i] !== b)) throw new Error('wasm-patch: not a WebAssembly module');
        const list = [];
        for (let pos = 8; pos < bytes.length;) {
            const [size, payload] = leb(bytes, pos + 1);
            const end = payload + size;
            if (end > bytes.length) throw new Error('wasm-patch: a section runs past the end of the module');
            list.push({id: bytes[pos], start: pos, payload, end});
            pos = end;
        }
        return list;
    }

    // The code section and its function bodies: {section, bodies: [{start, end}]}, where a body
    // runs from its size to its last byte (start..end).
    function code(bytes) {
        const section = sections(bytes).find((s) => s.id === 10);
        if (!section) throw new Error('wasm-patch: the module has no code section');
        let [count, pos] = leb(bytes, section.payload);
        const bodies = [];
        for (let i = 0; i < count; i++) {
            const [size, body] = leb(bytes, pos);
            bodies.push({start: pos, end: body + size});
            pos = body + size;
        }
        if (pos !== section.end) throw new Error('wasm-patch: the code section does not end with its last body');
        return {section, bodies};
    }

    function fromBase64(text) {
        if (typeof atob === 'function') return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
        return new Uint8Array(Buffer.from(text, 'base64'));
    }

    function apply(bytes, patch) {
        const {section, bodies} = code(bytes);
        const replaced = new Map();
        for (const [index, body] of patch.functions) {
            if (!(index >= 0 && index < bodies.length)) throw new Error(`wasm-patch: no function body ${index}`);
            replaced.set(index, fromBase64(body));
        }
        // The new code section's payload: the count, then each body (sized) old or new.
        const parts = [Uint8Array.from(encodeLeb(bodies.length))];
        bodies.forEach((b, i) => {
            const body = replaced.get(i);
            if (body) parts.push(Uint8Array.from(encodeLeb(body.length)), body);
            else parts.push(bytes.subarray(b.start, b.end));
        });
        const payload = parts.reduce((n, p) => n + p.length, 0);
        const header = Uint8Array.from([10, ...encodeLeb(payload)]);
        const out = new Uint8Array(section.start + header.length + payload + (bytes.length - section.end));
        let pos = 0;
        for (const p of [bytes.subarray(0, section.start), header, ...parts, bytes.subarray(section.end)]) {
            out.set(p, pos);
            pos += p.length;
        }
        return out;
    }

    return {apply, sections, code, leb, encodeLeb, fromBase64};
})();

if (typeof module === 'object' && module.exports) module.exports = WasmPatch;
