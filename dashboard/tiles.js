// tiles.js - the rack heat-map: one tile per rack, grouped by site and row, each reading coloured by
// its level, the tile's edge by the worst one, and stale or disconnected racks marked. Re-renders
// the whole grid when the set or the filter changes, and a single tile in place on an event.
import { READINGS, level, rackLevel, isStale, siteOf, rowOf } from './model.js';

const fmt = (v) => (typeof v === 'number' ? (Math.round(v * 10) / 10).toString() : '–');

export function ago(ms, now = Date.now()) {
	if (typeof ms !== 'number')
		return 'never';
	const s = Math.max(0, Math.round((now - ms) / 1000));
	if (s < 60)
		return `${s} s ago`;
	if (s < 3600)
		return `${Math.round(s / 60)} min ago`;
	if (s < 86400)
		return `${Math.round(s / 3600)} h ago`;
	return `${Math.round(s / 86400)} d ago`;
}

// A new element with a class and text (both optional).
export function el(tag, cls, text) {
	const e = document.createElement(tag);
	if (cls)
		e.className = cls;
	if (text !== undefined)
		e.textContent = text;
	return e;
}

// Fills (or refills) one tile element from its twin.
export function fillTile(tile, twin, cfg, now = Date.now()) {
	const lvl = rackLevel(twin, cfg);
	const stale = isStale(twin, cfg, now);
	const offline = twin.connected === false;
	tile.className = `tile lvl-${lvl}${stale ? ' stale' : ''}${offline ? ' offline' : ''}`;
	tile.dataset.id = twin.id;
	tile.dataset.level = lvl;
	tile.dataset.stale = String(stale);
	tile.dataset.connected = twin.connected === undefined ? 'unknown' : String(twin.connected);
	tile.replaceChildren();
	const head = el('span', 'tile-head');
	head.append(el('span', 'tile-id', twin.id));
	if (Object.keys(twin.delta || {}).length)
		head.append(el('span', 'badge pending', 'desired'));
	tile.append(head);
	const cells = el('span', 'cells');
	const rep = twin.reported || {};
	for (const r of READINGS) {
		const v = rep[r.field];
		const cell = el('span', `cell lvl-${level(r.kind, v, cfg)}`);
		cell.dataset.field = r.field;
		cell.title = `${r.field}: ${v === undefined ? 'not reported' : v}`;
		cell.append(el('span', 'cell-k', `${r.kind === 'temp' ? 'T' : 'RH'} ${r.place === 'top' ? '▲' : '▼'}`),
			el('span', 'cell-v', v === undefined ? '–' : `${fmt(v)}${r.unit}`));
		cells.append(cell);
	}
	tile.append(cells);
	const foot = el('span', 'tile-foot');
	if (stale)
		foot.append(el('span', 'badge stale', `stale · ${ago(twin.lastSeen, now)}`));
	if (offline)
		foot.append(el('span', 'badge offline', 'disconnected'));
	if (!stale && !offline)
		foot.append(el('span', 'seen', ago(twin.lastSeen, now)));
	tile.append(foot);
	tile.setAttribute('aria-label', `${twin.id}: ${lvl}${stale ? ', stale' : ''}${offline ? ', disconnected' : ''}`);
}

export class TileGrid {
	// root: the container; onOpen(id): a tile was chosen
	constructor(root, cfg, onOpen) {
		this.root = root;
		this.cfg = cfg;
		this.tiles = new Map(); // id -> element
		root.addEventListener('click', (e) => {
			const tile = e.target.closest('.tile');
			if (tile)
				onOpen(tile.dataset.id);
		});
	}

	render(racks) {
		this.tiles.clear();
		this.root.replaceChildren();
		if (!racks.length) {
			this.root.append(el('p', 'empty', 'No racks match.'));
			return;
		}
		let site = null;
		let row = null;
		let siteBox = null;
		let rowBox = null;
		for (const t of racks) {
			if (siteOf(t) !== site) {
				site = siteOf(t);
				row = null;
				siteBox = el('section', 'site');
				siteBox.dataset.site = site;
				siteBox.append(el('h2', '', `Site ${site}`));
				this.root.append(siteBox);
			}
			if (rowOf(t) !== row) {
				row = rowOf(t);
				const rowSec = el('div', 'row');
				rowSec.dataset.row = row;
				rowSec.append(el('h3', '', `Row ${row}`));
				rowBox = el('div', 'tiles');
				rowSec.append(rowBox);
				siteBox.append(rowSec);
			}
			const tile = el('button', 'tile');
			tile.type = 'button';
			fillTile(tile, t, this.cfg);
			rowBox.append(tile);
			this.tiles.set(t.id, tile);
		}
	}

	// Refills one tile (flashing it when `flash`); false when it is not shown.
	update(twin, flash = true) {
		const tile = this.tiles.get(twin.id);
		if (!tile)
			return false;
		fillTile(tile, twin, this.cfg);
		if (flash) {
			tile.classList.add('flash');
			setTimeout(() => tile.classList.remove('flash'), 600);
		}
		return true;
	}

	has(id) {
		return this.tiles.has(id);
	}
}
