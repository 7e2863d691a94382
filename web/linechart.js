// linechart.js - the training curves: loss and accuracy against epochs, drawn as SVG so that
// the download is the same drawing.
//
//   LineChart.draw(svg, {title, xLabel, series: [{name, color, points: [[x, y], ...]}], yMin, yMax})
//
// Long histories are thinned to at most about 400 points per series (every k-th point,
// the last always kept); the CSV download keeps every point.
'use strict';

const LineChart = (() => {
    const NS = 'http://www.w3.org/2000/svg';
    const MARGIN = {left: 46, right: 10, top: 22, bottom: 28};

    function el(name, attrs, parent) {
        const e = document.createElementNS(NS, name);
        for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
        if (parent) parent.appendChild(e);
        return e;
    }

    function thin(points, most) {
        if (points.length <= most) return points;
        const k = Math.ceil(points.length / most), out = [];
        for (let i = 0; i < points.length; i += k) out.push(points[i]);
        if (out[out.length - 1] !== points[points.length - 1]) out.push(points[points.length - 1]);
        return out;
    }

    // Round tick values for [lo, hi].
    function ticks(lo, hi, count) {
        const span = hi - lo || 1, raw = span / count, mag = 10 ** Math.floor(Math.log10(raw));
        const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
        const list = [];
        for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) list.push(+v.toPrecision(12));
        return list;
    }

    const fmt = (v) => (Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(0) : String(+v.toPrecision(3)));

    function draw(svg, {title, xLabel, series, yMin, yMax}) {
        const W = +svg.getAttribute('width'), H = +svg.getAttribute('height');
        while (svg.firstChild) svg.removeChild(svg.firstChild);
        el('rect', {x: 0, y: 0, width: W, height: H, fill: '#fff'}, svg);
        el('text', {x: MARGIN.left, y: 14, 'font-size': 12, 'font-weight': 'bold', fill: '#333'}, svg).textContent = title;
        const pts = series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(y));
        if (!pts.length) return;
        let x0 = Math.min(...pts.map((p) => p[0])), x1 = Math.max(...pts.map((p) => p[0]));
        let y0 = yMin !== undefined ? yMin : Math.min(...pts.map((p) => p[1]));
        let y1 = yMax !== undefined ? yMax : Math.max(...pts.map((p) => p[1]));
        if (x1 <= x0) x1 = x0 + 1;
        if (y1 <= y0) y1 = y0 + 1;
        const sx = (x) => MARGIN.left + (x - x0) / (x1 - x0) * (W - MARGIN.left - MARGIN.right);
        const sy = (y) => H - MARGIN.bottom - (y - y0) / (y1 - y0) * (H - MARGIN.top - MARGIN.bottom);
        const axes = el('g', {'font-size': 10, fill: '#555'}, svg);
        for (const t of ticks(y0, y1, 4)) {
            el('line', {x1: MARGIN.left, x2: W - MARGIN.right, y1: sy(t), y2: sy(t), stroke: '#eee'}, axes);
            el('text', {x: MARGIN.left - 4, y: sy(t) + 3, 'text-anchor': 'end'}, axes).textContent = fmt(t);
        }
        for (const t of ticks(x0, x1, 5)) {
            el('text', {x: sx(t), y: H - MARGIN.bottom + 12, 'text-anchor': 'middle'}, axes).textContent = fmt(t);
        }
        el('text', {x: W - MARGIN.right, y: H - 4, 'text-anchor': 'end'}, axes).textContent = xLabel;
        let lx = MARGIN.left + 120;
        for (const s of series) {
            const p = thin(s.points.filter(([, y]) => Number.isFinite(y)), 400);
            if (!p.length) continue;
            el('polyline', {
                points: p.map(([x, y]) => `${sx(x).toFixed(1)},${sy(Math.max(y0, Math.min(y1, y))).toFixed(1)}`).join(' '),
                fill: 'none', stroke: s.color, 'stroke-width': 1.8, 'stroke-dasharray': s.dashed ? '4 3' : 'none',
            }, svg);
            el('text', {x: lx, y: 14, 'font-size': 10, fill: s.color}, svg).textContent = s.name;
            lx += 8 + 6 * s.name.length;
        }
    }

    return {draw};
})();
