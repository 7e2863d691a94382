// main.js - the wiring: controls to the setup (state.js), the setup to the engine's requests
// (engine.js), the engine's snapshots to the views (heatmap.js, network.js, linechart.js,
// stepview.js), and the play / pause / step / reset loop. Drawing happens once per animation
// frame and only when something new arrived, so the page stays responsive while the worker
// trains.
//
// window.playground is a small handle for the browser test (tests/web-test.mjs): it reads
// what the page shows and waits for the engine; it never computes anything itself.
'use strict';
/* global State, Datasets, Engine, Plane, LineChart, NetworkView, StepView, Exports */

(() => {
    const $ = (id) => document.getElementById(id);
    let engine = null, names = null;
    let setup = State.defaults();
    let data = null;        // {source (the generated set, or CSV facts), train, test, classNames, grid}
    let csv = null;         // {bytes, name}: the CSV file the user gave
    let model = null;       // the name of the .bpm file opened, while the network is still its own
    let info = null;        // the network's shape, as the engine reports it
    let view = null;        // the network diagram
    let snap = null;        // the latest snapshot
    let history = [];
    let playing = false, dirty = false, busy = Promise.resolve();
    let explanation = null, explainStep = 0;
    let frames = 0;         // animation frames so far (the browser test counts them)
    let chartsDrawn = 0, chartsPending = false;
    let lastError = '';
    // The settings of the network and trainer in use (NET_KEYS, dropout, TRAIN_KEYS), as the
    // library accepted them: the link names these, not a choice the library refused (which its
    // control marks).
    let inUse = null;
    // The user's own settings from before a seed example replaced them with its own (SEED_KEYS
    // and the data set they were on), given back on leaving the seed examples; null otherwise.
    let beforeSeed = null;

    // ------------------------------------------------------------------ messages

    function message(text, kind = 'warn') {
        const box = $('messages');
        if (kind === 'error') lastError = text;
        for (const old of box.querySelectorAll(`.msg.${kind}`)) if (old.dataset.text === text) old.remove();
        const div = document.createElement('div');
        div.className = `msg ${kind}`;
        div.dataset.text = text;
        div.textContent = text;
        const close = document.createElement('button');
        close.textContent = '×';
        close.title = 'dismiss';
        close.setAttribute('aria-label', 'dismiss this message');
        close.onclick = () => div.remove();
        div.prepend(close);
        box.appendChild(div);
        while (box.children.length > 4) box.firstChild.remove();
    }

    const clearErrors = () => $('messages').querySelectorAll('.msg.error').forEach((m) => m.remove());

    // One engine request at a time from the controls, in order; failures become messages.
    function queue(task) {
        busy = busy.then(task).catch((e) => message(e.message, 'error'));
        return busy;
    }

    // ------------------------------------------------------------------ the setup

    function fillSelects() {
        for (const sel of document.querySelectorAll('select[data-names]')) {
            for (const n of names[sel.dataset.names]) {
                const o = document.createElement('option');
                o.value = o.textContent = n;
                sel.appendChild(o);
            }
        }
    }

    function writeControls() {
        for (const el of document.querySelectorAll('[data-key]')) {
            const k = el.dataset.key, v = setup[k];
            if (el.type === 'checkbox') el.checked = !!v;
            else if (State.FIELDS[k] && State.FIELDS[k][1] === 'auto') el.value = v === 0 ? '' : String(v); // '': the default
            else el.value = Array.isArray(v) ? v.join(',') : v;
        }
        for (const o of document.querySelectorAll('output[data-for]')) o.textContent = setup[o.dataset.for];
        const seed = Datasets.isSeed(setup.data), gen = !seed && setup.data !== 'csv';
        for (const el of document.querySelectorAll('.gen')) el.style.display = gen ? '' : 'none';
        $('csv-box').style.display = setup.data === 'csv' ? '' : 'none';
        for (const k of ['hidden', 'act', 'out', 'loss', 'bias'])
            document.querySelector(`[data-key=${k}]`).disabled = seed;
        document.querySelector('[data-key=classes]').parentElement.style.display = setup.data === 'blobs' ? '' : 'none';
        // The optimizers that train on the whole data set at once have no batch size.
        const full = FULL_BATCH[setup.opt];
        document.querySelector('[data-key=batch]').disabled = !!full;
        document.querySelector('[data-key=mom]').disabled = setup.opt !== 'momentum' && setup.opt !== 'nesterov';
        // RPROP's steps are its alone: their controls show only while it is the optimizer.
        for (const el of document.querySelectorAll('.rprop')) el.style.display = setup.opt === 'rprop' ? '' : 'none';
        $('opt-note').textContent = full || '';
    }

    // Why the batch size is off for the full-batch optimizers (the library sets their batch
    // to the whole data set whatever it is given: bp_trainer_create).
    const FULL_BATCH = {
        rprop: 'RPROP trains on the full batch: each weight\'s step grows while the sign of its gradient over ' +
               'the whole data set stays the same and shrinks when it flips, so it needs that gradient, not a ' +
               'mini-batch\'s. Its steps are its own (the first and the largest are set below): no learning rate.',
        lbfgs: 'L-BFGS trains on the full batch: each epoch is one iteration, a direction from the last 10 ' +
               'gradient differences, then a line search along it that evaluates the loss over the whole data set ' +
               'and needs the same loss each time it looks (so no mini-batches and no dropout). The line search ' +
               'picks the step: the learning rate is only the step view\'s update. It stops once converged.',
    };

    // The settings that make the network, and those a seed's worked example sets for itself.
    const NET_KEYS = ['hidden', 'act', 'out', 'loss', 'bias', 'initRange'];
    const SEED_KEYS = ['hidden', 'act', 'out', 'loss', 'bias', 'lr'];
    const TRAIN_KEYS = ['opt', 'lr', 'mom', 'batch', 'wd', 'rpropStep0', 'rpropStepMax'];
    const pick = (o, keys) => Object.fromEntries(keys.map((k) => [k, Array.isArray(o[k]) ? o[k].slice() : o[k]]));

    // The setup a link carries: the network in use (not a refused choice), and on a seed's
    // example the user's own settings, which the example's data set implies away.
    function linkSetup() {
        const s = Object.assign({}, setup, inUse || {});
        if (Datasets.isSeed(setup.data) && beforeSeed) Object.assign(s, pick(beforeSeed, SEED_KEYS));
        return s;
    }

    // Leaving the seed examples gives back the settings the user had before choosing one.
    // Returns the data set they were on before it (for the classes / values switch).
    function leaveSeed(before) {
        if (!Datasets.isSeed(before) || !beforeSeed) return before;
        Object.assign(setup, pick(beforeSeed, SEED_KEYS));
        const was = beforeSeed.data;
        beforeSeed = null;
        return was;
    }

    // A control whose choice the library refused: marked invalid, with the library's message
    // beside it, until a network (or, for a trainer setting, a trainer; for the dropout, the
    // dropout) is made again. Its value stays, so that the next change (the loss that goes with
    // a new output, another optimizer than L-BFGS) can complete a valid combination.
    function markInvalid(k, text) {
        const el = document.querySelector(`[data-key=${k}]`), label = el.closest('label');
        el.classList.add('invalid');
        el.setAttribute('aria-invalid', 'true');
        let note = label.querySelector('.invalid-note');
        if (!note) {
            note = document.createElement('span');
            note.className = 'invalid-note';
            note.id = `invalid-${k}`;
            note.setAttribute('role', 'alert');
            label.appendChild(note);
            el.setAttribute('aria-describedby', note.id);
        }
        note.textContent = `not applied: ${text}`;
    }

    // The marks of the given controls (all of them without keys) taken away.
    function clearInvalid(keys) {
        for (const el of document.querySelectorAll('[data-key].invalid')) {
            if (keys && !keys.includes(el.dataset.key)) continue;
            el.classList.remove('invalid');
            el.removeAttribute('aria-invalid');
            el.removeAttribute('aria-describedby');
            const note = el.closest('label').querySelector('.invalid-note');
            if (note) note.remove();
        }
    }

    // The control to mark when the library refused what a change of `k` asked for (at `stage`:
    // 'net', 'dropout' or 'trainer'); none for a network refused after a data change.
    function refusedControl(k, stage) {
        if (stage === 'net') return NET_KEYS.includes(k) ? k : null;
        if (stage === 'dropout') return 'dropout';
        return TRAIN_KEYS.includes(k) ? k : 'opt';
    }

    // A dropout the trainer in use refused (L-BFGS), which stays out of the network made until
    // a change lets the library take it (rebuild tries it again with each new trainer).
    const heldDropout = () => !!(inUse && inUse.dropout && inUse.dropout.join() !== setup.dropout.join());

    function saveFragment() {
        const frag = State.toFragment(linkSetup());
        window.history.replaceState(null, '', frag || location.pathname + location.search);
    }

    // Which rebuild a changed setting needs.
    const LEVEL = {data: 'data', n: 'data', noise: 'data', test: 'data', seed: 'data', classes: 'data',
                   csvTarget: 'data', csvTargets: 'data', hidden: 'net', act: 'net', out: 'net', loss: 'net',
                   bias: 'net', initRange: 'net', opt: 'trainer', rpropStep0: 'trainer', rpropStepMax: 'trainer', lr: 'trainer', mom: 'trainer', batch: 'trainer', wd: 'trainer',
                   dropout: 'dropout', color: 'view', showTest: 'view', pace: 'pace'};

    // The dropout the setup asks for, per hidden layer of the network it builds (null: none).
    const hiddenCount = () => (data && data.source.seed ? data.source.seed.sizes.length - 2 : setup.hidden.length);
    const dropoutList = (v = setup.dropout) => State.dropoutFor(v, hiddenCount());

    function onControl(el) {
        const k = el.dataset.key, v = State.parseField(k, el.type === 'checkbox' ? el.checked : el.value);
        if (v === undefined) {
            message(State.problem(k, el.value), 'error');
            writeControls();
            return;
        }
        const before = setup[k];
        if (k === 'dropout') {
            try {
                State.dropoutFor(v, hiddenCount());
            } catch (e) {
                message(e.message, 'error');
                writeControls();
                return;
            }
        }
        if (k === 'rpropStep0' || k === 'rpropStepMax') {
            try {
                State.rpropSteps(Object.assign({}, setup, {[k]: v}));
            } catch (e) {
                message(e.message, 'error');
                writeControls();
                return;
            }
        }
        if (k === 'data' && Datasets.isSeed(v) && !Datasets.isSeed(before) && !beforeSeed)
            beforeSeed = Object.assign(pick(setup, SEED_KEYS), {data: before});
        setup[k] = v;
        const from = k === 'data' && !Datasets.isSeed(v) ? leaveSeed(before) : before;
        // Switching between classes and values picks the output and loss that fit.
        if (k === 'data' && v !== 'csv') {
            const wasValues = from === 'sine', isValues = v === 'sine';
            if (wasValues !== isValues) Object.assign(setup, isValues ? {out: 'identity', loss: 'mse'} : {out: 'softmax', loss: 'ce'});
        }
        if (k === 'csvTarget') Object.assign(setup, v === 'values' ? {out: 'identity', loss: 'mse'} : {out: 'softmax', loss: 'ce'});
        writeControls();
        saveFragment();
        if (k === 'data' && v === 'csv' && !csv) {
            message('Choose a CSV file (or drop one on the page).');
            return;
        }
        // A network the library refuses (an output and a loss that do not go together) leaves
        // the old one in place and says why, beside the control too; the control keeps the
        // choice, so that the next change (the loss that goes with the new output) completes
        // it, and the link keeps the network in use.
        // The same for a trainer (L-BFGS on a network with dropout): the one in use stays.
        rebuild(LEVEL[k], (e, stage) => {
            const key = refusedControl(k, stage);
            if (key) markInvalid(key, e.message);
        });
    }

    function bindControls() {
        for (const el of document.querySelectorAll('[data-key]')) {
            el.addEventListener('change', () => onControl(el));
            if (el.type === 'range') el.addEventListener('input', () => {
                const o = document.querySelector(`output[data-for=${el.dataset.key}]`);
                if (o) o.textContent = el.value;
            });
        }
    }

    // ------------------------------------------------------------------ engine requests

    const enumOf = (list, name, what) => {
        const i = names[list].indexOf(name);
        if (i < 0) throw new Error(`unknown ${what} "${name}"`);
        return i;
    };

    async function sendData() {
        if (setup.data === 'csv') {
            if (!csv) throw new Error('no CSV file chosen');
            const r = await engine.request('csv', {
                bytes: csv.bytes.slice(), name: csv.name, target: setup.csvTarget === 'values' ? 1 : 0,
                nTargets: setup.csvTarget === 'values' ? setup.csvTargets : 0, testFraction: setup.test, seed: setup.seed,
            });
            const domain = Plane.domainOf(r.train);
            data = {source: {name: csv.name, kind: setup.csvTarget === 'values' ? 'values' : 'class', domain,
                             nIn: r.train.nIn, nOut: r.train.nOut}, train: r.train, test: r.test, classNames: r.classNames};
        } else {
            const d = Datasets.make(setup);
            if (!d) throw new Error(`unknown data set "${setup.data}"`);
            const r = await engine.request('data', {x: d.x, y: d.y, n: d.n, nIn: d.nIn, nOut: d.nOut,
                                                    testFraction: d.seed ? 0 : setup.test, seed: setup.seed});
            data = {source: d, train: r.train, test: r.test, classNames: r.classNames};
        }
        data.grid = Plane.gridFor(data.source);
    }

    async function sendNet() {
        const d = data.source, ex = d.seed;
        // A link that opens on a seed's example carries the user's own settings (linkSetup);
        // the data set they came from is the sine if those fit values.
        if (ex && !beforeSeed)
            beforeSeed = Object.assign(pick(setup, SEED_KEYS), {data: setup.out === 'identity' && setup.loss === 'mse' ? 'sine' : 'xor'});
        if (ex) Object.assign(setup, {hidden: ex.sizes.slice(1, -1), act: ex.hidden, out: ex.output, loss: ex.loss,
                                      bias: ex.bias, lr: ex.lr});
        const sizes = [d.nIn, ...setup.hidden, d.nOut];
        const held = heldDropout(), dropout = dropoutList(held ? inUse.dropout : setup.dropout);
        info = await engine.request('net', {
            sizes, hidden: enumOf('activations', setup.act, 'activation'), output: enumOf('activations', setup.out, 'activation'),
            loss: enumOf('losses', setup.loss, 'loss'), bias: setup.bias, seed: setup.seed, dropout, initRange: setup.initRange,
            params: ex ? new Float32Array(ex.params) : null,
        });
        inUse = Object.assign(inUse || {}, pick(setup, NET_KEYS), held ? {} : {dropout: setup.dropout.slice()});
        clearInvalid(held ? [...NET_KEYS, ...TRAIN_KEYS] : undefined);
        writeControls();
        saveFragment();
        buildView();
    }

    function trainerArgs() {
        const [rpropStep0, rpropStepMax] = setup.opt === 'rprop' ? State.rpropSteps(setup) : [0, 0];
        return {optimizer: enumOf('optimizers', setup.opt, 'optimizer'), lr: setup.lr,
                momentum: setup.opt === 'sgd' ? 0 : setup.mom, batch: setup.batch,
                weightDecay: setup.wd, seed: setup.seed, rpropStep0, rpropStepMax};
    }

    // A trainer the library refuses leaves the one in use (the worker keeps it, or makes it
    // again from the settings it last accepted for a new network).
    async function sendTrainer() {
        await engine.request('trainer', trainerArgs());
        inUse = Object.assign(inUse || {}, pick(setup, TRAIN_KEYS));
        clearInvalid(TRAIN_KEYS);
        saveFragment();
    }

    function buildView() {
        const inputNames = data && data.source.nIn === info.sizes[0] && data.source.nIn <= 3 ?
            Array.from({length: info.sizes[0]}, (_, i) => `x${i + 1}`) : [];
        view = NetworkView.build($('network'), info, inputNames);
    }

    async function refresh() {
        const s = await engine.request('snapshot', {grid: data && data.grid && data.source.nIn === info.sizes[0] ? data.grid : null,
                                                   grads: setup.color === 'grads'});
        accept(s, true);
    }

    // Rebuilds from the given level down: data, then the network, then the trainer. Resolves
    // to true when all of it was made; onRefused(error, stage) runs when the library refused
    // the network ('net'), the dropout ('dropout') or the trainer ('trainer').
    function rebuild(level, onRefused) {
        if (level === 'view') return queue(refresh);
        if (level === 'pace') return queue(async () => playing && engine.request('play', playArgs()));
        // A new trainer (another learning rate, optimizer, batch size) or another dropout keeps
        // training going, with the weights it has.
        const resume = playing && (level === 'trainer' || level === 'dropout');
        // A dropout refused with the trainer in use is tried again with each new trainer; if
        // still refused, the new trainer alone is made.
        const retry = level === 'trainer' && heldDropout();
        return queue(async () => {
            await pause();
            clearErrors();
            if (level === 'dropout' || retry) {
                try {
                    info = await engine.request('dropout', {dropout: dropoutList(), trainer: trainerArgs()});
                    inUse = Object.assign(inUse || {}, {dropout: setup.dropout.slice()});
                    clearInvalid(['dropout']);
                    buildView();
                    explanation = null;
                    $('steps-box').textContent = $('check-box').textContent = $('equations').textContent = '';
                } catch (e) {
                    if (onRefused) onRefused(e, 'dropout');
                    if (!retry) throw e;
                }
            }
            if (level === 'data') await sendData();
            // The network of a model file the user opened stays while the data still fits it
            // (a CSV opened after the model, another test fraction): it is what they came to see.
            const keepModel = level === 'data' && model && info && !data.source.seed &&
                data.source.nIn === info.sizes[0] && data.source.nOut === info.sizes[info.sizes.length - 1];
            if (keepModel) {
                buildView();
                history = [];
                explanation = null;
                $('steps-box').textContent = $('check-box').textContent = $('equations').textContent = '';
            } else if (level === 'data' || level === 'net') {
                try {
                    await sendNet();
                } catch (e) {
                    if (onRefused) onRefused(e, 'net');
                    throw e;
                }
                model = null;
                history = [];
                explanation = null;
                $('steps-box').textContent = $('check-box').textContent = $('equations').textContent = '';
            }
            // A trainer the library refuses (L-BFGS with dropout) still leaves the network drawn.
            try {
                await sendTrainer();
            } catch (e) {
                if (onRefused) onRefused(e, 'trainer');
                throw e;
            } finally {
                await refresh();
                notePlane();
            }
            if (resume) await play();
            return true;
        });
    }

    function notePlane() {
        const d = data && data.source;
        let note = '';
        if (d && !data.grid) note = `This data set has ${d.nIn} inputs: the plane needs 2 (or 1 input and 1 value).`;
        if (d && d.seed) note = `${d.seed.title}: one sample, the weights of the worked example. ` +
            'Step through it below, or train on it.';
        $('plane-note').textContent = note;
        $('plane-title').textContent = d && d.nIn === 1 ? 'The network\'s curve over the data' : 'Output over the input plane';
    }

    // ------------------------------------------------------------------ training

    // Steps per second for the chosen pace (0: as many as the engine manages).
    function playArgs() {
        const n = data && data.train ? data.train.n : 1, batch = (!FULL_BATCH[setup.opt] && setup.batch) || n;
        return {frameMs: 33, stepsPerSecond: setup.pace * Math.ceil(n / Math.min(batch, n))};
    }

    async function play() {
        if (playing) return;
        playing = true;
        $('play').textContent = '❚❚ pause';
        try {
            await engine.request('play', playArgs());
        } catch (e) {
            playing = false;
            $('play').textContent = '▶ train';
            throw e;
        }
    }

    async function pause() {
        if (!playing) return;
        playing = false;
        $('play').textContent = '▶ train';
        const s = await engine.request('pause');
        if (s) accept(s);
    }

    // Training stopped on its own: an error (a diverging run), or a note (L-BFGS converged).
    function onStopped(error, s, note) {
        playing = false;
        $('play').textContent = '▶ train';
        if (s) accept(s);
        if (error) message(error, 'error');
        if (note) message(note);
    }

    // A snapshot from the engine: remember it, add a point to the curves, draw next frame.
    function accept(s, fresh) {
        if (!s) return;
        snap = s;
        const n = data && data.train ? data.train.n : 1;
        const point = {
            epoch: s.epochs + s.samplesInEpoch / n, steps: s.steps,
            trainLoss: s.train ? s.train.loss : null, testLoss: s.test ? s.test.loss : null,
            trainAcc: s.train ? s.train.accuracy : null, testAcc: s.test ? s.test.accuracy : null,
        };
        if (fresh && s.steps === 0) history = [];
        const last = history[history.length - 1];
        if (!last || last.steps !== point.steps) history.push(point);
        else history[history.length - 1] = point;
        // A long run keeps every other point of its past, so the curves stay cheap to draw.
        if (history.length > 20000) history = history.filter((_, i) => i % 2 === 0 || i === history.length - 1);
        dirty = true;
    }

    // ------------------------------------------------------------------ drawing

    const num = (v, digits = 4) => (v === null || v === undefined ? '-' : Number.isFinite(v) ? v.toFixed(digits) : String(v));
    const pct = (v) => (v === null || v === undefined ? '-' : `${(100 * v).toFixed(1)}%`);

    function draw() {
        frames++;
        if (dirty && info) {
            dirty = false;
            $('epoch').textContent = snap.epochs;
            $('steps').textContent = snap.steps;
            $('train-loss').textContent = snap.train ? num(snap.train.loss) : '-';
            $('test-loss').textContent = snap.test ? num(snap.test.loss) : '-';
            $('train-acc').textContent = snap.train ? pct(snap.train.accuracy) : '-';
            $('test-acc').textContent = snap.test ? pct(snap.test.accuracy) : '-';
            const grid = data && data.grid && data.source.nIn === info.sizes[0] ? data.grid : null;
            NetworkView.update(view, snap, {color: setup.color, grid});
            const canvas = $('plane');
            if (grid && grid.inputs === 2) Plane.drawClassPlane(canvas, snap, grid, data, setup.showTest);
            else if (grid) Plane.drawCurve(canvas, snap, grid, data, setup.showTest);
            else canvas.getContext('2d').clearRect(0, 0, canvas.width, canvas.height);
            // The curves at most five times a second: they change little from frame to frame.
            const now = performance.now();
            if (now - chartsDrawn < 200) {
                chartsPending = true;
            } else {
                chartsDrawn = now;
                chartsPending = false;
                drawCharts();
            }
        } else if (chartsPending && performance.now() - chartsDrawn >= 200) {
            chartsDrawn = performance.now();
            chartsPending = false;
            drawCharts();
        }
        requestAnimationFrame(draw);
    }

    function drawCharts() {
        const pts = (key) => history.map((h) => [h.epoch, h[key]]).filter(([, v]) => v !== null);
        LineChart.draw($('loss-chart'), {title: 'loss', xLabel: 'epochs', series: [
            {name: 'training', color: '#0877bd', points: pts('trainLoss')},
            {name: 'test', color: '#f59322', points: pts('testLoss'), dashed: true}]});
        LineChart.draw($('acc-chart'), {title: 'accuracy', xLabel: 'epochs', yMin: 0, yMax: 1, series: [
            {name: 'training', color: '#0877bd', points: pts('trainAcc')},
            {name: 'test', color: '#f59322', points: pts('testAcc'), dashed: true}]});
    }

    // ------------------------------------------------------------------ step by step

    async function explain() {
        await pause();
        const set = $('explain-set').value, index = Math.max(1, Number($('explain-index').value) || 1) - 1;
        const text = await engine.request('explain', {set, index, lr: setup.lr});
        explanation = JSON.parse(text);
        explainStep = 0;
        $('equations').textContent = explanation.equations.join('\n');
        showStep();
    }

    function showStep() {
        if (!explanation) return;
        const count = StepView.render($('steps-box'), explanation, explainStep, (layer) => view && NetworkView.highlight(view, layer));
        if (explainStep !== 'all') explainStep = Math.max(0, Math.min(explainStep, count - 1));
    }

    async function gradcheck() {
        await pause();
        const set = $('explain-set').value, index = Math.max(1, Number($('explain-index').value) || 1) - 1;
        const r = await engine.request('gradcheck', {set, index, h: 1e-6});
        StepView.renderCheck($('check-box'), r);
        return r;
    }

    // ------------------------------------------------------------------ files

    // A file's bytes; gzip-compressed files are decompressed by the browser first (the
    // WebAssembly build of the library reads plain text only: web/zlib_shim.c).
    async function fileBytes(file) {
        let bytes = new Uint8Array(await file.arrayBuffer());
        if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
            if (typeof DecompressionStream !== 'function') throw new Error(`${file.name}: this browser cannot decompress gzip; decompress it first`);
            try {
                const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
                bytes = new Uint8Array(await new Response(stream).arrayBuffer());
            } catch (e) {
                throw new Error(`${file.name}: damaged gzip data (${e.message})`);
            }
        }
        return bytes;
    }

    async function openCsv(file) {
        const bytes = await fileBytes(file);
        const before = {csv, data: setup.data, setup: Object.assign({}, setup), beforeSeed};
        csv = {bytes, name: file.name};
        setup.data = 'csv';
        leaveSeed(before.data);
        if (before.data !== 'csv') Object.assign(setup, setup.csvTarget === 'values' ? {out: 'identity', loss: 'mse'} : {out: 'softmax', loss: 'ce'});
        writeControls();
        saveFragment();
        await rebuild('data');
        // A file the library refused leaves the page as it was.
        if (!data || data.source.name !== file.name) {
            csv = before.csv;
            setup = before.setup;
            beforeSeed = before.beforeSeed;
            writeControls();
            saveFragment();
        }
    }

    async function openModel(file) {
        const bytes = await fileBytes(file);
        await queue(async () => {
            await pause();
            clearErrors();
            const r = await engine.request('load', {bytes, name: file.name});
            info = r;
            model = file.name;
            Object.assign(setup, {hidden: r.sizes.slice(1, -1), act: r.hidden, out: r.output, loss: r.loss, bias: r.bias,
                                  dropout: State.dropoutValue(r.dropout)});
            inUse = Object.assign(inUse || {}, pick(setup, NET_KEYS), {dropout: setup.dropout.slice()});
            clearInvalid();
            writeControls();
            saveFragment();
            buildView();
            history = [];
            try {
                await sendTrainer();
            } catch (e) {
                markInvalid('opt', e.message);
                throw e;
            } finally {
                await refresh();
            }
            if (!data || data.source.nIn !== r.sizes[0] || data.source.nOut !== r.sizes[r.sizes.length - 1])
                message(`${file.name}: ${r.sizes.join('-')} network loaded. It takes ${r.sizes[0]} inputs and gives ` +
                        `${r.sizes[r.sizes.length - 1]} outputs; open a CSV with those columns to explain it on a sample.`);
            else message(`${file.name}: ${r.sizes.join('-')} network loaded.`);
        });
    }

    function bindFiles() {
        $('csv-file').addEventListener('change', (e) => e.target.files[0] && openCsv(e.target.files[0]).catch((x) => message(x.message, 'error')));
        $('model-file').addEventListener('change', (e) => e.target.files[0] && openModel(e.target.files[0]).catch((x) => message(x.message, 'error')));
        document.addEventListener('dragover', (e) => {
            e.preventDefault();
            document.body.classList.add('dragging');
        });
        document.addEventListener('dragleave', () => document.body.classList.remove('dragging'));
        document.addEventListener('drop', (e) => {
            e.preventDefault();
            document.body.classList.remove('dragging');
            const f = e.dataTransfer.files[0];
            if (!f) return;
            (f.name.endsWith('.bpm') ? openModel(f) : openCsv(f)).catch((x) => message(x.message, 'error'));
        });
        $('save-model').onclick = () => queue(async () => Exports.download('playground.bpm', await engine.request('save'), 'application/octet-stream'));
        $('save-data').onclick = () => queue(async () => Exports.download('playground-data.csv', await engine.request('dataCsv'), 'text/csv'));
        $('save-curves').onclick = () => Exports.download('playground-curves.csv', Exports.curvesCsv(history), 'text/csv');
        $('save-charts').onclick = () => Exports.download('playground-curves.svg', Exports.chartsSvg($('loss-chart'), $('acc-chart')), 'image/svg+xml');
        $('save-network').onclick = () => Exports.download('playground-network.svg', Exports.networkSvg($('network')), 'image/svg+xml');
        $('save-plane').onclick = async () => Exports.download('playground-plane.png', await Exports.canvasPng($('plane')), 'image/png');
    }

    // ------------------------------------------------------------------ start

    function bindButtons() {
        $('play').onclick = () => queue(() => (playing ? pause() : play()));
        $('step').onclick = () => queue(async () => {
            await pause();
            const s = await engine.request('step', {steps: 1});
            accept(s);
            if (s && s.note) message(s.note);
        });
        $('reset').onclick = () => rebuild('net');
        $('explain').onclick = () => queue(explain);
        $('explain-prev').onclick = () => { explainStep = explainStep === 'all' ? 0 : explainStep - 1; showStep(); };
        $('explain-next').onclick = () => { explainStep = explainStep === 'all' ? 0 : explainStep + 1; showStep(); };
        $('explain-all').onclick = () => { explainStep = 'all'; showStep(); };
        $('gradcheck').onclick = () => queue(gradcheck);
        $('share').onclick = async () => {
            saveFragment();
            try {
                await navigator.clipboard.writeText(location.href);
                message('The link to this setup is copied (it is also the address in the address bar).');
            } catch (e) {
                message(`The link to this setup is the page's address: ${location.href}`);
            }
        };
        document.addEventListener('keydown', (e) => {
            if (e.key === ' ' && !/INPUT|SELECT|TEXTAREA|BUTTON/.test(e.target.tagName)) {
                e.preventDefault();
                $('play').click();
            }
        });
    }

    // The browser test's handle (tests/web-test.mjs).
    function testHandle() {
        return {
            frames: () => frames,
            setup: () => Object.assign({}, setup),
            snapshot: () => snap,
            history: () => history.slice(),
            lastError: () => lastError,
            messages: () => Array.from(document.querySelectorAll('#messages .msg')).map((m) => m.dataset.text),
            idle: () => busy,
            playing: () => playing,
            // Every number the step view shows, in order, with its label: [[label, [values]]].
            stepNumbers: () => Array.from(document.querySelectorAll('#steps-box .term')).map((t) => [
                t.querySelector('.cap').textContent,
                Array.from(t.querySelectorAll('td[data-v]')).map((td) => (td.dataset.v === 'null' ? null : Number(td.dataset.v))),
            ]),
            explanation: () => explanation,
            info: () => info,
            request: (op, args) => engine.request(op, args),
        };
    }

    async function boot() {
        const {setup: s, problems} = State.fromFragment(location.hash);
        setup = s;
        // ?engine=simd128 runs the SIMD128 build where relaxed SIMD would be picked (engine.js).
        const kind = new URLSearchParams(location.search).get('engine');
        engine = Engine.start({onFrame: (x) => accept(x), onStopped, onFailure: (e) => message(e.message, 'error'), kind});
        document.body.dataset.engine = engine.kind;
        document.getElementById('engine-kind').textContent =
            engine.kind === 'relaxed-simd' ? 'WebAssembly SIMD with relaxed SIMD\'s fused multiply-add' : 'WebAssembly SIMD';
        try {
            names = await engine.request('init');
        } catch (e) {
            message(e.message, 'error');
            document.body.dataset.ready = 'failed';
            return;
        }
        fillSelects();
        bindControls();
        bindButtons();
        bindFiles();
        requestAnimationFrame(draw);
        window.playground = testHandle();
        await openLink(s, problems);
        document.body.dataset.ready = 'yes';
    }

    // The setup a link describes, with its problems reported. A network the library refuses
    // (a loss its output cannot have, dropout without hidden layers) is reported and the
    // default network for the data used instead, so that a link never leaves the page
    // without one.
    async function openLink(s, problems) {
        problems.push(...State.checkNames(s, names));
        if (s.data === 'csv' && !csv) {
            problems.push('The link names a CSV file, which a link cannot carry: choose the file to continue.');
            s.data = 'xor';
        }
        // Values to fit (the sine) with the default output and loss: the ones that fit values,
        // as choosing the data set in the page gives them.
        const values = s.data === 'sine' || (s.data === 'csv' && s.csvTarget === 'values'), d = State.defaults();
        if (values && s.out === d.out && s.loss === d.loss) Object.assign(s, {out: 'identity', loss: 'mse'});
        setup = s;
        beforeSeed = null;
        inUse = null;
        clearInvalid();
        for (const p of problems) message(p);
        writeControls();
        let refused = null, stage = null;
        await rebuild('data', (e, at) => ([refused, stage] = [e, at]));
        if (!refused) return;
        // A trainer the library refuses (L-BFGS with the link's dropout): the default trainer.
        if (stage === 'trainer') {
            for (const k of TRAIN_KEYS) setup[k] = d[k];
            clearInvalid();
            writeControls();
            saveFragment();
            await rebuild('trainer');
            message(`The link's trainer was refused (${refused.message}); the default trainer is used instead.`);
            return;
        }
        for (const k of ['hidden', 'act', 'out', 'loss', 'bias', 'initRange', 'dropout']) setup[k] = d[k];
        if (values) Object.assign(setup, {out: 'identity', loss: 'mse'});
        writeControls();
        saveFragment();
        await rebuild('net');
        message(`The link's network was refused (${refused.message}); the default network is used instead.`);
    }

    // The network view is drawn to its box's width, which follows the window's below 380 px
    // (a phone): drawn again when that width changes.
    window.addEventListener('resize', () => {
        if (!view || !info || view.svg.getAttribute('width') === String($('network').clientWidth || 380)) return;
        buildView();
        dirty = true;
    });

    window.addEventListener('hashchange', () => {
        if (!names) return; // the engine has not started: boot reads the link
        const {setup: s, problems} = State.fromFragment(location.hash);
        if (State.toFragment(s) === State.toFragment(linkSetup())) return;
        openLink(s, problems);
    });

    boot();
})();
