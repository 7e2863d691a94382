// exports.js - what the page hands back to the user as files: the model (.bpm bytes that
// the engine wrote with bp_net_save), the data (CSV the engine wrote), the training curves
// as CSV, the plots as PNG or SVG. Files are offered through a temporary link's download.
'use strict';

const Exports = (() => {
    function download(name, data, type) {
        const blob = data instanceof Blob ? data : new Blob([data], {type});
        const url = URL.createObjectURL(blob);
        const a = document.createElement('a');
        a.href = url;
        a.download = name;
        document.body.appendChild(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10000);
    }

    // The curves, one row per recorded point; empty cells where a value does not apply.
    function curvesCsv(history) {
        const cell = (v) => (v === null || v === undefined || !Number.isFinite(v) ? '' : String(v));
        const lines = ['epoch,steps,train_loss,test_loss,train_accuracy,test_accuracy'];
        for (const h of history)
            lines.push([h.epoch, h.steps, h.trainLoss, h.testLoss, h.trainAcc, h.testAcc].map(cell).join(','));
        return lines.join('\n') + '\n';
    }

    const serialize = (svg) => '<?xml version="1.0" encoding="UTF-8"?>\n' + new XMLSerializer().serializeToString(svg);

    // The network diagram as one SVG: its edges, and each neuron's image embedded.
    function networkSvg(container) {
        const svg = container.querySelector('svg').cloneNode(true);
        const NS = 'http://www.w3.org/2000/svg';
        for (const node of container.querySelectorAll('.node')) {
            const img = document.createElementNS(NS, 'image');
            const x = parseFloat(node.style.left), y = parseFloat(node.style.top);
            img.setAttribute('x', x), img.setAttribute('y', y), img.setAttribute('width', 34), img.setAttribute('height', 34);
            img.setAttribute('href', node.querySelector('canvas').toDataURL('image/png'));
            svg.appendChild(img);
            const label = node.querySelector('span').textContent;
            if (label) {
                const t = document.createElementNS(NS, 'text');
                t.setAttribute('x', x - 24), t.setAttribute('y', y + 21), t.setAttribute('font-size', 12);
                t.textContent = label;
                svg.appendChild(t);
            }
        }
        return serialize(svg);
    }

    // Two charts side by side in one SVG.
    function chartsSvg(a, b) {
        const NS = 'http://www.w3.org/2000/svg', svg = document.createElementNS(NS, 'svg');
        const wa = +a.getAttribute('width'), wb = +b.getAttribute('width');
        svg.setAttribute('xmlns', NS);
        svg.setAttribute('width', wa + wb), svg.setAttribute('height', Math.max(+a.getAttribute('height'), +b.getAttribute('height')));
        const ga = document.createElementNS(NS, 'g'), gb = document.createElementNS(NS, 'g');
        gb.setAttribute('transform', `translate(${wa},0)`);
        for (const c of a.childNodes) ga.appendChild(c.cloneNode(true));
        for (const c of b.childNodes) gb.appendChild(c.cloneNode(true));
        svg.append(ga, gb);
        return serialize(svg);
    }

    const canvasPng = (canvas) => new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));

    return {download, curvesCsv, networkSvg, chartsSvg, canvasPng};
})();
