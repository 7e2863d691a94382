// worker.js - the network's binding: libbackprop, compiled to WebAssembly, in a Web Worker.
//
// This worker owns every handle (the network, the trainer, the data sets) and is the only
// code that calls the library. The page sends it requests ({id, op, ...}) and gets one
// reply each ({id, ok, result} or {id, ok: false, error}); while training it also sends
// {type: 'frame'} snapshots on its own, at most one per frame interval, and {type:
// 'stopped'} when training stops on an error (a diverging run, with error) or because there is
// nothing left to do (L-BFGS has converged, with note). Training runs in slices
// of a few milliseconds with a yield to the event loop between them, so a pause or any
// other request is answered within one slice.
//
// Every number the page shows comes from here, and here every number comes from the
// library: training (bp_trainer_run), evaluation (bp_net_evaluate), the input plane
// (bp_net_forward, bp_net_layer_activations), gradients (bp_net_backward), the step-by-step
// explanation (bp_net_explain), the gradient check (backprop_verify.h), CSV parsing and
// its messages, model files. The worker only moves arrays in and out.
//
// Built into the page after the Emscripten module (web/build.sh): createEngine is its
// factory, ENGINE_WASM the module (base64, the SIMD128 build), RELAXED_PATCH what turns it
// into the relaxed-SIMD build (web/wasm-patch.js), and ENGINE_KIND, put first by the page
// (engine.js), which of the two to run. Under Node (tests/web-test.sh's engine check) the
// same file runs as a module of its own: see the end.
'use strict';
/* global createEngine, ENGINE_WASM, RELAXED_PATCH, ENGINE_KIND, WasmPatch */

// The library functions called here: [result, [arguments]] in cwrap's terms ('number'
// for pointers, sizes, enums and doubles; 'string' for C strings; null for void).
// web/build.sh exports exactly the names that start a line of this table.
const P = 'number', STR = 'string';
const SIGNATURES = {
    bp_status_message: [STR, [P]],
    bp_activation_name: [STR, [P]],
    bp_loss_name: [STR, [P]],
    bp_optimizer_name: [STR, [P]],
    bp_net_free: [null, [P]],
    bp_net_layer_count: [P, [P]],
    bp_net_width: [P, [P, P]],
    bp_net_hidden_activation: [P, [P]],
    bp_net_output_activation: [P, [P]],
    bp_net_loss_function: [P, [P]],
    bp_net_has_bias: [P, [P]],
    bp_net_dropout: [P, [P, P]],
    bp_net_param_count: [P, [P]],
    bp_net_params: [P, [P]],
    bp_net_grads: [P, [P]],
    bp_net_forward: [P, [P, P, P, P]],
    bp_net_backward: [P, [P, P, P, P, P, P]],
    bp_net_layer_activations: [P, [P, P, P, P]],
    bp_net_class_name: [P, [P, P]],
    bp_net_save: [P, [P, STR, P]],
    bp_net_load_memory: [P, [P, P, STR, P, P]],
    bp_dataset_create: [P, [P, P, P, P]],
    bp_dataset_free: [null, [P]],
    bp_dataset_count: [P, [P]],
    bp_dataset_inputs: [P, [P]],
    bp_dataset_outputs: [P, [P]],
    bp_dataset_x: [P, [P]],
    bp_dataset_y: [P, [P]],
    bp_dataset_class_name: [P, [P, P]],
    bp_dataset_write_csv: [P, [P, STR, P]],
    bp_trainer_free: [null, [P]],
    bp_trainer_epochs_done: [P, [P]],
    bp_trainer_steps_done: [P, [P]],
    bp_trainer_learning_rate: [P, [P]],
    bp_free: [null, [P]],
    bp_reference_gradient: [P, [P, P, P, P, P, P, P]],
    bp_finite_difference_gradient: [P, [P, P, P, P, P, P, P]],
    bp_relative_error: [P, [P, P, P]],
    web_net_create: [P, [P, P, P, P, P, P, P, P, P, P, P]],
    web_net_with_dropout: [P, [P, P, P, P]],
    web_trainer_create: [P, [P, P, P, P, P, P, P, P, P, P]],
    web_trainer_run: [P, [P, P, P, P]],
    web_net_evaluate: [P, [P, P, P]],
    web_dataset_read_csv: [P, [P, P, STR, P, P, P, P, P]],
    web_net_explain: [P, [P, P, P, P, P, STR, P, P]],
    web_dataset_split: [P, [P, P, P, P, P]],
};

const BP_OK = 0, BP_ERR_NUMERIC = 6;
const EXPLAIN_JSON = 1, REDUCE_MEAN = 0;
const ERROR_SIZE = 4 + 512; // bp_error: the status, then the message

