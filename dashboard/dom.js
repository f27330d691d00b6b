// dom.js - the few DOM helpers every view shares: making elements, "x min ago", and a keyed list that
// puts rows in a given order while reusing each row's element (only rows whose content changed are
// filled again, only rows out of place are moved).

// A new element with a class and text (both optional).
export function el(tag, cls, text) {
	const e = document.createElement(tag);
	if (cls)
		e.className = cls;
	if (text !== undefined)
		e.textContent = text;
	return e;
}

// How long ago ms was ("12 s ago", "3 min ago"), or 'never'.
export function ago(ms, now = Date.now()) {
	return typeof ms !== 'number' || ms <= 0 ? 'never' : `${span(now - ms)} ago`;
}

// A duration, rounded to its largest unit ("12 s", "3 min", "2 h", "4 d").
export function span(ms) {
	const s = Math.max(0, Math.round(ms / 1000));
	if (s < 60)
		return `${s} s`;
	if (s < 3600)
		return `${Math.round(s / 60)} min`;
	if (s < 86400)
		return `${Math.round(s / 3600)} h`;
	return `${Math.round(s / 86400)} d`;
}

// A moment as the reader's locale writes it (one formatter for all: making one per call is slow).
const STAMP = new Intl.DateTimeFormat(undefined, { dateStyle: 'short', timeStyle: 'medium' });
export const when = (ms) => (typeof ms === 'number' ? STAMP.format(ms) : '–');

export const fmt = (v) => (typeof v === 'number' ? (Math.round(v * 10) / 10).toString() : '–');

export class KeyedList {
	// root: the container; make(key) -> a new row element; fill(row, key) fills it
	constructor(root, make, fill) {
		this.root = root;
		this.make = make;
		this.fill = fill;
		this.rows = new Map(); // key -> element
	}

	// Shows exactly `keys`, in this order; `changed` (a Set, or null for all) are filled again.
	show(keys, changed) {
		const keep = new Set(keys);
		for (const [k, row] of this.rows) {
			if (!keep.has(k)) {
				row.remove();
				this.rows.delete(k);
			}
		}
		let at = this.root.firstElementChild;
		for (const k of keys) {
			let row = this.rows.get(k);
			if (!row) {
				row = this.make(k);
				this.rows.set(k, row);
				this.fill(row, k);
			} else if (!changed || changed.has(k)) {
				this.fill(row, k);
			}
			if (row !== at)
				this.root.insertBefore(row, at);
			else
				at = at.nextElementSibling;
		}
	}

	clear() {
		this.rows.clear();
		this.root.replaceChildren();
	}
}
