// floormap.js - the floor map: one plan per site, a line per row and a column per position (the twins'
// attributes.site, .row, .position), each rack a cell whose upper half is the worst of its top readings
// and lower half the worst of its bottom ones; stale racks are hatched, disconnected ones outlined, racks
// with an active alarm ringed. A click (or Enter) opens the rack. The state filter dims the racks that
// do not match rather than leaving holes in the plan. Like the tiles (sections.js), a change touches only
// its own cell.
import { READINGS, siteOf, rowOf, positionOf } from './model.js';
import { unitOf } from './status.js';
import { el, fmt } from './dom.js';
import { RackSections } from './sections.js';

export function cellTitle(t, st, models) {
	const rep = t.reported || {};
	const values = READINGS.filter((r) => typeof rep[r.field] === 'number')
		.map((r) => `${r.field} ${fmt(rep[r.field])}${unitOf(r.field, t, models)}`);
	const marks = [st.cat !== 'ok' ? st.cat : '', st.stale && st.cat !== 'stale' ? 'stale' : '',
		st.offline && st.cat !== 'disconnected' ? 'disconnected' : '',
		...st.active.map((a) => `alarm ${a.name} (${a.severity})`)].filter(Boolean);
	const where = `row ${rowOf(t)}${positionOf(t) !== null ? ` · position ${positionOf(t)}` : ''}`;
	return `${t.id} · ${where}${marks.length ? ` · ${marks.join(', ')}` : ''}\n${values.join(' · ')}`;
}

export class FloorMap extends RackSections {
	// root: the container; ctx: {store, models, filter, open(id)}
	constructor(root, ctx) {
		super(root, ctx, 'fm-cell');
	}

	// Every rack of the site and row filter: the state filter only dims.
	filterOf() {
		return { site: this.ctx.filter.site, row: this.ctx.filter.row };
	}

	placeOf(t) {
		return `${super.placeOf(t)}\u0000${positionOf(t)}`;
	}

	make(t) {
		const cell = el('div', 'fm-cell');
		cell.dataset.id = t.id;
		cell.tabIndex = -1;
		cell.setAttribute('role', 'gridcell');
		const pos = positionOf(t);
		if (pos !== null) {
			const col = Math.max(1, Math.round(pos));
			cell.style.gridColumn = String(col);
			const s = this.sites.get(siteOf(t));
			if (col > s.cols) {
				s.cols = col;
				s.body.style.setProperty('--cols', String(col));
			}
		}
		return cell;
	}

	fill(cell, t) {
		const { store, filter, models } = this.ctx;
		const st = store.status.get(t.id);
		cell.className = `fm-cell top-${st.top} bottom-${st.bottom}${st.stale ? ' stale' : ''}${st.offline ? ' offline' : ''}`
			+ `${st.active.length ? ` alarm sev-${st.active[0].severity}` : ''}${filter.state && st.cat !== filter.state ? ' dim' : ''}`;
		cell.dataset.cat = st.cat;
		cell.dataset.top = st.top;
		cell.dataset.bottom = st.bottom;
		cell.title = cellTitle(t, st, models);
		cell.setAttribute('aria-label', cell.title.replace('\n', ': '));
	}

	// Cells go where their position says (grid-column), whatever their order in the row.
	before() {
		return null;
	}

	makeSite(name) {
		const sec = el('section', 'fm-site');
		sec.dataset.site = name;
		const grid = el('div', 'fm-grid');
		grid.setAttribute('role', 'grid');
		grid.setAttribute('aria-label', `Floor map of site ${name}: rows by positions`);
		grid.style.setProperty('--cols', '1');
		sec.append(el('h2', '', `Site ${name}`), grid);
		return { el: sec, body: grid, cols: 1 };
	}

	makeRow(name) {
		const line = el('div', 'fm-row');
		line.dataset.row = name;
		line.setAttribute('role', 'row');
		const box = el('div', 'fm-cells');
		line.append(el('span', 'fm-label', name), box);
		return { el: line, box };
	}
}