let M = null;   // the Emscripten module
let C = null;   // the wrapped functions, by name
// A bp_error, four pointer-sized out slots, the trainer's five statistics, four doubles of scratch.
let errPtr = 0, outPtr = 0, statsPtr = 0, scratchPtr = 0;

// What the worker holds. Pointers are 0 when absent.
const S = {
    net: 0, trainer: 0, full: 0, train: 0, test: 0,
    trainSettings: null,     // the settings the trainer was made with (for re-creating it)
    epochOffset: 0, stepOffset: 0, // epochs and steps of earlier trainers on this network
    grid: null,              // {ptr, m, points}: the input plane's sample points
    playing: false, frameMs: 33, lastFrame: 0, slice: 1, snapshotOptions: {},
    stepsPerSecond: 0, allowance: 0, lastSlice: 0, // the pace: steps allowed so far (0 per second: no limit)
    converged: false,        // L-BFGS has stopped: further epochs change nothing
    scheduled: false,
};

class EngineError extends Error {}

// The library's message for a failed call: the bp_error's text when it has one.
function fail(status, what) {
    const text = M.UTF8ToString(errPtr + 4);
    const reason = text || C.bp_status_message(status);
    return new EngineError(what ? `${what}: ${reason}` : reason);
}

function call(status, what) {
    if (status !== BP_OK) throw fail(status, what);
}

function clearError() {
    M.HEAPU8.fill(0, errPtr, errPtr + ERROR_SIZE);
}

function malloc(bytes) {
    const p = M._malloc(Math.max(bytes, 8));
    if (!p) throw new EngineError('out of memory in the WebAssembly module');
    return p;
}

const f32 = (ptr, n) => M.HEAPF32.subarray(ptr >> 2, (ptr >> 2) + n);
const f64 = (ptr, n) => M.HEAPF64.subarray(ptr >> 3, (ptr >> 3) + n);
const u32 = (ptr) => M.HEAPU32[ptr >> 2];

// Floats copied into the module: returns the pointer (free it).
function copyIn(floats) {
    const p = malloc(floats.length * 4);
    f32(p, floats.length).set(floats);
    return p;
}

function names(fn) {
    const list = [];
    for (let i = 0; i < 32; i++) {
        const n = fn(i);
        if (n === 'unknown') break;
        list.push(n);
    }
    return list;
}

// A file the library wrote into the module's memory file system, read and removed.
// Emscripten's umask() answers 0777, so the library's chmod(0666 & ~umask) leaves the
// file without permissions, which only matters to this read: it is given them back.
function readBack(path) {
    M.FS.chmod(path, 0o644);
    const bytes = M.FS.readFile(path);
    M.FS.unlink(path);
    return bytes;
}

// ------------------------------------------------------------------- data sets

function freeData() {
    for (const k of ['train', 'test', 'full']) {
        if (S[k] && (k === 'full' || S[k] !== S.full)) C.bp_dataset_free(S[k]);
        S[k] = 0;
    }
}

function datasetArrays(d) {
    const n = C.bp_dataset_count(d), nIn = C.bp_dataset_inputs(d), nOut = C.bp_dataset_outputs(d);
    const y = C.bp_dataset_y(d);
    return {
        n, nIn, nOut,
        x: f32(C.bp_dataset_x(d), n * nIn).slice(),
        y: y ? f32(y, n * nOut).slice() : new Float32Array(0),
    };
}

function classNames(d) {
    const list = [];
    for (let k = 0; k < C.bp_dataset_outputs(d); k++) {
        const p = C.bp_dataset_class_name(d, k);
        if (!p) return null;
        list.push(M.UTF8ToString(p));
    }
    return list;
}

// The full set becomes S.full; a test fraction splits it (shuffled by the seed) into
// S.train and S.test with the library's bp_dataset_split.
function adoptData(full, testFraction, seed) {
    freeData();
    S.full = full;
    if (testFraction > 0 && C.bp_dataset_count(full) > 1) {
        clearError();
        call(C.web_dataset_split(full, testFraction, seed, outPtr, outPtr + 4), 'splitting the data');
        S.train = u32(outPtr);
        S.test = u32(outPtr + 4);
    } else {
        S.train = full;
        S.test = 0;
    }
    return {
        train: datasetArrays(S.train),
        test: S.test ? datasetArrays(S.test) : null,
        classNames: classNames(full),
    };
}

const ops = {};

ops.init = () => ({
    activations: names(C.bp_activation_name),
    losses: names(C.bp_loss_name),
    optimizers: names(C.bp_optimizer_name),
});

// Data made by the page (datasets.js): inputs and targets as rows.
ops.data = ({x, y, n, nIn, nOut, testFraction, seed}) => {
    call(C.bp_dataset_create(n, nIn, nOut, outPtr), 'creating the data set');
    const d = u32(outPtr);
    f32(C.bp_dataset_x(d), n * nIn).set(x);
    if (nOut) f32(C.bp_dataset_y(d), n * nOut).set(y);
    return adoptData(d, testFraction, seed);
};

