// web-speed.mjs - the browser side of bench/web-speed.sh: the playground page in headless
// Chromium trains the digits network in its worker (web/worker.js, ops.benchmark) and this
// prints the worker's JSON line. Given PEAK.js as well (bench/web_peak.c built by emcc), it
// first times WebAssembly SIMD128's multiply-and-add chains in the same browser, the
// ceiling of any training step there, and adds peak_gflops (three runs of 1e8 steps each,
// after a warm-up that lets the engine compile the loop with its optimizing tier); given
// PEAK_FMA.js (the same built with relaxed SIMD's f32x4.relaxed_madd), peak_fma_gflops too.
// PAGE may carry the page's query: playground.html?engine=simd128 trains with the SIMD128
// engine where the browser would pick the relaxed-SIMD one. The line says which ran (engine).
//
//   node bench/web-speed.mjs PAGE DATA.csv SECONDS [PEAK.js [PEAK_FMA.js]]
import {chromium} from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

const [page, csv, seconds, peak, peakFma] = process.argv.slice(2);
const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'],
});
// GFLOP/s of bench/web_peak.c's chains (the module at file), three runs.
async function measurePeak(file) {
    const tab = await browser.newPage();
    await tab.addScriptTag({path: file});
    const runs = await tab.evaluate(async () => {
        /* global createPeak */
        const M = await createPeak(), iters = 1e8, runs = [];
        // The first calls run in the baseline tier; a call keeps the code it started in, so
        // short calls for half a second, pausing for the optimizing tier to finish, come first.
        for (const t0 = performance.now(); performance.now() - t0 < 500;) {
            M._web_peak_run(1e5);
            await new Promise((r) => setTimeout(r, 1));
        }
        for (let r = 0; r < 3; r++) {
            const t0 = performance.now();
            M._web_peak_run(iters);
            runs.push(iters * 12 * 8 / ((performance.now() - t0) / 1000) / 1e9);
        }
        return runs;
    });
    await tab.close();
    return runs.map((g) => +g.toFixed(1));
}

try {
    const peakGflops = peak ? await measurePeak(peak) : null;
    const peakFmaGflops = peakFma ? await measurePeak(peakFma) : null;
    const tab = await browser.newPage();
    await tab.goto('file://' + path.resolve(page));
    await tab.waitForFunction(() => document.body.dataset.ready === 'yes', null, {timeout: 20000});
    const bytes = Array.from(fs.readFileSync(csv));
    const r = await tab.evaluate(async ({bytes, seconds}) => {
        // The library's enum numbers: relu 3, softmax 5, cross-entropy 1 (backprop.h).
        return window.playground.request('benchmark', {
            bytes: new Uint8Array(bytes), sizes: [64, 128, 64, 10], hidden: 3, output: 5, loss: 1,
            lr: 0.1, batch: 64, seconds, seed: 1,
        });
    }, {bytes, seconds: Number(seconds)});
    const engine = await tab.evaluate(() => document.body.dataset.engine);
    const line = {samples_per_second: Math.round(r.samplesPerSecond), epochs: r.epochs, loss: r.loss, engine};
    if (peakGflops) line.peak_gflops = peakGflops;
    if (peakFmaGflops) line.peak_fma_gflops = peakFmaGflops;
    console.log(JSON.stringify(line));
} finally {
    await browser.close();
}
