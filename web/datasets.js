// datasets.js - the data sets the page makes itself: 2-D toy problems, a 1-D regression and
// the source documents' worked examples.
//
// A data set is {x, y, n, nIn, nOut, kind, classes, domain, name}: x is n x nIn and y is
// n x nOut (rows are samples, as the library stores them); kind is 'class' (y one-hot over
// `classes` classes) or 'values'; domain is the input plane's extent [x0, x1, y0, y1] for
// drawing. Everything is a function of the settings and the seed alone (a seeded
// generator, never Math.random), so a shared link rebuilds the same points.
//
// These are inputs for the engine, not computation of the network: training, evaluation
// and every number the page shows come from the library (worker.js).
'use strict';

const Datasets = (() => {
    // mulberry32: a small 32-bit generator, enough for drawing toy data reproducibly.
    function generator(seed) {
        let a = (seed >>> 0) ^ 0x9e3779b9;
        const next = () => {
            a = (a + 0x6d2b79f5) >>> 0;
            let t = a;
            t = Math.imul(t ^ (t >>> 15), t | 1);
            t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
            return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
        };
        const uniform = (lo, hi) => lo + (hi - lo) * next();
        // Box-Muller: one normal number per call.
        const normal = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
        return {next, uniform, normal};
    }

    function classSet(name, points, classes, domain) {
        const n = points.length, x = new Float32Array(n * 2), y = new Float32Array(n * classes);
        points.forEach(([a, b, k], i) => {
            x[2 * i] = a;
            x[2 * i + 1] = b;
            y[i * classes + k] = 1;
        });
        return {name, x, y, n, nIn: 2, nOut: classes, kind: 'class', classes, domain};
    }

    const PLANE = [-6, 6, -6, 6];

    // Points in the four quadrants, kept 0.3 off the axes; the class is whether x1 and x2
    // have the same sign.
    function xor(n, noise, rng) {
        const pts = [], away = (v) => v + (v > 0 ? 0.3 : -0.3);
        for (let i = 0; i < n; i++) {
            let a = away(rng.uniform(-5, 5)), b = away(rng.uniform(-5, 5));
            const k = a * b >= 0 ? 1 : 0;
            a += rng.normal() * noise * 2;
            b += rng.normal() * noise * 2;
            pts.push([a, b, k]);
        }
        return classSet('xor', pts, 2, PLANE);
    }

    // A disc (class 1) inside a ring (class 0).
    function circles(n, noise, rng) {
        const pts = [];
        for (let i = 0; i < n; i++) {
            const inner = i < n / 2, r = inner ? rng.uniform(0, 2) : rng.uniform(3.2, 5), t = rng.uniform(0, 2 * Math.PI);
            pts.push([r * Math.sin(t) + rng.normal() * noise * 2, r * Math.cos(t) + rng.normal() * noise * 2,
                      inner ? 1 : 0]);
        }
        return classSet('circles', pts, 2, PLANE);
    }

    // Two spirals wound into each other, one per class.
    function spirals(n, noise, rng) {
        const pts = [], half = Math.ceil(n / 2);
        for (let k = 0; k < 2; k++) {
            for (let i = 0; i < (k ? n - half : half); i++) {
                const r = 5 * i / half, t = 1.75 * 2 * Math.PI * i / half + k * Math.PI;
                pts.push([r * Math.sin(t) + rng.normal() * noise, r * Math.cos(t) + rng.normal() * noise, k]);
            }
        }
        return classSet('spirals', pts, 2, PLANE);
    }

    // Gaussian blobs around `classes` centres on a circle.
    function blobs(n, noise, rng, classes) {
        const pts = [];
        for (let i = 0; i < n; i++) {
            const k = i % classes, t = 2 * Math.PI * k / classes + 0.5, s = 0.8 + 2.5 * noise;
            pts.push([3.2 * Math.cos(t) + rng.normal() * s, 3.2 * Math.sin(t) + rng.normal() * s, k]);
        }
        return classSet('blobs', pts, classes, PLANE);
    }

    // y = sin(x) on [-pi, pi] with noise: one input, one target.
    function sine(n, noise, rng) {
        const x = new Float32Array(n), y = new Float32Array(n);
        for (let i = 0; i < n; i++) {
            x[i] = rng.uniform(-Math.PI, Math.PI);
            y[i] = Math.sin(x[i]) + rng.normal() * noise * 0.5;
        }
        return {name: 'sine', x, y, n, nIn: 1, nOut: 1, kind: 'values', classes: 0, domain: [-3.5, 3.5, -1.6, 1.6]};
    }

    // The source documents' networks with the weights of tests/test_seeds.c, which make
    // every number exact in binary: the network, its parameters (for l = 1..L: W^l row by
    // row, then b^l) and its one sample.
    const SEEDS = {
        seed232: {
            title: 'seed 001: 2-3-2, sigmoid, 1/2 squared error',
            sizes: [2, 3, 2], hidden: 'sigmoid', output: 'sigmoid', loss: 'mse', bias: true, lr: 0.5,
            params: [1, -1, 2, -2, 0, 0, /* b1 */ 0, 0, 0, /* W2 */ 1, -1, 0, 0, 0, 0, /* b2 */ 0, 0],
            x: [1, 1], y: [1, 0],
        },
        seed342: {
            title: 'seed 002: 3-4-2, ReLU hidden, identity output',
            sizes: [3, 4, 2], hidden: 'relu', output: 'identity', loss: 'mse', bias: true, lr: 0.1,
            params: [1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1, /* b1 */ 0, -1, 0, 0.5, /* W2 */ 1, -1, 2, 0, 0.5, 0, 0, 1,
                     /* b2 */ 0.5, -1],
            x: [1, 2, -1], y: [1, 1],
        },
        seed3452: {
            title: 'seed 003: 3-4-5-2 without biases (z = W a)',
            sizes: [3, 4, 5, 2], hidden: 'sigmoid', output: 'identity', loss: 'mse', bias: false, lr: 0.1,
            params: [1, -1, 0, 2, -2, 5, 0, 0, 0, -1, 1, 3,
                     1, -1, 0, 0, 0, 0, 2, -2, 1, 1, -1, -1, 0, 0, 0, 0, 3, -3, 1, -1,
                     1, 1, 1, 1, 1, 2, 0, 0, 0, -2],
            x: [1, 1, 0], y: [2, 1],
        },
    };

    function seedExample(name) {
        const s = SEEDS[name];
        return {
            name, x: new Float32Array(s.x), y: new Float32Array(s.y), n: 1, nIn: s.sizes[0],
            nOut: s.sizes[s.sizes.length - 1], kind: 'values', classes: 0, domain: null, seed: s,
        };
    }

    const GENERATED = {xor, circles, spirals, blobs, sine};

    // The data set a setup names (state.js): {data, n, noise, seed, classes}.
    function make(setup) {
        if (SEEDS[setup.data]) return seedExample(setup.data);
        const gen = GENERATED[setup.data];
        if (!gen) return null;
        return gen(setup.n, setup.noise, generator(setup.seed * 7919 + 1), setup.classes);
    }

    return {
        make,
        isSeed: (name) => !!SEEDS[name],
        seeds: SEEDS,
        names: Object.keys(GENERATED),
    };
})();
