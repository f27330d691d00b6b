// app.js - the dashboard's wiring: reads the configuration, connects, loads every rack with $twin/search
// (only the fields the views need, presence included, page by page, drawn as the pages come), then
// follows $twin/+/events; re-reads who is connected every refreshSeconds; keeps the views, the filters,
// the summary and the address bar in step; opens the detail; acknowledges alarms.
// Drawing happens once per animation frame for all the changes since the last one: an event changes
// the store at once and marks its rack, and the frame hands the marked racks to the views on show.
// Load times and the delay of each event until its frame are kept in window.twinDashboard (the
// browser test reads them).
import { loadConfig, VIEWS, STATES } from './config.js';
import { TwinApi } from './twinapi.js';
import { RackStore, RACK_FILTER, RACK_FIELDS, PRESENCE_FIELDS, isRack } from './model.js';
import { statusOf } from './status.js';
import { Models } from './twinmodels.js';
import { AttentionList } from './attention.js';
import { FloorMap } from './floormap.js';
import { TileGrid } from './tiles.js';
import { AlarmPanel } from './alarms.js';
import { Detail } from './detail.js';
import { Wall } from './wall.js';
import { keyboard } from './keys.js';

const cfg = loadConfig();
const api = new TwinApi(cfg.broker, { username: cfg.username, password: cfg.password });
const filter = { site: cfg.site, row: cfg.row, state: cfg.state };
const $ = (sel) => document.querySelector(sel);

const models = new Models(api, () => touchAll(store.rateAll()));
const store = new RackStore((t, now) => statusOf(t, cfg, models, now));
const timings = []; // one per load: {reconnect, start, first, complete, pages, racks} (performance.now() ms)
const lags = []; // ms from an event's ts to the frame that drew it, the newest LAGS_KEPT
const LAGS_KEPT = 20000;
let loading = null; // the load under way
let loaded = false; // a load has finished: the summary can count
let buffered = []; // events for twins the load has not brought yet

const ctx = { store, models, filter, cfg, loading: () => loading !== null, open: (id) => detail.open(id), ack };
const views = {
	attention: new AttentionList($('#view-attention'), ctx),
	map: new FloorMap($('#view-map'), ctx),
	racks: new TileGrid($('#view-racks'), ctx),
	alarms: new AlarmPanel($('#view-alarms'), ctx),
};
const detail = new Detail($('#detail'), { api, cfg, models, statusOf: (t) => statusOf(t, cfg, models), ack });
const wall = new Wall(views.map, $('#wall-site'), cfg);
let current = cfg.view;

// ---- drawing, once per frame

const dirty = new Set(); // racks changed since the last frame
const drawn = new Set(); // views drawn for the current filter (the others are drawn when shown)
let eventTs = []; // ts of the events applied since the last frame
let afterFrame = []; // called once the next frame is drawn
let placesChanged = true; // the site and row menus may be out of date
let frameQueued = false;

function schedule() {
	if (frameQueued)
		return;
	frameQueued = true;
	if (document.hidden)
		setTimeout(frame, 250); // no animation frames in a hidden tab
	else
		requestAnimationFrame(frame);
}

function touch(id) {
	dirty.add(id);
	schedule();
}

function touchAll(ids) {
	for (const id of ids)
		dirty.add(id);
	schedule();
}

const shown = () => (wall.on ? ['map', 'attention'] : [current]);

function frame() {
	frameQueued = false;
	const ids = [...dirty];
	dirty.clear();
	if (placesChanged) {
		placesChanged = false;
		renderFilters();
	}
	const on = shown();
	for (const name of VIEWS) {
		if (!on.includes(name)) {
			if (ids.length)
				drawn.delete(name);
		} else if (!drawn.has(name)) {
			views[name].render();
			drawn.add(name);
		} else {
			views[name].update(ids); // with none: only what depends on the load (its notes)
		}
	}
	if (wall.on)
		wall.show(wall.site);
	renderSummary();
	const clock = Date.now();
	for (const ts of eventTs)
		lags.push(clock - ts);
	eventTs = [];
	if (lags.length > LAGS_KEPT)
		lags.splice(0, lags.length - LAGS_KEPT);
	const after = afterFrame;
	afterFrame = [];
	for (const fn of after)
		fn();
}

function whenDrawn(fn) {
	afterFrame.push(fn);
	schedule();
}

function redraw() {
	drawn.clear();
	schedule();
}

// What the user asked for (a view, a filter) is drawn at once, not at the next frame.
function drawNow() {
	frame();
}

// ---- header: connection, filters, summary

function setConn(state, text) {
	const c = $('#conn');
	c.dataset.state = state;
	c.textContent = text;
}

