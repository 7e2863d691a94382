// state.js - the page's setup: every control's value, its default, and the URL fragment
// that carries the whole setup, so that a configuration is shared as a link and reopens
// exactly (the same data, seed and network).
//
// The fragment lists only what differs from the defaults, as key=value pairs:
//   #data=spirals&hidden=8,8&act=tanh&lr=0.01
// A value that does not parse falls back to its default and is reported, never fatal.
// Dropout is one probability for every hidden layer (dropout=0.2) or one each
// (dropout=0.2,0.1), as the command line's --dropout. The initialization range and RPROP's
// steps take the command line's ranges (--init-range, --rprop-step0, --rprop-step-max); 0,
// or an empty control, is the library's default, so links made before they existed reopen
// as they did.
'use strict';

const State = (() => {
    // The data sets the page offers (datasets.js makes all but the CSV file).
    const DATA_SETS = ['xor', 'circles', 'spirals', 'blobs', 'sine', 'seed232', 'seed342', 'seed3452', 'csv'];
    // key: [default, kind, check, why]; kinds: 'int', 'num', 'str', 'list' (widths), 'probs'
    // (probabilities), 'bool', 'auto' (a number, 0 or empty for the library's default). why,
    // when given, says what a value that fails the check should be.
    const FIELDS = {
        data: ['xor', 'str', (v) => DATA_SETS.includes(v)],
        n: [400, 'int', (v) => v >= 4 && v <= 5000, (raw) => `points: "${raw}"; give a whole number from 4 to 5000`],
        noise: [0, 'num', (v) => v >= 0 && v <= 1, (raw) => `noise: "${raw}"; give a number from 0 to 1`],
        test: [0.5, 'num', (v) => v >= 0 && v < 1,
               (raw) => `test fraction: "${raw}"; give a number from 0 up to (not including) 1`],
        seed: [1, 'int', (v) => v >= 0 && v < 2 ** 31, (raw) => `seed: "${raw}"; give a whole number from 0 to 2147483647`],
        classes: [3, 'int', (v) => v >= 2 && v <= 5, (raw) => `classes: "${raw}"; give a whole number from 2 to 5`],
        csvTarget: ['class', 'str', (v) => v === 'class' || v === 'values'],
        csvTargets: [1, 'int', (v) => v >= 1 && v <= 100,
                     (raw) => `value columns: "${raw}"; give a whole number from 1 to 100`],
        hidden: [[4, 4], 'list', (v) => v.length <= 8 && v.every((w) => w >= 1 && w <= 256),
                 (raw) => `hidden layers: "${raw}"; give up to 8 widths from 1 to 256, separated by commas (empty: none)`],
        act: ['tanh', 'str'],
        out: ['softmax', 'str'],
        loss: ['ce', 'str'],
        bias: [true, 'bool'],
        opt: ['sgd', 'str'],
        lr: [0.03, 'num', (v) => v > 0 && v <= 10, (raw) => `learning rate: "${raw}"; give a number above 0, at most 10`],
        mom: [0.9, 'num', (v) => v >= 0 && v < 1, (raw) => `momentum: "${raw}"; give a number from 0 up to (not including) 1`],
        batch: [10, 'int', (v) => v >= 0 && v <= 5000, // 0: the full batch
                (raw) => `batch size: "${raw}"; give a whole number from 1 to 5000, or 0 for the whole data set`],
        wd: [0, 'num', (v) => v >= 0 && v <= 1, (raw) => `weight decay: "${raw}"; give a number from 0 to 1`],
        dropout: [[0], 'probs', (v) => v.length >= 1 && v.length <= 8 && v.every((p) => p >= 0 && p < 1),
                  (raw) => `dropout: "${raw}"; give one probability from 0 up to (not including) 1, or one per hidden layer`],
        // bp_net_config.init_range: 0 for He or Xavier, else every weight and bias uniform in [-r, r].
        // The library's words (bp_net_config_check) for one out of range.
        initRange: [0, 'auto', (v) => v >= 0 && v <= 1e30,
                    (raw) => `the initialization range is ${raw}; it must be a number from 0 (He or Xavier) to 1e30`],
        // bp_train_config.rprop_step0 and rprop_step_max (0: 0.1 and 50), for rprop only.
        rpropStep0: [0, 'auto', (v) => v === 0 || (v >= 1e-6 && v <= 1e30),
                     (raw) => `rprop's first step is ${raw}; it must be a number from 1e-6 to 1e30 (empty: the default, 0.1)`],
        rpropStepMax: [0, 'auto', (v) => v === 0 || (v >= 1e-6 && v <= 1e30),
                       (raw) => `rprop's largest step is ${raw}; it must be a number from 1e-6 to 1e30 (empty: the default, 50)`],
        color: ['weights', 'str', (v) => v === 'weights' || v === 'grads'],
        showTest: [false, 'bool'],
        pace: [100, 'int', (v) => v >= 0 && v <= 100000, // epochs per second while training; 0: no limit
               (raw) => `pace: "${raw}"; give a whole number of epochs a second from 1 to 100000, or 0 for no limit`],
    };

    function defaults() {
        const s = {};
        for (const [k, [d]] of Object.entries(FIELDS)) s[k] = Array.isArray(d) ? d.slice() : d;
        return s;
    }

    function parseValue(kind, text) {
        switch (kind) {
        case 'int': return /^-?\d+$/.test(text) ? Number(text) : NaN;
        case 'num': return text.trim() === '' ? NaN : Number(text);
        case 'auto': return text.trim() === '' || text.trim() === 'default' ? 0 : Number(text);
        case 'bool': return text === '1' || text === 'true' ? true : text === '0' || text === 'false' ? false : NaN;
        case 'list':
            if (text === '' || text === '-') return [];
            return text.split(',').map((w) => (/^\s*\d+\s*$/.test(w) ? Number(w) : NaN));
        case 'probs':
            return text.split(',').map((w) => (w.trim() === '' ? NaN : Number(w)));
        default: return text;
        }
    }

    function valid(kind, check, v) {
        if (kind === 'list') return v.every((w) => Number.isInteger(w)) && (!check || check(v));
        if (kind === 'probs') return v.every((p) => !Number.isNaN(p)) && (!check || check(v));
        if (kind === 'str') return typeof v === 'string' && v.length > 0 && (!check || check(v));
        if (kind === 'auto') return Number.isFinite(v) && (!check || check(v));
        return !Number.isNaN(v) && (!check || check(v));
    }

    function formatValue(kind, v) {
        if (kind === 'list') return v.length ? v.join(',') : '-';
        if (kind === 'probs') return v.join(',');
        if (kind === 'bool') return v ? '1' : '0';
        return String(v);
    }

    // A link's text decoded; null when its percent escapes are malformed ("%E0%A4%A").
    function decode(text) {
        try {
            return decodeURIComponent(text);
        } catch (e) {
            return null;
        }
    }

    // The setup a fragment ("#a=1&b=2") describes, and the problems found in it.
    function fromFragment(hash) {
        const s = defaults(), problems = [];
        const text = (hash || '').replace(/^#/, '');
        if (!text) return {setup: s, problems};
        for (const pair of text.split('&')) {
            if (!pair) continue;
            const eq = pair.indexOf('=');
            const key = decode(eq < 0 ? pair : pair.slice(0, eq));
            const raw = eq < 0 ? '' : decode(pair.slice(eq + 1));
            if (key === null || raw === null) {
                problems.push(`"${pair}" in the link is not valid percent-encoding; it is left out`);
                continue;
            }
            // Only the page's own settings: never a name every object has (__proto__, constructor).
            const f = Object.prototype.hasOwnProperty.call(FIELDS, key) ? FIELDS[key] : null;
            if (!f) {
                problems.push(`unknown setting "${key}" in the link`);
                continue;
            }
            const v = parseValue(f[1], raw);
            if (valid(f[1], f[2], v)) s[key] = v;
            else problems.push(`"${key}=${raw}" in the link is out of range; using ${formatValue(f[1], f[0])}`);
        }
        try {
            rpropSteps(s);
        } catch (e) {
            problems.push(`${e.message}; the link's steps are not used`);
            s.rpropStep0 = s.rpropStepMax = 0;
        }
        return {setup: s, problems};
    }

    // The settings whose values are the library's names (bp_activation_name and the like),
    // known once the engine has started: a value it does not have is reported and the
    // default used, as for a number out of range.
    const NAMED = {act: 'activations', out: 'activations', loss: 'losses', opt: 'optimizers'};
    function checkNames(s, names) {
        const problems = [];
        for (const [key, list] of Object.entries(NAMED)) {
            if (names[list].includes(s[key])) continue;
            problems.push(`"${key}=${s[key]}" in the link is not one of the library's ${list}; using ${FIELDS[key][0]}`);
            s[key] = FIELDS[key][0];
        }
        return problems;
    }

    // The fragment of a setup: what differs from the defaults.
    function toFragment(s) {
        const parts = [];
        for (const [k, [d, kind]] of Object.entries(FIELDS)) {
            const a = formatValue(kind, s[k]), b = formatValue(kind, d);
            if (a !== b) parts.push(`${k}=${encodeURIComponent(a)}`);
        }
        return parts.length ? '#' + parts.join('&') : '';
    }

    // One control's text as a value for key; undefined when it does not parse.
    function parseField(key, text) {
        const f = FIELDS[key];
        const v = f[1] === 'bool' ? !!text : parseValue(f[1], String(text));
        return valid(f[1], f[2], v) ? v : undefined;
    }

    // What is wrong with a control's text that parseField refused.
    function problem(key, text) {
        const why = FIELDS[key][3];
        return why ? why(String(text).trim()) : `${key}: "${text}" is not a valid value`;
    }

    // RPROP's first and largest step for the trainer (0: the library's default). Throws, with
    // the command line's words, when the first would be larger than the largest.
    function rpropSteps(s) {
        const first = s.rpropStep0 || 0.1, largest = s.rpropStepMax || 50;
        if (first > largest)
            throw new Error(`rprop's first step (${first}) is larger than its largest step (${largest}): ` +
                            'lower the first step or raise the largest');
        return [s.rpropStep0, s.rpropStepMax];
    }

    // The dropout of each of n hidden layers that a setup asks for: null for none, else n
    // probabilities. Throws, with the command line's words, when the count does not fit.
    function dropoutFor(v, n) {
        if (v.every((p) => p === 0)) return null;
        if (n === 0) throw new Error('dropout needs a hidden layer to drop units of');
        if (v.length === 1) return Array(n).fill(v[0]);
        if (v.length !== n)
            throw new Error(`dropout gives ${v.length} probabilities for ${n} hidden layer${n === 1 ? '' : 's'}; give one, or one each`);
        return v.slice();
    }

    // The shortest decimal that is the same float32 as p (a model stores 0.2 as 0.200000003).
    function shortest(p) {
        for (let digits = 1; digits < 9; digits++) {
            const v = Number(p.toPrecision(digits));
            if (Math.fround(v) === Math.fround(p)) return v;
        }
        return p;
    }

    // The setup's value for a network's per-layer dropout: one value when they are all alike.
    function dropoutValue(list) {
        const v = list.map(shortest);
        return !v.length ? [0] : v.every((p) => p === v[0]) ? [v[0]] : v;
    }

    return {FIELDS, defaults, fromFragment, checkNames, toFragment, parseField, problem, formatValue, rpropSteps,
            dropoutFor, dropoutValue};
})();
