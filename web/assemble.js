// assemble.js - writes the playground's one HTML file from its parts (web/build.sh runs it).
//
//   node web/assemble.js WEB_DIR ENGINE_JS PATCH_JSON OUT_HTML
//
// index.html names its parts with two kinds of marker line:
//   <!-- style: style.css -->   replaced by a <style> element holding that file;
//   <!-- script: state.js -->   replaced by a <script> element holding that file.
// The worker's source goes in as one JavaScript string, WORKER_SOURCE, from which
// engine.js starts the worker through a Blob URL: that works from file://, where a worker
// script file cannot be loaded. It holds the WebAssembly module (SINGLE_FILE's base64
// data URI, taken out of the Emscripten module ENGINE_JS into ENGINE_WASM), the relaxed-SIMD
// patch (PATCH_JSON, from web/relaxed-simd.js) as RELAXED_PATCH, web/wasm-patch.js, the
// Emscripten module, and worker.js. Everything is inline, so the page needs no network and
// no second file.
'use strict';
const fs = require('fs');
const path = require('path');

const [webDir, engineJs, patchJson, outHtml] = process.argv.slice(2);
if (!webDir || !engineJs || !patchJson || !outHtml) {
    console.error('usage: node web/assemble.js WEB_DIR ENGINE_JS PATCH_JSON OUT_HTML');
    process.exit(2);
}

// Text that may sit inside a <script> element: "</script" would end it early.
function scriptSafe(text) {
    return text.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

const read = (name) => fs.readFileSync(path.join(webDir, name), 'utf8');
// The module's one data URI keeps its prefix, so that Emscripten still takes it for an
// inline module and fetches nothing; worker.js hands the bytes over as wasmBinary.
const uri = /data:application\/octet-stream;base64,([A-Za-z0-9+\/=]+)/g;
const engine = fs.readFileSync(engineJs, 'utf8');
const modules = [...engine.matchAll(uri)];
if (modules.length !== 1) {
    console.error(`assemble.js: expected one base64 data URI in ${engineJs}, found ${modules.length}`);
    process.exit(1);
}
const patch = JSON.parse(fs.readFileSync(patchJson, 'utf8'));
const workerSource = `const ENGINE_WASM = ${JSON.stringify(modules[0][1])};\n` +
    `const RELAXED_PATCH = ${JSON.stringify(patch)};\n` + read('wasm-patch.js') + '\n' +
    engine.replace(uri, 'data:application/octet-stream;base64,') + '\n' + read('worker.js');
// JSON.stringify leaves "</script" and U+2028/2029 as they are; the first is escaped by
// scriptSafe, the other two are valid in JavaScript strings since ES2019.
const workerString = 'const WORKER_SOURCE = ' + JSON.stringify(workerSource) + ';';

let html = read('index.html');
html = html.replace(/^[ \t]*<!-- style: ([\w.-]+) -->$/gm, (_, name) => `<style>\n${read(name)}</style>`);
html = html.replace(/^[ \t]*<!-- script: ([\w.-]+) -->$/gm, (_, name) => {
    const text = name === 'worker-source' ? workerString : read(name);
    return `<script>\n${scriptSafe(text)}\n</script>`;
});
if (/<!-- (style|script): /.test(html)) {
    console.error('assemble.js: a marker in index.html was not replaced');
    process.exit(1);
}
fs.writeFileSync(outHtml + '.tmp', html);
fs.renameSync(outHtml + '.tmp', outHtml);
