// boot.js - starts the dashboard's ES modules (app.js and what it imports) from a classic script.
// Mosquitto's http_dir server (2.0.11) sends no Content-Type, and browsers refuse a module script
// without a JavaScript MIME type ("Strict MIME type checking is enforced for module scripts"). So this
// fetches each module's text, points its `from './x.js'` imports at the modules loaded before it, and
// imports it from a blob: URL that carries the type. Served by any other web server, index.html could
// load app.js with <script type="module"> instead; the modules are the same.
(function () {
	'use strict';
	const loaded = new Map(); // file -> Promise of its blob: URL
	const IMPORT = /(\bfrom\s*|\bimport\s*)'\.\/([\w.-]+\.js)'/g;

	function load(file) {
		if (!loaded.has(file)) {
			loaded.set(file, fetch(file, { cache: 'no-cache' }).then((r) => {
				if (!r.ok)
					throw new Error(`${file}: HTTP ${r.status}`);
				return r.text();
			}).then(async (src) => {
				const deps = [...new Set([...src.matchAll(IMPORT)].map((m) => m[2]))];
				const urls = Object.fromEntries(await Promise.all(deps.map(async (d) => [d, await load(d)])));
				const code = src.replace(IMPORT, (m, kw, dep) => `${kw}'${urls[dep]}'`);
				return URL.createObjectURL(new Blob([`${code}\n//# sourceURL=${file}\n`], { type: 'text/javascript' }));
			}));
		}
		return loaded.get(file);
	}

	load('app.js').then((url) => import(url)).catch((e) => {
		const box = document.getElementById('error');
		if (box)
			box.textContent = `The dashboard could not start: ${e.message}`;
		console.error(e);
	});
}());
