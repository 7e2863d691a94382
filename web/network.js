// network.js - the network diagram: one column of neurons per layer, each hidden and output
// neuron showing its own output over the input plane, each edge coloured by its weight
// W^l[j][i] (or, on the toggle, by dC/dW^l[j][i]): blue positive, orange negative, wider
// for larger magnitudes. Hovering an edge or a neuron shows its live values. A hidden layer
// with dropout says so under its neurons, which it draws with a dashed border.
//
// Parameters arrive as the engine's one block (for l = 1..L: W^l row by row, n_l x
// n_(l-1), then b^l), so offsets() is the whole of the layout knowledge here.
'use strict';

const NetworkView = (() => {
    const NS = 'http://www.w3.org/2000/svg';
    const NODE = 34, MOST = 10; // neuron size in pixels; neurons drawn per layer at most

    // Where W^l and b^l start in the parameter block.
    function offsets(sizes, bias) {
        const list = [null];
        let off = 0;
        for (let l = 1; l < sizes.length; l++) {
            const W = off;
            off += sizes[l] * sizes[l - 1];
            const b = bias ? off : -1;
            if (bias) off += sizes[l];
            list.push({W, b});
        }
        return list;
    }

    function fmt(v) {
        if (v === undefined || v === null || !Number.isFinite(v)) return String(v);
        return Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(3) : v.toFixed(4);
    }

    function build(container, info, inputNames) {
        container.textContent = '';
        const W = container.clientWidth || 380, sizes = info.sizes, L = sizes.length - 1;
        const shown = sizes.map((n) => Math.min(n, MOST));
        const H = Math.max(...shown) * (NODE + 12) + 40 + (info.dropout && info.dropout.some((p) => p > 0) ? 16 : 0);
        container.style.height = `${H}px`;
        const svg = document.createElementNS(NS, 'svg');
        svg.setAttribute('width', W), svg.setAttribute('height', H);
        svg.setAttribute('xmlns', NS);
        container.appendChild(svg);
        const colX = (l) => 30 + (W - 60 - NODE) * l / L;
        const rowY = (l, i) => 24 + i * (NODE + 12) + (Math.max(...shown) - shown[l]) * (NODE + 12) / 2;
        const view = {container, svg, info, offs: offsets(sizes, info.bias), edges: [], nodes: [], hover: null,
                      tip: document.createElement('div'), highlightLayer: null};
        view.tip.className = 'tip';
        view.tip.id = 'network-tip';
        view.tip.setAttribute('role', 'tooltip');
        container.appendChild(view.tip);

        const heads = [];
        // Edges first, so the neurons sit on top of them.
        for (let l = 1; l <= L; l++) {
            for (let j = 0; j < shown[l]; j++) {
                for (let i = 0; i < shown[l - 1]; i++) {
                    const x1 = colX(l - 1) + NODE, y1 = rowY(l - 1, i) + NODE / 2, x2 = colX(l), y2 = rowY(l, j) + NODE / 2;
                    const p = document.createElementNS(NS, 'path');
                    const mx = (x1 + x2) / 2;
                    p.setAttribute('d', `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`);
                    p.setAttribute('fill', 'none');
                    p.setAttribute('class', 'edge');
                    svg.appendChild(p);
                    const edge = {el: p, l, j, i};
                    p.addEventListener('mouseenter', (e) => showTip(view, edge, e));
                    p.addEventListener('mouseleave', () => hideTip(view));
                    view.edges.push(edge);
                }
            }
        }
        for (let l = 0; l <= L; l++) {
            const p = dropoutOf(info, l);
            for (let j = 0; j < shown[l]; j++) {
                const div = document.createElement('div');
                div.className = 'node' + (l === 0 ? ' input' : l === L ? ' output' : '') + (p > 0 ? ' dropout' : '');
                div.style.left = `${colX(l)}px`;
                div.style.top = `${rowY(l, j)}px`;
                const canvas = document.createElement('canvas');
                canvas.width = canvas.height = NODE;
                div.appendChild(canvas);
                const label = document.createElement('span');
                label.textContent = l === 0 ? (inputNames[j] || `x${j + 1}`) : '';
                div.appendChild(label);
                container.appendChild(div);
                const node = {el: div, canvas, l, j};
                div.addEventListener('mouseenter', (e) => showTip(view, node, e));
                div.addEventListener('mouseleave', () => hideTip(view));
                if (l > 0) {
                    // The keyboard's way to a neuron's values (Tab); a weight's are in the step view.
                    div.tabIndex = 0;
                    div.setAttribute('role', 'img');
                    div.setAttribute('aria-label', `layer ${l}, neuron ${j + 1}`);
                    div.setAttribute('aria-describedby', 'network-tip');
                    div.addEventListener('focus', () => showTip(view, node, null));
                    div.addEventListener('blur', () => hideTip(view));
                }
                view.nodes.push(node);
            }
            if (sizes[l] > shown[l]) {
                const more = document.createElement('div');
                more.className = 'more';
                more.style.left = `${colX(l)}px`;
                more.style.top = `${rowY(l, shown[l] - 1) + NODE + 2}px`;
                more.textContent = `+${sizes[l] - shown[l]} more`;
                container.appendChild(more);
            }
            const head = document.createElement('div');
            head.className = 'layer-name';
            head.style.left = `${colX(l) - 10}px`;
            head.names = l === 0 ? ['input', 'input', 'in'] : l === L ? [`output (${info.output})`, `out ${info.output}`, 'out']
                : [`layer ${l} (${info.hidden})`, `L${l} ${info.hidden}`, `L${l}`];
            head.textContent = head.title = head.names[0];
            heads.push(head);
            if (p > 0) {
                // Under the layer's neurons (and its "+N more"): the probability of dropping each.
                const tag = document.createElement('div');
                tag.className = 'drop-tag';
                tag.style.left = `${colX(l) - 6}px`;
                tag.style.top = `${rowY(l, shown[l] - 1) + NODE + (sizes[l] > shown[l] ? 16 : 3)}px`;
                tag.textContent = `dropout ${+p.toPrecision(6)}`;
                tag.dataset.dropout = String(p);
                tag.title = `while training, each unit of layer ${l} is dropped with probability ${+p.toPrecision(6)}`;
                container.appendChild(tag);
            }
            container.appendChild(head);
        }
        fitLayerNames(heads, W);
        return view;
    }

    // The layers' names in the longest form in which no two overlap (a narrow window, many
    // layers): "layer 1 (tanh)", then "L1 tanh", then "L1"; the full name stays the title.
    // In a box narrower than the full 380 px (a phone), the output layer's name ends at its
    // right edge at the latest; at full width it may run into the gap beside the view, as the
    // desktop layout has always had it.
    function fitLayerNames(heads, W) {
        const last = heads[heads.length - 1], x = last.offsetLeft, right = W < 380 ? W : Infinity;
        for (let form = 0; form < 3; form++) {
            for (const h of heads) h.textContent = h.names[form];
            last.style.left = `${Math.min(x, right - last.offsetWidth)}px`;
            let fits = true;
            for (let l = 0; l + 1 < heads.length; l++)
                fits = fits && heads[l].offsetLeft + heads[l].offsetWidth + 4 <= heads[l + 1].offsetLeft;
            if (fits) return form;
        }
        return 2;
    }

    // Hidden layer l's dropout probability p^l, as the engine reports it (0: none).
    const dropoutOf = (info, l) => (info.dropout && l >= 1 && l <= info.dropout.length ? info.dropout[l - 1] : 0);

    // The live values an edge or a neuron shows when hovered.
    function tipText(view, target) {
        const snap = view.snap, offs = view.offs, sizes = view.info.sizes;
        if (!snap) return '';
        if (target.i !== undefined) {
            const k = offs[target.l].W + target.j * sizes[target.l - 1] + target.i;
            let t = `W^${target.l}[${target.j + 1}][${target.i + 1}] = ${fmt(snap.params[k])}`;
            if (snap.grads) t += `\ndC/dW^${target.l}[${target.j + 1}][${target.i + 1}] = ${fmt(snap.grads[k])}`;
            return t;
        }
        if (target.l === 0) return `input x${target.j + 1}`;
        let t = `layer ${target.l}, neuron ${target.j + 1}`;
        const p = dropoutOf(view.info, target.l);
        if (p > 0) t += `\ndropped with probability ${+p.toPrecision(6)} while training (kept: a x ${+(1 / (1 - p)).toPrecision(6)})`;
        if (offs[target.l].b >= 0) {
            const k = offs[target.l].b + target.j;
            t += `\nb^${target.l}[${target.j + 1}] = ${fmt(snap.params[k])}`;
            if (snap.grads) t += `\ndC/db^${target.l}[${target.j + 1}] = ${fmt(snap.grads[k])}`;
        }
        if (snap.plane) {
            const vals = snap.plane.layers[target.l - 1], n = sizes[target.l];
            let lo = Infinity, hi = -Infinity;
            for (let i = target.j; i < vals.length; i += n) lo = Math.min(lo, vals[i]), hi = Math.max(hi, vals[i]);
            t += `\na^${target.l}[${target.j + 1}] over the plane: ${fmt(lo)} .. ${fmt(hi)}`;
        }
        return t;
    }

    // Beside the pointer, or below a neuron that has the keyboard's focus (e null).
    function showTip(view, target, e) {
        view.hover = target;
        const box = view.container.getBoundingClientRect();
        const at = e || (() => {
            const r = target.el.getBoundingClientRect();
            return {clientX: r.left, clientY: r.bottom};
        })();
        view.tip.style.left = `${Math.min(at.clientX - box.left + 12, Math.max(0, box.width - 200))}px`;
        view.tip.style.top = `${at.clientY - box.top + 12}px`;
        view.tip.textContent = tipText(view, target);
        view.tip.style.display = 'block';
    }

    function hideTip(view) {
        view.hover = null;
        view.tip.style.display = 'none';
    }

    // Colours and widths from a snapshot; the neurons' plane images when there is a plane.
    function update(view, snap, {color, grid}) {
        view.snap = snap;
        if (!snap) return;
        const values = color === 'grads' && snap.grads ? snap.grads : snap.params;
        const sizes = view.info.sizes, biggest = [0];
        for (let l = 1; l < sizes.length; l++) {
            let big = 1e-12;
            for (let k = view.offs[l].W, e = k + sizes[l] * sizes[l - 1]; k < e; k++) big = Math.max(big, Math.abs(values[k]));
            biggest.push(big);
        }
        for (const e of view.edges) {
            const v = values[view.offs[e.l].W + e.j * sizes[e.l - 1] + e.i], r = Math.min(1, Math.abs(v) / biggest[e.l]);
            e.el.setAttribute('stroke', Plane.css(v >= 0 ? [8, 119, 189] : [245, 147, 34], 0.25 + 0.75 * r));
            e.el.setAttribute('stroke-width', (0.5 + 4.5 * r).toFixed(2));
            e.el.dataset.value = String(v);
        }
        for (const n of view.nodes) {
            if (n.l > 0 && snap.plane && grid) {
                Plane.drawNeuron(n.canvas, snap, grid, n.l, n.j, n.l === sizes.length - 1 ? view.info.output : view.info.hidden);
            } else if (n.l === 0 && grid && grid.inputs === 2) {
                // The input itself over the plane: x1 grows to the right, x2 upwards.
                const ctx = n.canvas.getContext('2d'), N = n.canvas.width;
                for (let p = 0; p < N; p++) {
                    ctx.fillStyle = Plane.css(Plane.diverging(2 * (p + 0.5) / N - 1));
                    if (n.j === 0) ctx.fillRect(p, 0, 1, N);
                    else ctx.fillRect(0, N - 1 - p, N, 1);
                }
            }
            n.el.classList.toggle('lit', view.highlightLayer !== null && n.l === view.highlightLayer);
        }
        for (const e of view.edges) e.el.classList.toggle('lit', view.highlightLayer !== null && e.l === view.highlightLayer);
        if (view.hover) view.tip.textContent = tipText(view, view.hover);
    }

    // Lights up layer l (its neurons and its incoming edges), or nothing with null.
    function highlight(view, l) {
        view.highlightLayer = l;
        for (const n of view.nodes) n.el.classList.toggle('lit', l !== null && n.l === l);
        for (const e of view.edges) e.el.classList.toggle('lit', l !== null && e.l === l);
    }

    return {build, update, highlight, offsets};
})();