// A CSV file, read by the library with the command line's rules and messages.
ops.csv = ({bytes, name, target, nTargets, testFraction, seed}) => {
    const p = malloc(bytes.length);
    M.HEAPU8.set(bytes, p);
    clearError();
    const st = C.web_dataset_read_csv(p, bytes.length, name, target, nTargets, 0, outPtr, errPtr);
    M._free(p);
    call(st);
    const d = u32(outPtr), only = target === 0 ? onlyClass(d) : -1;
    if (only >= 0) {
        const n = C.bp_dataset_count(d), label = C.bp_dataset_class_name(d, only);
        C.bp_dataset_free(d);
        throw new EngineError(`${name}: all ${n} samples are of class ${label ? `'${M.UTF8ToString(label)}'` : only}: ` +
                              'a classifier needs samples of at least two classes to learn to tell them apart (is ' +
                              'this the whole file, and is the class in the last column? "last columns are values" ' +
                              'trains on values instead)');
    }
    return adoptData(d, testFraction, seed);
};

// The class every sample of a class data set has, or -1 when there are two or more. As the
// command line's train does (check_classes in cli/cmd_train.c): data of one class would train
// a network that always answers it, with a loss near zero and an accuracy that mean nothing.
function onlyClass(d) {
    const n = C.bp_dataset_count(d), k = C.bp_dataset_outputs(d), y = f32(C.bp_dataset_y(d), n * k);
    if (k < 2 || n === 0) return -1;
    const first = y.subarray(0, k).indexOf(1);
    for (let i = 0; i < n * k; i++) if (y[i] !== (i % k === first ? 1 : 0)) return -1;
    return first;
}

// The current data set as CSV text, written by the library (bp_dataset_write_csv).
ops.dataCsv = () => {
    if (!S.full) throw new EngineError('no data set');
    clearError();
    call(C.bp_dataset_write_csv(S.full, '/data.csv', errPtr), 'writing the data');
    return readBack('/data.csv');
};

// ------------------------------------------------------------------- the network

function freeNet() {
    if (S.trainer) C.bp_trainer_free(S.trainer);
    if (S.net) C.bp_net_free(S.net);
    S.trainer = S.net = 0;
    S.epochOffset = S.stepOffset = 0;
    S.playing = false;
}

function netInfo() {
    const net = S.net, L = C.bp_net_layer_count(net), sizes = [], dropout = [];
    for (let l = 0; l <= L; l++) sizes.push(C.bp_net_width(net, l));
    for (let l = 1; l < L; l++) dropout.push(C.bp_net_dropout(net, l));
    const classes = [];
    for (let k = 0; k < sizes[L]; k++) {
        const p = C.bp_net_class_name(net, k);
        if (p) classes.push(M.UTF8ToString(p));
    }
    return {
        sizes,
        hidden: C.bp_activation_name(C.bp_net_hidden_activation(net)),
        output: C.bp_activation_name(C.bp_net_output_activation(net)),
        loss: C.bp_loss_name(C.bp_net_loss_function(net)),
        bias: !!C.bp_net_has_bias(net),
        dropout, // p^l of each hidden layer, as the network holds it (0: none)
        paramCount: C.bp_net_param_count(net),
        classNames: classes.length === sizes[L] ? classes : null,
    };
}

// Dropout probabilities in the module (a pointer to free), or 0 for none.
function dropoutIn(dropout) {
    if (!dropout || !dropout.some((p) => p > 0)) return 0;
    const p = malloc(dropout.length * 8);
    f64(p, dropout.length).set(dropout);
    return p;
}

// A new network ({sizes, hidden, output, loss, bias, seed} as enum numbers, dropout null or
// one probability per hidden layer, initRange 0 for He or Xavier or r for every parameter
// uniform in [-r, r]), initialized by the library from the seed, or with the given
// parameters (the seeds' examples). A network the library refuses leaves the old one.
ops.net = ({sizes, hidden, output, loss, bias, seed, dropout, initRange, params}) => {
    const sp = malloc(sizes.length * 4), dp = dropoutIn(dropout);
    M.HEAPU32.set(sizes, sp >> 2);
    clearError();
    const st = C.web_net_create(sizes.length - 1, sp, hidden, output, loss, bias ? 1 : 0, seed, dp, initRange || 0,
                                outPtr, errPtr);
    M._free(sp);
    if (dp) M._free(dp);
    call(st);
    freeNet();
    S.net = u32(outPtr);
    if (params) {
        const n = C.bp_net_param_count(S.net);
        if (params.length !== n) throw new EngineError(`${params.length} parameters given for a network of ${n}`);
        f32(C.bp_net_params(S.net), n).set(params);
    }
    return netInfo();
};

