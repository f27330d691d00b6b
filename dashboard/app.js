// app.js - the dashboard's wiring: reads the configuration, connects, loads every rack with
// $twin/search (page by page), then follows $twin/+/events; keeps the site/row filter (and the address
// bar) in step, re-reads the list and who is connected every refreshSeconds, and opens the detail.
import { loadConfig } from './config.js';
import { TwinApi } from './twinapi.js';
import { RackStore, RACK_FILTER, isRack, rackLevel, isStale } from './model.js';
import { TileGrid } from './tiles.js';
import { Detail } from './detail.js';

const cfg = loadConfig();
const api = new TwinApi(cfg.broker, { username: cfg.username, password: cfg.password });
const store = new RackStore();
const filter = { site: cfg.site, row: cfg.row };
const $ = (sel) => document.querySelector(sel);

const grid = new TileGrid($('#grid'), cfg, (id) => detail.open(id));
const detail = new Detail($('#detail'), api, store, cfg);

let loading = true;
let buffered = []; // events that arrive while a search is running

function setConn(state, text) {
	const c = $('#conn');
	c.dataset.state = state;
	c.textContent = text;
}

function renderFilters() {
	const fill = (sel, values, current, all) => {
		const s = $(sel);
		s.replaceChildren(new Option(all, ''));
		for (const v of values)
			s.append(new Option(v, v));
		if (current && !values.includes(current))
			s.append(new Option(current, current));
		s.value = current;
	};
	fill('#site', store.sites(), filter.site, 'all sites');
	fill('#row', store.rows(filter.site), filter.row, 'all rows');
}

function renderSummary(racks) {
	const n = (pred) => racks.filter(pred).length;
	const crit = n((t) => rackLevel(t, cfg) === 'crit');
	const warn = n((t) => rackLevel(t, cfg) === 'warn');
	const stale = n((t) => isStale(t, cfg));
	const off = n((t) => t.connected === false);
	$('#summary').textContent = `${racks.length} racks · ${crit} critical · ${warn} warning · ${stale} stale · ${off} disconnected`;
}

function renderAll() {
	renderFilters();
	const racks = store.visible(filter);
	grid.render(racks);
	renderSummary(racks);
}

// Time passes: staleness and "seen … ago" change without any event.
function refreshTiles() {
	const racks = store.visible(filter);
	for (const t of racks)
		grid.update(t, false);
	renderSummary(racks);
}

async function fetchOne(id) {
	const a = await api.get(id);
	if (a.status === 200 && isRack(a.body))
		store.put(a.body);
	renderAll();
}

function handleEvent(ev) {
	const before = store.twins.get(ev.id);
	const placeBefore = before ? JSON.stringify([before.attributes?.site, before.attributes?.row]) : null;
	const r = store.applyEvent(ev);
	if (r === 'gap' || (r === 'unknown' && isRack({ reported: ev.reported || {} }))) {
		fetchOne(ev.id);
	} else if (r === 'removed') {
		renderAll();
	} else if (r === 'changed') {
		const t = store.twins.get(ev.id);
		const moved = JSON.stringify([t.attributes?.site, t.attributes?.row]) !== placeBefore;
		const shouldShow = store.visible(filter).some((x) => x.id === ev.id);
		if (moved || shouldShow !== grid.has(ev.id))
			renderAll();
		else if (shouldShow)
			grid.update(t);
		renderSummary(store.visible(filter));
	}
	detail.onEvent(ev);
}

api.onEvent((ev) => {
	if (loading)
		buffered.push(ev);
	else
		handleEvent(ev);
});

// Every rack again (search), then the events that came meanwhile; the first run shows the page.
async function load() {
	loading = true;
	try {
		const items = await api.searchAll(RACK_FILTER, cfg.pageSize);
		store.replaceAll(items);
		$('#error').textContent = '';
	} catch (e) {
		$('#error').textContent = `Could not load the racks: ${e.message}`;
	} finally {
		loading = false;
		const evs = buffered;
		buffered = [];
		renderAll();
		for (const ev of evs)
			handleEvent(ev);
	}
	document.body.dataset.ready = 'true';
	document.body.dataset.loads = String(Number(document.body.dataset.loads || 0) + 1);
	presence();
}

// Who is connected: a get with fields per rack (search answers carry no `connected`), 16 at a time.
async function presence() {
	const ids = [...store.twins.keys()];
	const work = async () => {
		while (ids.length) {
			const id = ids.shift();
			const a = await api.get(id, ['connected', 'lastSeen']);
			const t = store.twins.get(id);
			if (a.status !== 200 || !t)
				continue;
			t.connected = a.body.connected;
			if (typeof a.body.lastSeen === 'number')
				t.lastSeen = Math.max(t.lastSeen || 0, a.body.lastSeen);
			grid.update(t, false);
		}
	};
	await Promise.all(Array.from({ length: 16 }, work));
	renderSummary(store.visible(filter));
	document.body.dataset.presence = 'true';
}

function onFilter() {
	filter.site = $('#site').value;
	filter.row = $('#row').value;
	const url = new URL(window.location.href);
	for (const k of ['site', 'row']) {
		if (filter[k])
			url.searchParams.set(k, filter[k]);
		else
			url.searchParams.delete(k);
	}
	window.history.replaceState(null, '', url);
	renderAll();
}

$('#site').addEventListener('change', () => {
	$('#row').value = '';
	onFilter();
});
$('#row').addEventListener('change', onFilter);
$('#legend').textContent = `temperature: ≤ ${cfg.tempWarn} °C ok, ≤ ${cfg.tempCrit} °C warning, above critical · `
	+ `humidity: ${cfg.humidityLow}–${cfg.humidityHigh} % ok, ${cfg.humidityCritLow}–${cfg.humidityCritHigh} % warning, beyond critical · `
	+ `stale after ${cfg.staleSeconds} s`;

api.onStatus((state, d) => {
	if (state === 'connected') {
		setConn('connected', `connected to ${cfg.broker}`);
		if (d.reconnect)
			load(); // events were missed while offline
	} else if (state === 'connecting') {
		setConn('connecting', `connecting to ${cfg.broker}…`);
	} else if (state === 'offline') {
		setConn('offline', 'offline, reconnecting…');
	} else {
		setConn('error', `error: ${d.error}`);
	}
});

setInterval(refreshTiles, 5000);
if (cfg.refreshSeconds > 0)
	setInterval(() => !loading && load(), cfg.refreshSeconds * 1000);

window.twinDashboard = { cfg, api, store, filter }; // for the console and the browser test
api.connect().then(load);
