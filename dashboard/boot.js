// boot.js - starts the dashboard's ES modules (app.js and what it imports) from a classic script.
// Mosquitto's http_dir server (2.0.11) sends no Content-Type, and browsers refuse a module script
// without a JavaScript MIME type ("Strict MIME type checking is enforced for module scripts"). So this
// takes each module's text from modules.json (make-site.sh packs them there: one request instead of
// twenty, each of which costs that server 0.2-0.3 s on an idle broker that nothing keeps turning),
// points its `from './x.js'` imports at the modules loaded before it, and imports it from a blob: URL
// that carries the type. Served by any other web server, index.html could load app.js with
// <script type="module"> instead; the modules are the same.
(function () {
	'use strict';
	const IMPORT = /(\bfrom\s*|\bimport\s*)'\.\/([\w.-]+\.js)'/g;
	// index.html preloads it (same request: no credentials beyond the origin's)
	const pack = fetch('modules.json').then((r) => {
		if (!r.ok)
			throw new Error(`modules.json: HTTP ${r.status}`);
		return r.json();
	});
	const loaded = new Map(); // file -> Promise of its blob: URL

	function load(file) {
		if (!loaded.has(file)) {
			loaded.set(file, pack.then(async (sources) => {
				const src = sources[file];
				if (typeof src !== 'string')
					throw new Error(`${file} is not in modules.json`);
				const deps = [...new Set([...src.matchAll(IMPORT)].map((m) => m[2]))];
				const urls = Object.fromEntries(await Promise.all(deps.map(async (d) => [d, await load(d)])));
				const code = src.replace(IMPORT, (m, kw, dep) => `${kw}'${urls[dep]}'`);
				return URL.createObjectURL(new Blob([`${code}\n//# sourceURL=${file}\n`], { type: 'text/javascript' }));
			}));
		}
		return loaded.get(file);
	}

	// app.js uses the MQTT.js bundle, a deferred script after this one: it has run by DOMContentLoaded
	const bundle = new Promise((resolve) => {
		if (window.mqtt)
			resolve();
		else
			document.addEventListener('DOMContentLoaded', resolve);
	});

	Promise.all([load('app.js'), bundle]).then(([url]) => import(url)).catch((e) => {
		const box = document.getElementById('error');
		if (box)
			box.textContent = `The dashboard could not start: ${e.message}`;
		console.error(e);
	});
}());