// Another dropout for the network (null, or one probability per hidden layer), training
// going on: the library makes a network with the same parameters and the new dropout
// (web_net_with_dropout), and a trainer for it (`trainer`'s settings, else the last accepted
// ones). The counts go on. When the library refuses either (L-BFGS with dropout), the network
// and trainer in use stay as they were.
ops.dropout = ({dropout, trainer}) => {
    if (!S.net) throw new EngineError('no network');
    const dp = dropoutIn(dropout);
    clearError();
    const st = C.web_net_with_dropout(S.net, dp, outPtr, errPtr);
    if (dp) M._free(dp);
    call(st);
    const net = u32(outPtr), settings = trainer || S.trainSettings;
    let made = 0;
    if (settings) {
        try {
            made = newTrainer(net, settings);
        } catch (e) {
            C.bp_net_free(net);
            throw e;
        }
    }
    retireTrainer();
    C.bp_net_free(S.net);
    S.net = net;
    S.trainer = made;
    if (made) {
        S.trainSettings = settings;
        S.converged = false;
    }
    S.playing = false;
    return netInfo();
};

// A .bpm model file, checked and decoded by the library.
ops.load = ({bytes, name}) => {
    const p = malloc(bytes.length);
    M.HEAPU8.set(bytes, p);
    clearError();
    const st = C.bp_net_load_memory(p, bytes.length, name, outPtr, errPtr);
    M._free(p);
    call(st);
    freeNet();
    S.net = u32(outPtr);
    return Object.assign(netInfo(), {params: f32(C.bp_net_params(S.net), C.bp_net_param_count(S.net)).slice()});
};

// The network as a .bpm file, written by bp_net_save into the module's memory file system.
ops.save = () => {
    if (!S.net) throw new EngineError('no network');
    clearError();
    call(C.bp_net_save(S.net, '/model.bpm', errPtr), 'saving the model');
    return readBack('/model.bpm');
};

// ------------------------------------------------------------------- training

// A trainer for `net` ({optimizer (enum number), lr, momentum, batch, weightDecay, seed,
// rpropStep0, rpropStepMax}; zero: the default), or the library's refusal as an EngineError.
function newTrainer(net, t) {
    clearError();
    const st = C.web_trainer_create(net, t.optimizer, t.lr, t.momentum, t.batch, t.weightDecay, t.seed,
                                    t.rpropStep0 || 0, t.rpropStepMax || 0, outPtr);
    if (st !== BP_OK) {
        let dropped = false;
        for (let l = 1; l < C.bp_net_layer_count(net); l++) dropped = dropped || C.bp_net_dropout(net, l) > 0;
        // The library refuses L-BFGS on a network with dropout (bp_trainer_create).
        if (C.bp_optimizer_name(t.optimizer) === 'lbfgs' && dropped)
            throw new EngineError('L-BFGS does not train with dropout: its line search compares the loss at ' +
                                  'several points, and dropout makes the loss random. Set dropout to 0 or ' +
                                  'choose another optimizer.');
        // bp_trainer_create refuses RPROP steps out of range without a message of its own.
        if (t.rpropStep0 || t.rpropStepMax)
            throw new EngineError(`the trainer: ${C.bp_status_message(st)}: RPROP's first step ` +
                                  `(${t.rpropStep0 || 0.1}) and largest step (${t.rpropStepMax || 50}) must each ` +
                                  'be from 1e-6 to 1e30, the first no larger than the largest');
        throw new EngineError(`the trainer: ${C.bp_status_message(st)} (check the optimizer's settings)`);
    }
    return u32(outPtr);
}

// The trainer in use, freed; its counts are kept as offsets.
function retireTrainer() {
    if (!S.trainer) return;
    S.epochOffset += C.bp_trainer_epochs_done(S.trainer);
    S.stepOffset += C.bp_trainer_steps_done(S.trainer);
    C.bp_trainer_free(S.trainer);
    S.trainer = 0;
}

// A new trainer for the network in use, which starts its own counts. A trainer the library
// refuses leaves the one in use as it was.
function makeTrainer(t) {
    const made = newTrainer(S.net, t);
    retireTrainer();
    S.trainer = made;
    S.converged = false;
}

// S.trainSettings are the settings the library last accepted. When it refuses new ones, the
// trainer in use stays; a network made since has none, and gets one from those settings when
// it trains (ensureTrainer).
ops.trainer = (settings) => {
    if (S.net) makeTrainer(settings);
    S.trainSettings = settings;
    return true;
};