function renderFilters() {
	const fill = (sel, values, current, all) => {
		const s = $(sel);
		const sig = JSON.stringify([values, current]);
		if (s.dataset.sig === sig)
			return; // as it is: rebuilding a menu costs the page a style pass
		s.dataset.sig = sig;
		s.replaceChildren(new Option(all, ''));
		for (const v of values)
			s.append(new Option(v, v));
		if (current && !values.includes(current))
			s.append(new Option(current, current));
		s.value = current;
	};
	fill('#site', store.sites(), filter.site, 'all sites');
	fill('#row', store.rows(filter.site), filter.row, 'all rows');
	fill('#state', STATES, filter.state, 'any state');
}

const THOUSANDS = new Intl.NumberFormat('en-US');
const num = (n) => THOUSANDS.format(n).replace(/,/g, ' ');

// Counts of the racks in the site/row filter, only once every rack is in: a partial count would say
// something false ("0 racks", "3 critical" of 35).
function renderSummary() {
	const line = $('#summary');
	if (!loaded || (loading && !loading.reconnect)) {
		// how many so far, not "of how many": a count would cost the broker a scan of every twin
		line.textContent = `Loading racks… ${loading && loading.racks ? num(loading.racks) : ''}`.trim();
		line.dataset.state = 'loading';
		return;
	}
	const n = { racks: 0, critical: 0, warning: 0, stale: 0, disconnected: 0, alarms: 0 };
	const place = { site: filter.site, row: filter.row };
	for (const t of store.twins.values()) {
		if (!store.passes(t, place))
			continue;
		const st = store.status.get(t.id);
		n.racks++;
		if (st.cat !== 'ok')
			n[st.cat]++;
		n.alarms += st.active.length;
	}
	line.dataset.state = loading ? 'reloading' : 'complete';
	line.textContent = `${num(n.racks)} rack${n.racks === 1 ? '' : 's'} · ${num(n.critical)} critical · ${num(n.warning)} warning · `
		+ `${num(n.stale)} stale · ${num(n.disconnected)} disconnected · ${num(n.alarms)} active alarm${n.alarms === 1 ? '' : 's'}`
		+ (loading ? ' (reloading…)' : '');
	for (const k of ['critical', 'warning', 'stale', 'disconnected', 'racks'])
		line.dataset[k] = String(n[k]);
}

function setAddress() {
	const url = new URL(window.location.href);
	const keep = { ...filter, view: current === 'attention' ? '' : current, wall: wall.on ? '1' : '' };
	for (const [k, v] of Object.entries(keep)) {
		if (v)
			url.searchParams.set(k, v);
		else
			url.searchParams.delete(k);
	}
	window.history.replaceState(null, '', url);
}

function setView(name) {
	current = name;
	for (const v of VIEWS) {
		$(`#view-${v}`).hidden = !shown().includes(v);
		const tab = $(`#tab-${v}`);
		tab.setAttribute('aria-selected', String(v === name));
		tab.tabIndex = v === name ? 0 : -1;
	}
	setAddress();
	drawNow();
}

function onFilter() {
	filter.site = $('#site').value;
	filter.row = $('#row').value;
	filter.state = $('#state').value;
	setAddress();
	placesChanged = true;
	drawn.clear();
	drawNow();
}

function toggleWall(on = !wall.on) {
	if (on === wall.on)
		return;
	if (on)
		wall.start();
	else
		wall.stop();
	setView(current);
}

// ---- data: load, events, re-reads

// Reads twin ids again (a missed event, a twin not held yet, a delta that may have changed), a few at
// a time.
const rereads = new Set();
let reading = 0;

function reread(id) {
	rereads.add(id);
	pump();
}

function pump() {
	while (reading < 8 && rereads.size) {
		const id = rereads.values().next().value;
		rereads.delete(id);
		reading++;
		api.get(id, RACK_FIELDS).then((a) => {
			if (a.status === 200 && isRack(a.body)) {
				store.put(a.body);
				models.need(a.body.model, id);
			} else if (a.status === 404) {
				store.remove(id);
			}
			placesChanged = true;
			touch(id);
		}).finally(() => {
			reading--;
			pump();
		});
	}
}

function handleEvent(ev) {
	const r = store.applyEvent(ev);
	if (loading && (r === 'unknown' || r === 'gap')) {
		buffered.push(ev);
		return;
	}
	if (r === 'changed' || r === 'reread' || r === 'removed') {
		if (typeof ev.ts === 'number' && r !== 'removed')
			eventTs.push(ev.ts);
		if (ev.attributes || r === 'removed')
			placesChanged = true;
		touch(ev.id);
	}
	if (r === 'reread' || r === 'gap' || (r === 'unknown' && (ev.type === 'alarm' || isRack({ reported: ev.reported || {} }))))
		reread(ev.id);
	detail.onEvent(ev);
}

api.onEvent(handleEvent);

