// tiles.js - the racks view: one tile per rack, grouped by site and row (sections.js: built once per
// filter, then a change touches only its own tile), each reading with its value and unit coloured by
// its level, the tile's edge by the worst one, stale or disconnected racks and active alarms marked.
import { READINGS, compareRacks } from './model.js';
import { unitOf } from './status.js';
import { el, ago, fmt } from './dom.js';
import { RackSections } from './sections.js';

const KIND = { temp: 'T', humidity: 'RH' };
const PLACE = { top: '▲', bottom: '▼' };

// A tile's parts, made once and cloned for every tile (far cheaper than making each element anew for
// thousands of tiles): head (id, badges), a cell per reading (what, value), foot (marks).
const PROTO = (() => {
	const tile = el('button', 'tile');
	tile.type = 'button';
	const head = el('span', 'tile-head');
	head.append(el('span', 'tile-id'), el('span', 'badges'));
	const cells = el('span', 'cells');
	for (const r of READINGS) {
		const cell = el('span', 'cell');
		cell.dataset.field = r.field;
		cell.append(el('span', 'cell-k', `${KIND[r.kind]} ${PLACE[r.place]}`), el('span', 'cell-v'));
		cells.append(cell);
	}
	tile.append(head, cells, el('span', 'tile-foot'));
	return tile;
})();

// The tile's last line: stale (since when) and disconnected marks; empty for a rack that reports.
function fillFoot(foot, twin, st, now) {
	foot.replaceChildren();
	if (st.stale)
		foot.append(el('span', 'badge stale', `stale · ${ago(twin.lastSeen, now)}`));
	if (st.offline)
		foot.append(el('span', 'badge offline', 'disconnected'));
}

// Fills (or refills) a tile (a clone of PROTO) from its twin and status.
export function fillTile(tile, twin, st, models, now = Date.now()) {
	tile.className = `tile lvl-${st.level}${st.stale ? ' stale' : ''}${st.offline ? ' offline' : ''}`;
	tile.dataset.id = twin.id;
	tile.dataset.level = st.level;
	tile.dataset.cat = st.cat;
	tile.dataset.stale = String(st.stale);
	tile.dataset.connected = twin.connected === undefined ? 'unknown' : String(twin.connected);
	const [head, cells, foot] = tile.children;
	head.firstChild.textContent = twin.id;
	const badges = head.lastChild;
	badges.replaceChildren();
	if (st.active.length)
		badges.append(el('span', `badge alarm sev-${st.active[0].severity}`, `${st.active.length} alarm${st.active.length > 1 ? 's' : ''}`));
	if (Object.keys(twin.delta || {}).length)
		badges.append(el('span', 'badge pending', 'desired'));
	const rep = twin.reported || {};
	READINGS.forEach((r, i) => {
		const v = rep[r.field];
		const cell = cells.children[i];
		cell.className = `cell lvl-${st.cells[r.field]}`;
		cell.title = `${r.field}: ${v === undefined ? 'not reported' : v}`;
		cell.lastChild.textContent = v === undefined ? '–' : `${fmt(v)}${unitOf(r.field, twin, models)}`;
	});
	fillFoot(foot, twin, st, now);
	tile.setAttribute('aria-label', `${twin.id}: ${st.cat}${st.stale ? ', stale' : ''}${st.offline ? ', disconnected' : ''}`);
}

export class TileGrid extends RackSections {
	// root: the container; ctx: {store, models, filter, open(id)}
	constructor(root, ctx) {
		super(root, ctx, 'tile');
	}

	// Time passed: "stale · … ago" on the stale tiles (the rest changes only with the twin).
	tick() {
		const { store } = this.ctx;
		const now = Date.now();
		for (const [id, { el: tile }] of this.items) {
			const st = store.status.get(id);
			if (st.stale)
				fillFoot(tile.lastElementChild, store.twins.get(id), st, now);
		}
	}

	make() {
		return PROTO.cloneNode(true);
	}

	fill(tile, t) {
		const { store, models } = this.ctx;
		fillTile(tile, t, store.status.get(t.id), models);
	}

	// The tile a new rack goes before: the first one of its row that sorts after it.
	before(box, t) {
		const { store } = this.ctx;
		for (const other of box.children)
			if (compareRacks(t, store.twins.get(other.dataset.id)) < 0)
				return other;
		return null;
	}

	makeSite(name) {
		const sec = el('section', 'site');
		sec.dataset.site = name;
		sec.append(el('h2', '', `Site ${name}`));
		return { el: sec, body: sec };
	}

	makeRow(name) {
		const sec = el('div', 'row');
		sec.dataset.row = name;
		const box = el('div', 'tiles');
		sec.append(el('h3', '', `Row ${name}`), box);
		return { el: sec, box };
	}
}