function ensureTrainer() {
    if (!S.net) throw new EngineError('no network');
    if (!S.train) throw new EngineError('no training data');
    if (C.bp_dataset_inputs(S.train) !== C.bp_net_width(S.net, 0) ||
        C.bp_dataset_outputs(S.train) !== C.bp_net_width(S.net, C.bp_net_layer_count(S.net)))
        throw new EngineError(`the data has ${C.bp_dataset_inputs(S.train)} inputs and ` +
                              `${C.bp_dataset_outputs(S.train)} targets; the network takes ` +
                              `${C.bp_net_width(S.net, 0)} and gives ` +
                              `${C.bp_net_width(S.net, C.bp_net_layer_count(S.net))}`);
    if (!S.trainer) {
        if (!S.trainSettings) throw new EngineError('no trainer: choose an optimizer');
        makeTrainer(S.trainSettings);
    }
}

// At most `steps` steps; stops early, with the library's status, on an error. L-BFGS makes
// one iteration (an epoch) per call, and none once it has converged.
function trainSteps(steps) {
    const st = C.web_trainer_run(S.trainer, S.train, steps, statsPtr);
    S.converged = f64(statsPtr, 5)[4] === 1;
    if (st === BP_ERR_NUMERIC) {
        const at = S.stepOffset + C.bp_trainer_steps_done(S.trainer);
        throw new EngineError(`training diverged at step ${at}: the loss became NaN or infinite, so the ` +
                              'step was not applied. Lower the learning rate and reset.');
    }
    call(st, 'training');
}

// Its own iterations: the trainer's steps, not the page's count, which includes the steps of
// the optimizers used before it on this network (S.stepOffset).
function convergedNote() {
    const n = C.bp_trainer_steps_done(S.trainer);
    return `L-BFGS has stopped after ${n} iteration${n === 1 ? '' : 's'} of its own: the largest ` +
           '|dC/dp| fell to its tolerance (1e-4), the loss stopped falling, or its 15,000 evaluations are ' +
           'spent. Further epochs change nothing; reset to start again.';
}

function counts() {
    return {
        epochs: S.epochOffset + (S.trainer ? C.bp_trainer_epochs_done(S.trainer) : 0),
        steps: S.stepOffset + (S.trainer ? C.bp_trainer_steps_done(S.trainer) : 0),
        samplesInEpoch: S.trainer ? f64(statsPtr, 4)[2] : 0,
    };
}

// ------------------------------------------------------------------- snapshots

// The input plane's sample points ({x0, x1, y0, y1, size} for two inputs: size x size
// points, row by row from the top; for one input, size points from x0 to x1).
function setGrid(spec) {
    if (S.grid && S.grid.key === JSON.stringify(spec)) return;
    if (S.grid) M._free(S.grid.ptr);
    S.grid = null;
    if (!spec) return;
    const pts = [];
    if (spec.inputs === 2) {
        for (let r = 0; r < spec.size; r++)
            for (let c = 0; c < spec.size; c++)
                pts.push(spec.x0 + (spec.x1 - spec.x0) * (c + 0.5) / spec.size,
                         spec.y1 - (spec.y1 - spec.y0) * (r + 0.5) / spec.size);
    } else {
        for (let c = 0; c < spec.size; c++) pts.push(spec.x0 + (spec.x1 - spec.x0) * c / (spec.size - 1));
    }
    S.grid = {key: JSON.stringify(spec), ptr: copyIn(pts), m: pts.length / spec.inputs};
}

// Loss, accuracy and MSE over a data set; NaN when the network's outputs are no longer
// finite there (the run has diverged; runSlice stops on it).
function evaluate(d) {
    if (!d) return null;
    const st = C.web_net_evaluate(S.net, d, scratchPtr);
    if (st === BP_ERR_NUMERIC) return {loss: NaN, accuracy: null, mse: NaN};
    call(st, 'evaluating');
    const m = f64(scratchPtr, 3);
    return {loss: m[0], accuracy: m[1] >= 0 ? m[1] : null, mse: m[2]};
}

// Whether a data set has the network's inputs and outputs (a model file opened on other data
// has not, until the user opens a CSV that fits it).
const fits = (d) => d && C.bp_dataset_inputs(d) === C.bp_net_width(S.net, 0) &&
    C.bp_dataset_outputs(d) === C.bp_net_width(S.net, C.bp_net_layer_count(S.net));

