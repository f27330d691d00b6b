// sections.js - what the views that draw every rack (the tiles, the floor map) share: one element per
// rack, in a box per row, in a section per site, sites and rows in order. The whole is built once per
// filter (render); after that a change touches only its rack's element (update): a rack that appears,
// goes or moves is put into or taken out of its row, a row or site is made with its first rack and
// removed with its last one. A view extends it with how its site, row and rack elements look.
import { siteOf, rowOf, byText } from './model.js';
import { el } from './dom.js';

export class RackSections {
	// root: the container; ctx: {store, models, filter, open(id)}; itemClass: the class of a rack's
	// element (a click on one opens the rack)
	constructor(root, ctx, itemClass) {
		this.root = root;
		this.ctx = ctx;
		this.items = new Map(); // id -> {el, site, row, place}
		this.sites = new Map(); // site -> {el, body, rows: Map row -> {el, box}}
		root.addEventListener('click', (e) => {
			const item = e.target.closest(`.${itemClass}`);
			if (item)
				ctx.open(item.dataset.id);
		});
	}

	// ---- what a view says: the filter its racks pass, a rack's place (it moves when this changes),
	// its element, and the site and row elements
	filterOf() {
		return this.ctx.filter;
	}

	placeOf(t) {
		return `${siteOf(t)}\u0000${rowOf(t)}`;
	}

	render() {
		const { store } = this.ctx;
		this.items.clear();
		this.sites.clear();
		this.root.replaceChildren();
		for (const t of store.visible(this.filterOf()))
			this.insert(t, true);
		this.empty();
	}

	// The racks of these ids changed (or appeared, or went).
	update(ids) {
		const { store } = this.ctx;
		const filter = this.filterOf();
		for (const id of ids) {
			const t = store.twins.get(id);
			const shown = this.items.get(id);
			const show = t && store.passes(t, filter);
			if (shown && (!show || shown.place !== this.placeOf(t))) {
				this.take(id);
			} else if (shown) {
				this.fill(shown.el, t);
				continue;
			}
			if (show)
				this.insert(t, false);
		}
		this.empty();
	}

	siteNames() {
		return [...this.sites.keys()].sort(byText);
	}

	empty() {
		const none = this.items.size === 0;
		if (none && !this.root.querySelector(':scope > .empty'))
			this.root.append(el('p', 'empty', 'No racks match.'));
		else if (!none)
			this.root.querySelector(':scope > .empty')?.remove();
	}

	// Puts t's element into its row; `inOrder`: the racks come sorted (a whole render), so at the end.
	insert(t, inOrder) {
		const site = siteOf(t);
		const row = rowOf(t);
		const box = this.rowBox(site, row);
		const item = this.make(t);
		this.fill(item, t);
		box.insertBefore(item, inOrder ? null : this.before(box, t));
		this.items.set(t.id, { el: item, site, row, place: this.placeOf(t) });
	}

	take(id) {
		const { el: item, site, row } = this.items.get(id);
		this.items.delete(id);
		item.remove();
		const s = this.sites.get(site);
		const r = s.rows.get(row);
		if (!r.box.children.length) {
			r.el.remove();
			s.rows.delete(row);
		}
		if (!s.rows.size) {
			s.el.remove();
			this.sites.delete(site);
		}
	}

	// The box of a row, made (in site and row order) when it gets its first rack.
	rowBox(site, row) {
		let s = this.sites.get(site);
		if (!s) {
			s = { ...this.makeSite(site), rows: new Map() };
			this.sites.set(site, s);
			this.root.insertBefore(s.el, this.next(this.sites, site));
		}
		let r = s.rows.get(row);
		if (!r) {
			r = this.makeRow(row, s);
			s.rows.set(row, r);
			s.body.insertBefore(r.el, this.next(s.rows, row));
		}
		return r.box;
	}

	// The element of the first key of `map` that sorts after `key` (null: none, at the end).
	next(map, key) {
		let best = null;
		for (const k of map.keys())
			if (byText(k, key) > 0 && (best === null || byText(k, best) < 0))
				best = k;
		return best === null ? null : map.get(best).el;
	}
}
