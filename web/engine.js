// engine.js - the page's side of the worker (worker.js): starts it from a Blob URL, which
// works from file:// as well as from a server, and turns its replies into promises.
//
//   const engine = Engine.start({onFrame, onStopped});
//   const info = await engine.request('net', {...});   // rejects with the library's message
//
// Frames (snapshots while training) and stops (a diverged run: an error; a converged L-BFGS:
// a note) arrive through the two callbacks. The page never computes what the engine
// reports; it only draws it.
//
// Which build of the engine the worker runs is decided here, once, as the page loads: the
// one whose GEMM kernel uses relaxed SIMD's fused multiply-add where the browser validates
// a relaxed-SIMD instruction, else the SIMD128 one (web/wasm-patch.js makes the first from
// the second). engine.kind says which; start({kind: 'simd128'}) asks for the SIMD128 one
// (the page's ?engine=simd128, for tests and comparisons).
'use strict';
/* global WORKER_SOURCE */

const Engine = (() => {
    // (module (func (param v128 v128 v128) (result v128)
    //   local.get 0 local.get 1 local.get 2 f32x4.relaxed_madd)): 0xfd 0x105 is the
    // standardized encoding, the one web/relaxed-simd.js writes.
    const RELAXED_SIMD_PROBE = [0, 97, 115, 109, 1, 0, 0, 0, 1, 8, 1, 96, 3, 123, 123, 123, 1, 123, 3, 2, 1, 0,
                                10, 13, 1, 11, 0, 32, 0, 32, 1, 32, 2, 0xfd, 0x85, 0x02, 11];

    function relaxedSimd() {
        try {
            return WebAssembly.validate(new Uint8Array(RELAXED_SIMD_PROBE));
        } catch (e) {
            return false;
        }
    }

    function start({onFrame, onStopped, onFailure, kind}) {
        kind = kind !== 'simd128' && relaxedSimd() ? 'relaxed-simd' : 'simd128';
        const source = `const ENGINE_KIND = ${JSON.stringify(kind)};\n` + WORKER_SOURCE;
        const url = URL.createObjectURL(new Blob([source], {type: 'text/javascript'}));
        const worker = new Worker(url);
        const pending = new Map();
        let nextId = 1;

        worker.onmessage = (e) => {
            const msg = e.data;
            if (msg.type === 'frame') return onFrame(msg.snapshot);
            if (msg.type === 'stopped') return onStopped(msg.error, msg.snapshot, msg.note);
            const p = pending.get(msg.id);
            if (!p) return;
            pending.delete(msg.id);
            if (msg.ok) p.resolve(msg.result);
            else p.reject(new Error(msg.error));
        };
        // A worker that fails outside a request (it could not even start) fails every request.
        worker.onerror = (e) => {
            const error = new Error(`the engine's worker failed: ${e.message || 'unknown error'}`);
            for (const p of pending.values()) p.reject(error);
            pending.clear();
            if (onFailure) onFailure(error);
        };

        function request(op, args = {}, transfer = []) {
            return new Promise((resolve, reject) => {
                const id = nextId++;
                pending.set(id, {resolve, reject});
                worker.postMessage(Object.assign({id, op}, args), transfer);
            });
        }

        return {request, kind};
    }

    return {start};
})();