// What the page draws: parameters, metrics (none on data that does not fit the network), the
// plane's activations, the gradient.
function snapshot() {
    const o = S.snapshotOptions, net = S.net, L = C.bp_net_layer_count(net);
    const snap = Object.assign(counts(), {
        params: f32(C.bp_net_params(net), C.bp_net_param_count(net)).slice(),
        train: fits(S.train) ? evaluate(S.train) : null,
        test: fits(S.test) ? evaluate(S.test) : null,
        plane: null, grads: null,
    });
    // dC/dW and dC/db over (up to 1,000 samples of) the training set. Plain gradient descent
    // applies its step inside the backward pass and leaves the gradient block alone, so
    // the gradient is computed here by its own backward pass.
    if (o.grads && fits(S.train)) {
        const m = Math.min(1000, C.bp_dataset_count(S.train));
        call(C.bp_net_backward(net, C.bp_dataset_x(S.train), C.bp_dataset_y(S.train), m, REDUCE_MEAN, scratchPtr),
             'the gradient');
        snap.grads = f32(C.bp_net_grads(net), C.bp_net_param_count(net)).slice();
    }
    // a^l of every layer at every point of the plane (the engine's forward pass).
    if (S.grid && C.bp_net_width(net, 0) * S.grid.m * 4 > 0 && C.bp_net_width(net, 0) === o.grid.inputs) {
        call(C.bp_net_forward(net, S.grid.ptr, S.grid.m, 0), 'the input plane');
        const layers = [];
        for (let l = 1; l <= L; l++) {
            call(C.bp_net_layer_activations(net, l, outPtr, outPtr + 4));
            layers.push(f32(u32(outPtr + 4), S.grid.m * C.bp_net_width(net, l)).slice());
        }
        snap.plane = {m: S.grid.m, layers};
    }
    return snap;
}

ops.snapshot = (options) => {
    S.snapshotOptions = options || S.snapshotOptions;
    setGrid(S.snapshotOptions.grid);
    return S.net ? snapshot() : null;
};

// `steps` steps (one call of bp_trainer_run stops at the end of an epoch).
ops.step = ({steps}) => {
    ensureTrainer();
    const goal = C.bp_trainer_steps_done(S.trainer) + (steps || 1);
    for (let done = C.bp_trainer_steps_done(S.trainer); done < goal && !S.converged;) {
        trainSteps(goal - done);
        const now = C.bp_trainer_steps_done(S.trainer);
        if (now === done) break; // no step was possible (L-BFGS found none)
        done = now;
    }
    return Object.assign(snapshot(), S.converged ? {note: convergedNote()} : {});
};

// Training on its own: slices of about 12 ms, a frame every frameMs, at most stepsPerSecond
// steps a second (0: as fast as it goes). A second call changes the pace.
ops.play = ({frameMs, stepsPerSecond}) => {
    ensureTrainer();
    S.frameMs = frameMs || 33;
    S.stepsPerSecond = stepsPerSecond || 0;
    if (!S.playing) {
        S.allowance = 0;
        S.lastSlice = performance.now();
        S.playing = true;
        S.lastFrame = 0;
        schedule();
    }
    return true;
};

ops.pause = () => {
    S.playing = false;
    return S.net ? snapshot() : null;
};

// The next slice, now (after pending messages) or in ms; never two pending at once, so a
// pause and a play in quick succession cannot start a second loop.
const channel = typeof MessageChannel === 'function' ? new MessageChannel() : null;
function schedule(ms) {
    if (S.scheduled) return;
    S.scheduled = true;
    if (channel && !ms) channel.port2.postMessage(0);
    else setTimeout(runSlice, ms || 0);
}
if (channel) {
    channel.port1.onmessage = runSlice;
    // Under Node an open port would keep the process alive after the test is done.
    if (channel.port1.unref) channel.port1.unref(), channel.port2.unref();
}

function runSlice() {
    S.scheduled = false;
    if (!S.playing || !S.trainer) return;
    const t0 = performance.now();
    // At a set pace, the steps earned since the last slice (at most a second's worth).
    if (S.stepsPerSecond > 0) S.allowance = Math.min(S.stepsPerSecond, S.allowance + (t0 - S.lastSlice) / 1000 * S.stepsPerSecond);
    S.lastSlice = t0;
    try {
        while (performance.now() - t0 < 12) {
            let steps = S.slice;
            if (S.stepsPerSecond > 0) {
                steps = Math.min(steps, Math.floor(S.allowance));
                if (steps < 1) break;
                S.allowance -= steps;
            }
            const s0 = performance.now();
            trainSteps(steps);
            if (S.converged) break;
            const dt = performance.now() - s0;
            // Grow or shrink the steps per call so that one call takes 1-4 ms.
            if (dt < 1 && S.slice < 1 << 20) S.slice *= 2;
            else if (dt > 4 && S.slice > 1) S.slice = Math.max(1, S.slice >> 1);
        }
        if (S.converged) {
            S.playing = false;
            post({type: 'stopped', error: null, note: convergedNote(), snapshot: snapshot()});
            return;
        }
        const now = performance.now();
        if (now - S.lastFrame >= S.frameMs) {
            S.lastFrame = now;
            const snap = snapshot();
            post({type: 'frame', snapshot: snap});
            if (snap.train && !Number.isFinite(snap.train.loss))
                throw new EngineError(`training diverged by step ${snap.steps}: the loss over the training set is ` +
                                      'no longer finite. Lower the learning rate and reset.');
        }
    } catch (e) {
        S.playing = false;
        let snap = null;
        try {
            snap = S.net ? snapshot() : null;
        } catch (ignored) {
            snap = null; // the message below says what went wrong
        }
        post({type: 'stopped', error: e.message, snapshot: snap});
        return;
    }
    // Ahead of the pace: wait for the next step's time instead of spinning.
    schedule(S.stepsPerSecond > 0 && S.allowance < 1 ? Math.max(1, 1000 / S.stepsPerSecond) : 0);
}

