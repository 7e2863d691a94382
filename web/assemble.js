// assemble.js - writes the playground's one HTML file from its parts (web/build.sh runs it).
//
//   node web/assemble.js WEB_DIR ENGINE_JS OUT_HTML
//
// index.html names its parts with two kinds of marker line:
//   <!-- style: style.css -->   replaced by a <style> element holding that file;
//   <!-- script: state.js -->   replaced by a <script> element holding that file.
// The worker's source (the Emscripten module ENGINE_JS followed by worker.js) goes in
// as one JavaScript string, WORKER_SOURCE, from which engine.js starts the worker
// through a Blob URL: that works from file://, where a worker script file cannot be
// loaded. Everything is inline, so the page needs no network and no second file.
'use strict';
const fs = require('fs');
const path = require('path');

const [webDir, engineJs, outHtml] = process.argv.slice(2);
if (!webDir || !engineJs || !outHtml) {
    console.error('usage: node web/assemble.js WEB_DIR ENGINE_JS OUT_HTML');
    process.exit(2);
}

// Text that may sit inside a <script> element: "</script" would end it early.
function scriptSafe(text) {
    return text.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

const read = (name) => fs.readFileSync(path.join(webDir, name), 'utf8');
const workerSource = fs.readFileSync(engineJs, 'utf8') + '\n' + read('worker.js');
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
