// browser_driver.cjs - headless Chromium for the Python end-to-end tests (test_dashboard.py), driven
// over stdin/stdout: one JSON request per line in, one JSON answer per line out. Uses playwright-core
// (path in PLAYWRIGHT_CORE) with Debian's chromium (CHROMIUM, default /usr/bin/chromium); never
// downloads a browser.
//
// Requests: {"id", "op": "open", "url", "context": {viewport, isMobile, ...}} (a new context and page;
// the previous one is closed), {"id", "op": "call", "method", "args"} (page[method](...args), e.g.
// click, fill, waitForSelector, waitForFunction, evaluate, screenshot; or of an object of the page:
// "keyboard.press"), {"id", "op": "logs"} (console
// messages and page errors so far), {"id", "op": "close"}.
// Answers: {"id", "ok": true, "value"} or {"id", "ok": false, "error"}.
'use strict';
const readline = require('readline');
const { chromium } = require(process.env.PLAYWRIGHT_CORE || 'playwright-core');

const FUNCTION_FIRST = ['evaluate', 'waitForFunction'];
const logs = [];
let browser = null;
let context = null;
let page = null;

function answer(msg) {
	process.stdout.write(`${JSON.stringify(msg)}\n`);
}

async function handle(req) {
	switch (req.op) {
	case 'open': {
		if (!browser) {
			browser = await chromium.launch({
				executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
				headless: true,
				args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
					'--disable-component-update', '--disable-sync'],
			});
		}
		if (context)
			await context.close();
		context = await browser.newContext(req.context || {});
		page = await context.newPage();
		page.setDefaultTimeout(req.timeout || 10000);
		page.on('console', (m) => logs.push(`console.${m.type()}: ${m.text()}`));
		page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
		page.on('requestfailed', (r) => logs.push(`requestfailed: ${r.url()} ${r.failure() ? r.failure().errorText : ''}`));
		await page.goto(req.url);
		return null;
	}
	case 'call': {
		const args = req.args || [];
		// a function given as text ("(n) => ...") is passed as a function: Playwright evaluates a
		// string as an expression, which would yield the function itself
		if (FUNCTION_FIRST.includes(req.method) && typeof args[0] === 'string')
			args[0] = new Function(`return (${args[0]});`)(); // eslint-disable-line no-new-func
		// a dotted method is one of the page's objects' ("keyboard.press", "mouse.click")
		const path = req.method.split('.');
		const name = path.pop();
		const target = path.reduce((o, k) => o[k], page);
		const value = await target[name](...args);
		// handles (waitForSelector, waitForFunction) do not cross the pipe
		return value && typeof value === 'object' && typeof value.dispose === 'function' ? true : value;
	}
	case 'logs':
		return logs.slice();
	case 'close':
		if (browser)
			await browser.close();
		browser = null;
		return null;
	default:
		throw new Error(`unknown op ${req.op}`);
	}
}

const rl = readline.createInterface({ input: process.stdin });
let chain = Promise.resolve();
rl.on('line', (line) => {
	chain = chain.then(async () => {
		let req;
		try {
			req = JSON.parse(line);
			answer({ id: req.id, ok: true, value: await handle(req) });
		} catch (e) {
			answer({ id: req ? req.id : null, ok: false, error: String(e && e.stack || e) });
		}
		if (req && req.op === 'close')
			process.exit(0);
	});
});
rl.on('close', () => chain.then(async () => {
	if (browser)
		await browser.close();
	process.exit(0);
}));