// ------------------------------------------------------------------- explaining

function sampleOf(set, index) {
    const d = set === 'test' ? S.test : S.train;
    if (!d) throw new EngineError(`no ${set} data`);
    const n = C.bp_dataset_count(d);
    if (!(index >= 0 && index < n)) throw new EngineError(`sample ${index + 1}: the ${set} set has ${n}`);
    if (C.bp_dataset_inputs(d) !== C.bp_net_width(S.net, 0) ||
        C.bp_dataset_outputs(d) !== C.bp_net_width(S.net, C.bp_net_layer_count(S.net)))
        throw new EngineError('the data does not fit the network (inputs or outputs differ)');
    const nIn = C.bp_dataset_inputs(d), nOut = C.bp_dataset_outputs(d);
    return {x: C.bp_dataset_x(d) + index * nIn * 4, y: C.bp_dataset_y(d) + index * nOut * 4};
}

// bp_net_explain's JSON for one sample: every number of its forward and backward pass,
// and the parameters after one gradient-descent step at learning rate lr.
ops.explain = ({set, index, lr}) => {
    if (!S.net) throw new EngineError('no network');
    const s = sampleOf(set, index);
    clearError();
    call(C.web_net_explain(S.net, s.x, s.y, EXPLAIN_JSON, lr, `${set} sample ${index + 1}`, outPtr, errPtr),
         'explaining');
    const p = u32(outPtr);
    const text = M.UTF8ToString(p);
    C.bp_free(p);
    return text;
};

// Backprop's float32 gradient against the long-double reference (explicit Jacobians) and
// central finite differences, block by block (each W^l and b^l on its own scale), as
// `backprop gradcheck` reports them.
ops.gradcheck = ({set, index, h}) => {
    if (!S.net) throw new EngineError('no network');
    const s = sampleOf(set, index);
    const net = S.net, n = C.bp_net_param_count(net), L = C.bp_net_layer_count(net);
    const bp = malloc(n * 8), ref = malloc(n * 8), fd = malloc(n * 8);
    try {
        call(C.bp_net_backward(net, s.x, s.y, 1, REDUCE_MEAN, scratchPtr), 'backprop');
        const loss = f64(scratchPtr, 1)[0];
        f64(bp, n).set(f32(C.bp_net_grads(net), n));
        call(C.bp_reference_gradient(net, s.x, s.y, 1, REDUCE_MEAN, scratchPtr, ref), 'the reference gradient');
        const refLoss = f64(scratchPtr, 1)[0];
        call(C.bp_finite_difference_gradient(net, s.x, s.y, 1, REDUCE_MEAN, h, fd), 'finite differences');
        const blocks = [];
        let off = 0, scale = 0;
        const bias = C.bp_net_has_bias(net);
        for (let l = 1; l <= L; l++) {
            const rows = C.bp_net_width(net, l), cols = C.bp_net_width(net, l - 1);
            for (const [name, len] of [[`W^${l}`, rows * cols], [`b^${l}`, bias ? rows : 0]]) {
                if (!len) continue;
                blocks.push({
                    name,
                    backpropVsReference: C.bp_relative_error(bp + off * 8, ref + off * 8, len),
                    referenceVsFiniteDifferences: C.bp_relative_error(ref + off * 8, fd + off * 8, len),
                });
                off += len;
            }
        }
        for (const v of f64(ref, n)) scale = Math.max(scale, Math.abs(v));
        return {loss, refLoss, h, blocks, scale,
                backprop: f64(bp, n).slice(), reference: f64(ref, n).slice(), finiteDifferences: f64(fd, n).slice()};
    } finally {
        M._free(bp), M._free(ref), M._free(fd);
    }
};

// The network's outputs a^L for m samples x (m x n_0).
ops.predict = ({x, m}) => {
    if (!S.net) throw new EngineError('no network');
    const nOut = C.bp_net_width(S.net, C.bp_net_layer_count(S.net));
    const xp = copyIn(x), out = malloc(m * nOut * 4);
    try {
        call(C.bp_net_forward(S.net, xp, m, out), 'predicting');
        return f32(out, m * nOut).slice();
    } finally {
        M._free(xp), M._free(out);
    }
};

