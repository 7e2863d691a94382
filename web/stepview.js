// stepview.js - backpropagation step by step: one sample walked through the network, forward
// then backward, one layer at a time, each step the seed equation with the engine's numbers
// in it (docs/PLAYGROUND.md maps the steps to docs/backprop.md):
//
//   z^l = W^l a^(l-1) + b^l,  a^l = g(z^l),  C,  delta^L,
//   dC/dW^l = delta^l (a^(l-1))^T,  dC/db^l = delta^l,  delta^(l-1) = (W^l)^T delta^l (.) g'(z^(l-1)),
//   W^l <- W^l - eta dC/dW^l,
//
// and, for a hidden layer with dropout, what training does to it: a~^l = a^l (.) r^l / (1 - p^l)
// going forward and the same factors on delta^l coming back. The sample's numbers are those
// of inference, without dropout, as bp_net_explain gives them.
//
// Everything shown comes from one bp_net_explain JSON object (the library's text for each
// equation and its numbers), the same object `backprop explain --json` prints; nothing is
// computed here. Every number cell carries its exact value in data-v, which the browser
// test compares with the command line's.
'use strict';

const StepView = (() => {
    const MOST = 8; // rows and columns shown of a matrix; the rest is elided

    const fmt = (v) => (v === null ? 'NaN' : Math.abs(v) >= 1e5 || (Math.abs(v) < 1e-4 && v !== 0) ?
        v.toExponential(4) : String(+v.toPrecision(6)));

    // A matrix (rows of numbers) as a table; a vector as a column (or a row when asked).
    function table(rows, label, cls) {
        const t = document.createElement('table');
        t.className = 'mat ' + (cls || '');
        const shownRows = rows.length > MOST ? rows.slice(0, MOST - 1) : rows;
        for (const r of shownRows) {
            const tr = t.insertRow();
            const cells = r.length > MOST ? r.slice(0, MOST - 1) : r;
            for (const v of cells) {
                const td = tr.insertCell();
                td.textContent = fmt(v);
                td.dataset.v = v === null ? 'null' : String(v);
            }
            if (r.length > MOST) tr.insertCell().textContent = `… ${r.length - MOST + 1} more`;
        }
        if (rows.length > MOST) t.insertRow().insertCell().textContent = `… ${rows.length - MOST + 1} more rows`;
        const wrap = document.createElement('div');
        wrap.className = 'term';
        wrap.appendChild(t);
        const cap = document.createElement('div');
        cap.className = 'cap';
        cap.textContent = label;
        wrap.appendChild(cap);
        return wrap;
    }

    const column = (v, label) => table(v.map((x) => [x]), label, 'col');
    const row = (v, label) => table([v], label, 'row');
    const matrix = (m, label) => table(m, label, '');
    const transpose = (m) => m[0].map((_, j) => m.map((r) => r[j]));
    function op(text) {
        const s = document.createElement('div');
        s.className = 'op';
        s.textContent = text;
        return s;
    }
    function note(text) {
        const s = document.createElement('div');
        s.className = 'note';
        s.textContent = text;
        return s;
    }

    // bp_net_explain writes a one-row matrix as a plain vector: rows of W^l always.
    const rowsOf = (m, nRows) => (Array.isArray(m[0]) ? m : nRows === 1 ? [m] : m.map((v) => [v]));

    // The library's own line for an equation: the first line of its text starting with prefix.
    function line(eq, prefix) {
        const found = eq.find((l) => l.trimStart().startsWith(prefix));
        return found ? found.trim().replace(/\s{3,}/g, '   ') : prefix;
    }

    // The steps of one explanation: [{title, layer (to light up), equation, terms}].
    function steps(ex) {
        const net = ex.network, s = ex.sample, L = net.sizes.length - 1, eq = ex.equations, out = [];
        const lay = (l) => s.layers[l - 1];
        const W = (l) => rowsOf(lay(l).W, net.sizes[l]);
        const aPrev = (l) => (l === 1 ? s.x : lay(l - 1).a);
        const aName = (l) => (l === 1 ? 'a^0 = x' : `a^${l - 1}`);
        // p^l of hidden layer l (the JSON's network.dropout; absent without dropout).
        const drop = (l) => (net.dropout && l >= 1 && l < L ? net.dropout[l - 1] : 0);
        for (let l = 1; l <= L; l++) {
            const terms = [matrix(W(l), `W^${l}`), column(aPrev(l), aName(l))];
            if (net.bias) terms.push(op('+'), column(lay(l).b, `b^${l}`));
            terms.push(op('='), column(lay(l).z, `z^${l}`));
            out.push({title: `Forward, layer ${l}: the weighted input`, layer: l,
                      equation: line(eq, `z^${l} = W^${l}`), terms});
            out.push({title: `Forward, layer ${l}: the activation ${lay(l).activation}`, layer: l,
                      equation: line(eq, `a^${l} = `),
                      terms: [column(lay(l).z, `z^${l}`), op(`→ ${lay(l).activation} →`), column(lay(l).a, `a^${l}`)]});
            const p = drop(l);
            if (p > 0) {
                out.push({title: `Dropout on layer ${l}, while training only`, layer: l,
                          equation: `${line(eq, `a~^${l} = `)}\n${line(eq, `z^${l + 1} = W^${l + 1} a~^${l}`)}`,
                          terms: [row([p], `p^${l}`), column(lay(l).a, `a^${l}`),
                                  op(`(.) r^${l} / (1 - p^${l}) → a~^${l}`),
                                  note(`While training, each unit of layer ${l} is dropped (r^${l}_j = 0) with probability ` +
                                       `p^${l} and the kept ones are scaled by 1 / (1 - p^${l}) = ${fmt(1 / (1 - p))}, so ` +
                                       'the expected a~ is a and inference does nothing. The masks are drawn per step ' +
                                       'from the run\'s seed; the numbers in these steps are inference\'s, without ' +
                                       'dropout, as backprop explain shows them.')]});
            }
        }
        out.push({title: 'The cost of this sample', layer: L, equation: line(eq, 'C   ='),
                  terms: [column(lay(L).a, `a^${L}`), column(s.y, 'y'), op('→'), row([s.loss], 'C')]});
        out.push({title: `Backward: the output layer's delta^${L} = dC/dz^${L}`, layer: L,
                  equation: line(eq, `delta^${L} = `),
                  terms: [column(lay(L).a, `a^${L}`), column(s.y, 'y'), column(lay(L).z, `z^${L}`), op('→'),
                          column(lay(L).delta, `delta^${L}`)]});
        for (let l = L; l >= 1; l--) {
            const terms = [column(lay(l).delta, `delta^${l}`), row(aPrev(l), `(${aName(l)})^T`), op('='),
                           matrix(rowsOf(lay(l).dW, net.sizes[l]), `dC/dW^${l}`)];
            if (net.bias) terms.push(op(';'), column(lay(l).db, `dC/db^${l} = delta^${l}`));
            out.push({title: `Backward, layer ${l}: the gradient of W^${l}${net.bias ? ` and b^${l}` : ''}`, layer: l,
                      equation: line(eq, `dC/dW^${l} = delta^${l}`) +
                          (net.bias ? `;   ${line(eq, `dC/db^${l} = delta^${l}`)}` : ''), terms});
            if (l > 1) {
                const p = drop(l - 1);
                out.push({title: `Backward: delta flows from layer ${l} to layer ${l - 1}`, layer: l - 1,
                          equation: line(eq, `delta^${l - 1} = (W^${l})^T`) +
                              (p > 0 ? `\nwhile training, with dropout:   ${line(eq, `z^${l} = W^${l} a~^${l - 1}`)}` : ''),
                          terms: [matrix(transpose(W(l)), `(W^${l})^T`), column(lay(l).delta, `delta^${l}`),
                                  op(`(.) ${net.hidden}'(z^${l - 1}),`), column(lay(l - 1).z, `z^${l - 1}`), op('='),
                                  column(lay(l - 1).delta, `delta^${l - 1}`)]});
            }
        }
        if (s.learning_rate > 0 && lay(1).W_next) {
            const terms = [];
            for (let l = 1; l <= L; l++) {
                terms.push(matrix(rowsOf(lay(l).W_next, net.sizes[l]), `W^${l} after the step`));
                if (lay(l).b_next) terms.push(column(lay(l).b_next, `b^${l} after`));
            }
            out.push({title: `The update: gradient descent with eta = ${s.learning_rate}`, layer: null,
                      equation: line(eq, 'W^l <- W^l - eta dC/dW^l'), terms});
        }
        return out;
    }

    // Shows step k of an explanation in `box` (all steps when k is 'all').
    function render(box, ex, k, onLayer) {
        box.textContent = '';
        const list = steps(ex), which = k === 'all' ? list.map((_, i) => i) : [Math.max(0, Math.min(k, list.length - 1))];
        for (const i of which) {
            const st = list[i], sec = document.createElement('section');
            sec.className = 'step';
            const h = document.createElement('h4');
            h.textContent = `Step ${i + 1} of ${list.length}. ${st.title}`;
            const code = document.createElement('code');
            code.textContent = st.equation;
            const terms = document.createElement('div');
            terms.className = 'terms';
            for (const t of st.terms) terms.appendChild(t);
            sec.append(h, code, terms);
            box.appendChild(sec);
        }
        if (onLayer) onLayer(k === 'all' ? null : list[which[0]].layer);
        return list.length;
    }

    // The gradient check's result as a table. The thresholds are the command line's, but for
    // the reference against finite differences: Emscripten's C library computes long double
    // exp and log in double precision, so the differences are good to about 1e-6 here, not
    // the 1e-7 that `backprop gradcheck` asks of a native build.
    function renderCheck(box, r) {
        box.textContent = '';
        const REF_FD = 1e-6, BP_REF = 1e-4;
        const t = document.createElement('table');
        t.className = 'check';
        const head = t.insertRow();
        for (const h of ['block', 'backprop vs reference', 'reference vs finite differences']) {
            const th = document.createElement('th');
            th.textContent = h;
            head.appendChild(th);
        }
        let ok = r.scale > 0;
        for (const b of r.blocks) {
            const tr = t.insertRow();
            tr.insertCell().textContent = b.name;
            const c1 = tr.insertCell(), c2 = tr.insertCell();
            c1.textContent = b.backpropVsReference.toExponential(2);
            c2.textContent = b.referenceVsFiniteDifferences.toExponential(2);
            c1.className = b.backpropVsReference <= BP_REF ? 'pass' : 'fail';
            c2.className = b.referenceVsFiniteDifferences <= REF_FD ? 'pass' : 'fail';
            ok = ok && b.backpropVsReference <= BP_REF && b.referenceVsFiniteDifferences <= REF_FD;
        }
        const p = document.createElement('p');
        p.className = ok ? 'pass' : 'fail';
        p.textContent = (ok ? 'Agree: ' : 'Disagree: ') +
            `backprop's float32 gradient against the long-double reference (explicit Jacobians) within ${BP_REF}, ` +
            `the reference against central differences (h = ${r.h}) within ${REF_FD} (\`backprop gradcheck\` asks ` +
            `1e-7 of a native build; WebAssembly's long double exp and log are double precision)` +
            `${r.scale > 0 ? '' : '; the gradient is all zero, which would agree with anything'}.`;
        box.append(p, t);
        return ok;
    }

    return {render, renderCheck, steps};
})();
