// heatmap.js - the input plane: what the network outputs at every point of it (the decision
// boundary, or for one input the regression curve) with the data drawn over it, and each
// neuron's own output over the same plane, for the network diagram.
//
// The values are the engine's: a^l of every layer at the plane's sample points, from
// bp_net_forward and bp_net_layer_activations in the worker. This file only maps them to
// colours: class colours weighted by the outputs, and for single neurons a diverging scale
// (orange below zero, white at zero, blue above).
'use strict';

const Plane = (() => {
    const CLASS_COLORS = [[245, 147, 34], [8, 119, 189], [44, 160, 44], [148, 103, 189], [214, 39, 40]];
    const NEGATIVE = [245, 147, 34], POSITIVE = [8, 119, 189];

    const classColor = (k) => CLASS_COLORS[k % CLASS_COLORS.length];
    const css = ([r, g, b], a = 1) => `rgba(${r},${g},${b},${a})`;

    // v in [-1, 1] on the diverging scale.
    function diverging(v) {
        const t = Math.max(-1, Math.min(1, v)), end = t < 0 ? NEGATIVE : POSITIVE, w = Math.abs(t);
        return [255 + (end[0] - 255) * w, 255 + (end[1] - 255) * w, 255 + (end[2] - 255) * w];
    }

    // A size x size image from a colour per point, scaled onto the canvas. One scratch
    // canvas per size serves every call.
    const scratch = new Map();
    function paint(canvas, size, colorAt) {
        if (!scratch.has(size)) {
            const c = document.createElement('canvas');
            c.width = c.height = size;
            const ctx = c.getContext('2d');
            scratch.set(size, {c, ctx, img: ctx.createImageData(size, size)});
        }
        const {c: small, ctx: sctx, img} = scratch.get(size);
        for (let i = 0; i < size * size; i++) {
            const c = colorAt(i);
            img.data[4 * i] = c[0], img.data[4 * i + 1] = c[1], img.data[4 * i + 2] = c[2], img.data[4 * i + 3] = 255;
        }
        sctx.putImageData(img, 0, 0);
        const ctx = canvas.getContext('2d');
        ctx.imageSmoothingEnabled = true;
        ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
    }

    // The colour of one point from the K outputs there: the class colours mixed by the
    // outputs (clipped to [0, 1] and normalized), paler where the network is unsure.
    function outputColor(out, base, K) {
        if (K === 1) return diverging(2 * out[base] - 1);
        let sum = 0, best = 0;
        const p = new Array(K);
        for (let k = 0; k < K; k++) {
            p[k] = Math.max(0, Math.min(1, out[base + k]));
            sum += p[k];
        }
        const c = [0, 0, 0];
        for (let k = 0; k < K; k++) {
            const w = sum > 0 ? p[k] / sum : 1 / K;
            best = Math.max(best, w);
            const col = classColor(k);
            c[0] += w * col[0], c[1] += w * col[1], c[2] += w * col[2];
        }
        const sure = Math.max(0, Math.min(1, (best - 1 / K) / (1 - 1 / K))) * 0.75 + 0.1;
        return [255 + (c[0] - 255) * sure, 255 + (c[1] - 255) * sure, 255 + (c[2] - 255) * sure];
    }

    // Plane coordinates to canvas pixels.
    function mapper(canvas, domain) {
        const [x0, x1, y0, y1] = domain;
        return {
            px: (x) => (x - x0) / (x1 - x0) * canvas.width,
            py: (y) => (y1 - y) / (y1 - y0) * canvas.height,
        };
    }

    function drawPoints(canvas, data, domain, showTest) {
        const ctx = canvas.getContext('2d'), {px, py} = mapper(canvas, domain);
        const sets = [[data.train, false]];
        if (showTest && data.test) sets.push([data.test, true]);
        for (const [d, isTest] of sets) {
            for (let i = 0; i < d.n; i++) {
                let k = 0;
                for (let j = 1; j < d.nOut; j++) if (d.y[i * d.nOut + j] > d.y[i * d.nOut + k]) k = j;
                ctx.beginPath();
                ctx.arc(px(d.x[2 * i]), py(d.x[2 * i + 1]), 3.2, 0, 2 * Math.PI);
                ctx.fillStyle = css(classColor(k));
                ctx.fill();
                ctx.lineWidth = isTest ? 1.6 : 1;
                ctx.strokeStyle = isTest ? '#000' : '#fff';
                ctx.stroke();
            }
        }
    }

    // Two inputs: the output layer over the plane, then the data.
    function drawClassPlane(canvas, snap, grid, data, showTest) {
        const ctx = canvas.getContext('2d');
        ctx.fillStyle = '#fff';
        ctx.fillRect(0, 0, canvas.width, canvas.height);
        if (snap && snap.plane) {
            const out = snap.plane.layers[snap.plane.layers.length - 1], K = out.length / snap.plane.m;
            paint(canvas, grid.size, (i) => outputColor(out, i * K, K));
        }
        drawPoints(canvas, data, [grid.x0, grid.x1, grid.y0, grid.y1], showTest);
    }

    // One input, one output: the data and the network's curve y = a^L(x).
    function drawCurve(canvas, snap, grid, data, showTest) {
        const ctx = canvas.getContext('2d'), domain = [grid.x0, grid.x1, grid.y0, grid.y1];
        const {px, py} = mapper(canvas, domain);
        ctx.fillStyle = '#fff';
        ctx.fillRect(0, 0, canvas.width, canvas.height);
        ctx.strokeStyle = '#ddd';
        ctx.beginPath();
        ctx.moveTo(0, py(0)), ctx.lineTo(canvas.width, py(0));
        ctx.moveTo(px(0), 0), ctx.lineTo(px(0), canvas.height);
        ctx.stroke();
        const sets = [[data.train, '#0877bd']];
        if (showTest && data.test) sets.push([data.test, '#000']);
        for (const [d, color] of sets) {
            ctx.fillStyle = color;
            for (let i = 0; i < d.n; i++) {
                ctx.beginPath();
                ctx.arc(px(d.x[i]), py(d.y[i * d.nOut]), 2.5, 0, 2 * Math.PI);
                ctx.fill();
            }
        }
        if (!snap || !snap.plane) return;
        const out = snap.plane.layers[snap.plane.layers.length - 1], m = snap.plane.m, K = out.length / m;
        ctx.strokeStyle = '#f59322';
        ctx.lineWidth = 2.5;
        ctx.beginPath();
        for (let i = 0; i < m; i++) {
            const x = grid.x0 + (grid.x1 - grid.x0) * i / (m - 1);
            if (i) ctx.lineTo(px(x), py(out[i * K]));
            else ctx.moveTo(px(x), py(out[i * K]));
        }
        ctx.stroke();
    }

    // The scale of a layer's outputs: [-1, 1] for tanh, [0, 1] (centred) for sigmoid and
    // softmax, the largest magnitude on the plane otherwise.
    function neuronScale(values, act) {
        if (act === 'tanh') return {shift: 0, scale: 1};
        if (act === 'sigmoid' || act === 'softmax') return {shift: 0.5, scale: 2};
        let big = 1e-12;
        for (const v of values) big = Math.max(big, Math.abs(v));
        return {shift: 0, scale: 1 / big};
    }

    // Neuron j of a layer with n units, over the plane (two inputs) or as a curve (one).
    function drawNeuron(canvas, snap, grid, layer, j, act) {
        const values = snap.plane.layers[layer - 1], m = snap.plane.m, n = values.length / m;
        const {shift, scale} = neuronScale(values, act);
        const ctx = canvas.getContext('2d');
        if (grid.inputs === 2) {
            paint(canvas, grid.size, (i) => diverging((values[i * n + j] - shift) * scale));
            return;
        }
        ctx.fillStyle = '#fff';
        ctx.fillRect(0, 0, canvas.width, canvas.height);
        ctx.strokeStyle = '#0877bd';
        ctx.lineWidth = 1.5;
        ctx.beginPath();
        for (let i = 0; i < m; i++) {
            const v = (values[i * n + j] - shift) * scale, x = i / (m - 1) * canvas.width;
            const y = (1 - v) / 2 * canvas.height;
            if (i) ctx.lineTo(x, y);
            else ctx.moveTo(x, y);
        }
        ctx.stroke();
    }

    // The input plane's extent and resolution for a data set (null: nothing to draw).
    function gridFor(data) {
        if (!data || !data.domain) return null;
        const [x0, x1, y0, y1] = data.domain;
        if (data.nIn === 2) return {inputs: 2, x0, x1, y0, y1, size: 48};
        if (data.nIn === 1 && data.nOut === 1) return {inputs: 1, x0, x1, y0, y1, size: 120};
        return null;
    }

    // The extent of CSV data with two inputs (or one input and one target), with a margin.
    function domainOf(train) {
        if (!train || !train.n) return null;
        const cols = train.nIn === 2 ? [train.x, 2, 0, train.x, 2, 1] :
            train.nIn === 1 && train.nOut === 1 ? [train.x, 1, 0, train.y, 1, 0] : null;
        if (!cols) return null;
        const range = (arr, stride, off) => {
            let lo = Infinity, hi = -Infinity;
            for (let i = 0; i < train.n; i++) lo = Math.min(lo, arr[i * stride + off]), hi = Math.max(hi, arr[i * stride + off]);
            const pad = (hi - lo) * 0.1 || 1;
            return [lo - pad, hi + pad];
        };
        return [...range(cols[0], cols[1], cols[2]), ...range(cols[3], cols[4], cols[5])];
    }

    return {classColor, css, diverging, drawClassPlane, drawCurve, drawNeuron, gridFor, domainOf};
})();