// Every rack again (search), drawn as the pages come; then the events that came for twins it had not
// brought yet. The first load shows the page; a reconnection loads again (events were missed).
async function load(reconnect = false) {
	const L = { reconnect, start: performance.now(), first: null, complete: null, pages: 0, racks: 0 };
	const at = Date.now(); // the racks of this load were in their state then (or earlier): one moment for all
	timings.push(L);
	loading = L;
	schedule();
	const seen = new Set();
	try {
		await api.search({ filter: RACK_FILTER, fields: RACK_FIELDS }, {
			limit: cfg.pageSize,
			firstLimit: cfg.firstPage,
			onPage: (items, n) => {
				for (const t of items) {
					seen.add(t.id);
					if (store.put(t, at))
						dirty.add(t.id);
					models.need(t.model, t.id);
				}
				L.pages++;
				L.racks = n;
				placesChanged = true;
				if (L.pages === 1)
					whenDrawn(() => { L.first = performance.now(); });
				schedule();
			},
		});
		for (const id of [...store.twins.keys()]) {
			if (!seen.has(id)) { // deleted meanwhile
				store.remove(id);
				touch(id);
			}
		}
		$('#error').textContent = '';
	} catch (e) {
		$('#error').textContent = `Could not load the racks: ${e.message}`;
	} finally {
		loading = null;
		loaded = true;
		const evs = buffered;
		buffered = [];
		for (const ev of evs)
			handleEvent(ev);
		placesChanged = true;
		touchAll([]); // the views' "loading" notes
		whenDrawn(() => {
			L.complete = performance.now();
			if (L.first === null)
				L.first = L.complete;
			document.body.dataset.ready = 'true';
			document.body.dataset.loads = String(timings.filter((x) => x.complete !== null).length);
		});
	}
}

// Who is connected and when each rack was last heard from: events carry neither.
async function refreshPresence() {
	if (loading)
		return;
	try {
		await api.search({ filter: RACK_FILTER, fields: PRESENCE_FIELDS }, {
			limit: cfg.pageSize,
			onPage: (items) => {
				for (const it of items) {
					const r = store.presence(it);
					if (r === 'changed')
						touch(it.id);
					else if (r === 'behind' || r === 'unknown')
						reread(it.id);
				}
			},
		});
	} catch (e) {
		// the next refresh tries again; a lost connection reloads everything anyway
	}
}

// Acknowledges an alarm; the button says so while the broker answers. The alarm event that follows
// updates every view; the answer already does, for a broker with events off.
async function ack(id, name, button) {
	if (button) {
		button.disabled = true;
		button.textContent = 'Acknowledging…';
	}
	const a = await api.ack(id, name);
	const cur = ((store.twins.get(id) || {}).alarms || {})[name];
	if (a.status === 200 && cur) {
		handleEvent({ type: 'alarm', id, name, ...cur, acked: true, ts: Date.now() });
	} else if (a.status !== 200) {
		$('#error').textContent = `Could not acknowledge ${name} of ${id}: ${a.status || 'no answer'} ${(a.body && a.body.error) || ''}`;
		if (button && button.isConnected) {
			button.disabled = false;
			button.textContent = 'Acknowledge';
		}
	}
}

// ---- controls

$('#site').addEventListener('change', () => {
	$('#row').value = '';
	onFilter();
});
$('#row').addEventListener('change', onFilter);
$('#state').addEventListener('change', onFilter);
for (const v of VIEWS)
	$(`#tab-${v}`).addEventListener('click', () => setView(v));
$('#wall-toggle').addEventListener('click', () => toggleWall(true));
keyboard($('#views'), {
	view: (v) => setView(v),
	wall: () => toggleWall(),
	unwall: () => toggleWall(false),
	detailOpen: () => detail.id !== null,
});
$('#legend').textContent = `Racks without a model — temperature: ≤ ${cfg.tempWarn} °C ok, ≤ ${cfg.tempCrit} °C warning, above critical · `
	+ `humidity: ${cfg.humidityLow}–${cfg.humidityHigh} % ok, ${cfg.humidityCritLow}–${cfg.humidityCritHigh} % warning, beyond critical · `
	+ 'racks with a model: coloured by their alarms (critical and major red, minor and warning amber) · '
	+ `stale after ${cfg.staleSeconds} s · floor map: upper half the top readings, lower half the bottom ones`;

api.onStatus((state, d) => {
	if (state === 'connected') {
		setConn('connected', `connected to ${cfg.broker}`);
		if (d.reconnect)
			load(true); // events were missed while offline
	} else if (state === 'connecting') {
		setConn('connecting', `connecting to ${cfg.broker}…`);
	} else if (state === 'offline') {
		setConn('offline', 'offline, reconnecting…');
	} else {
		setConn('error', `error: ${d.error}`);
	}
});

// time passes: staleness, and every "… ago"
setInterval(() => {
	touchAll(store.rateAll());
	for (const name of shown())
		views[name].tick?.();
}, 5000);
if (cfg.refreshSeconds > 0)
	setInterval(refreshPresence, cfg.refreshSeconds * 1000);

window.twinDashboard = { cfg, api, store, models, filter, timings, lags }; // for the console and the browser test
setView(current);
if (cfg.wall)
	toggleWall(true);
api.connect().then(() => {
	load();
	models.load();
});
