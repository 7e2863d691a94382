// web-speed.mjs - the browser side of bench/web-speed.sh: the playground page in headless
// Chromium trains the digits network in its worker (web/worker.js, ops.benchmark) and this
// prints the worker's JSON line.
//
//   node bench/web-speed.mjs PAGE DATA.csv SECONDS
import {chromium} from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

const [page, csv, seconds] = process.argv.slice(2);
const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'],
});
try {
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
    console.log(JSON.stringify({samples_per_second: Math.round(r.samplesPerSecond), epochs: r.epochs, loss: r.loss}));
} finally {
    await browser.close();
}
