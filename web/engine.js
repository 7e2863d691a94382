// engine.js - the page's side of the worker (worker.js): starts it from a Blob URL, which
// works from file:// as well as from a server, and turns its replies into promises.
//
//   const engine = Engine.start({onFrame, onStopped});
//   const info = await engine.request('net', {...});   // rejects with the library's message
//
// Frames (snapshots while training) and stops (a diverged run: an error; a converged L-BFGS:
// a note) arrive through the two callbacks. The page never computes what the engine
// reports; it only draws it.
'use strict';
/* global WORKER_SOURCE */

const Engine = (() => {
    function start({onFrame, onStopped, onFailure}) {
        const url = URL.createObjectURL(new Blob([WORKER_SOURCE], {type: 'text/javascript'}));
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

        return {request};
    }

    return {start};
})();