// Samples per second of training on a CSV data set in this worker (bench/web-speed.sh):
// the same calls as bench/web_speed.c makes natively. The playground's own state is
// left alone.
ops.benchmark = ({bytes, sizes, hidden, output, loss, lr, batch, seconds, seed}) => {
    const p = malloc(bytes.length);
    M.HEAPU8.set(bytes, p);
    clearError();
    let st = C.web_dataset_read_csv(p, bytes.length, 'benchmark.csv', 0, 0, 0, outPtr, errPtr);
    M._free(p);
    call(st);
    const d = u32(outPtr);
    const sp = malloc(sizes.length * 4);
    M.HEAPU32.set(sizes, sp >> 2);
    st = C.web_net_create(sizes.length - 1, sp, hidden, output, loss, 1, seed, 0, 0, outPtr, errPtr);
    M._free(sp);
    let net = 0, trainer = 0;
    try {
        call(st);
        net = u32(outPtr);
        call(C.web_trainer_create(net, 0, lr, 0, batch, 0, seed, 0, 0, outPtr));
        trainer = u32(outPtr);
        const n = C.bp_dataset_count(d), rates = [];
        const epoch = () => call(C.web_trainer_run(trainer, d, 0, statsPtr));
        for (let t0 = performance.now(); performance.now() - t0 < 1000;) epoch(); // warm-up
        // Each measurement spans whole epochs for at least 100 ms: a page without
        // cross-origin isolation reads performance.now() in 0.1 ms steps, which on one
        // epoch of a few milliseconds would quantize the figure by 3% (bench/web_speed.c
        // measures the same way).
        let epochs = 0;
        for (let t0 = performance.now(); performance.now() - t0 < seconds * 1000;) {
            const e0 = performance.now();
            let k = 0, ms = 0;
            do {
                epoch();
                k++;
                ms = performance.now() - e0;
            } while (ms < 100);
            epochs += k;
            rates.push(k * n / (ms / 1000));
        }
        return {samplesPerSecond: Math.max(...rates), epochs, loss: f64(statsPtr, 1)[0]};
    } finally {
        if (trainer) C.bp_trainer_free(trainer);
        if (net) C.bp_net_free(net);
        C.bp_dataset_free(d);
    }
};

// ------------------------------------------------------------------- messages

let post = (msg) => self.postMessage(msg, collectTransfers(msg));

// Typed arrays in a message are moved, not copied.
function collectTransfers(msg, list = []) {
    if (msg && typeof msg === 'object') {
        if (ArrayBuffer.isView(msg)) list.push(msg.buffer);
        else for (const v of Object.values(msg)) collectTransfers(v, list);
    }
    return list;
}

function handle(msg) {
    const {id, op} = msg;
    try {
        if (!ops[op]) throw new EngineError(`unknown request ${op}`);
        post({id, ok: true, result: ops[op](msg)});
    } catch (e) {
        if (!(e instanceof EngineError)) console.error(e);
        post({id, ok: false, error: e instanceof EngineError ? e.message : `internal error: ${e.message}`});
    }
}

// Requests wait here until the module has started.
const waiting = [];
let startError = null;

function start(factory) {
    return factory().then((module) => {
        M = module;
        C = {};
        for (const [name, [ret, args]] of Object.entries(SIGNATURES)) C[name] = M.cwrap(name, ret, args);
        errPtr = M._malloc(ERROR_SIZE);
        outPtr = M._malloc(16);
        statsPtr = M._malloc(40);
        scratchPtr = M._malloc(32);
        M.HEAPU8.fill(0, statsPtr, statsPtr + 40);
        for (const m of waiting.splice(0)) handle(m);
    }, (e) => {
        startError = `the WebAssembly engine did not start (${e && e.message ? e.message : e}); ` +
                     'the playground needs a browser with WebAssembly SIMD (Chrome 91, Firefox 89, Safari 16.4 or later)';
        for (const m of waiting.splice(0)) post({id: m.id, ok: false, error: startError});
    });
}

function onMessage(msg) {
    if (startError) post({id: msg.id, ok: false, error: startError});
    else if (!M) waiting.push(msg);
    else handle(msg);
}

if (typeof module === 'object' && module.exports) {
    // Node: tests/web-test.sh drives this file directly, without a browser.
    module.exports = {
        start: (factory, send) => {
            post = send;
            return start(factory);
        },
        onMessage,
    };
} else {
    self.onmessage = (e) => onMessage(e.data);
    // The module's bytes, patched for relaxed SIMD when the page asks for it, go to the
    // Emscripten module as its wasmBinary (its own copy of the module was taken out).
    start(() => Promise.resolve().then(() => {
        const simd128 = WasmPatch.fromBase64(ENGINE_WASM);
        const bytes = ENGINE_KIND === 'relaxed-simd' ? WasmPatch.apply(simd128, RELAXED_PATCH) : simd128;
        return createEngine({wasmBinary: bytes});
    }));
}
