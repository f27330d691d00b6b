// attention.js - the view the page opens on: the racks that need someone, grouped critical, warning,
// stale, disconnected (then those whose only concern is a cleared alarm not yet acknowledged), racks with
// an active unacknowledged alarm first within each group, then newest first. Each row says why (the
// readings out of range, the alarms, with a button to acknowledge each) and opens the rack. At most
// attentionMax rows are drawn; the group headings count them all. Rows are kept by rack: a change
// refills its own row, and the list is sorted again only when a rack's state changed.
import { READINGS, siteOf, rowOf, positionOf, byText } from './model.js';
import { CATEGORIES, unitOf } from './status.js';
import { el, ago, span, when, fmt, KeyedList } from './dom.js';
import { alarmChip, listClicks } from './alarms.js';

const HEAD = '#';
const TITLES = { critical: 'Critical', warning: 'Warning', stale: 'Stale', disconnected: 'Disconnected',
	unacked: 'Cleared alarms to acknowledge' };

// 0: an active alarm nobody acknowledged, 1: another unacknowledged one, 2: none.
function alarmOrder(st) {
	if (st.alarms.some((a) => a.active && !a.acked))
		return 0;
	return st.alarms.some((a) => !a.acked) ? 1 : 2;
}

export class AttentionList {
	// root: the container; ctx: {store, models, filter, cfg, loading(), open(id), ack(id, name, button)}
	constructor(root, ctx) {
		this.root = root;
		this.ctx = ctx;
		this.list = el('ol', 'att-list');
		this.more = el('p', 'att-more muted');
		this.note = el('p', 'att-none muted');
		root.append(this.note, this.list, this.more);
		this.rows = new KeyedList(this.list, (k) => this.make(k), (row, k) => this.fill(row, k));
		this.ids = new Map(); // rack in the list (any group, whatever the cap) -> its sortKey
		this.counts = {};
		listClicks(root, '.att-row', ctx);
	}

	render() {
		const { store, filter } = this.ctx;
		this.rows.clear();
		this.ids.clear();
		for (const t of store.twins.values())
			if (store.status.get(t.id).rank >= 0 && store.passes(t, filter))
				this.ids.set(t.id, this.sortKey(t.id));
		this.sort();
		this.show(null);
	}

	// Racks whose twin changed (or appeared, or went); sorted again only when one's place may move.
	update(ids) {
		const { store, filter } = this.ctx;
		let resort = false;
		for (const id of ids) {
			const t = store.twins.get(id);
			const inList = !!t && store.status.get(id).rank >= 0 && store.passes(t, filter);
			const old = this.ids.get(id);
			if (!inList) {
				resort = this.ids.delete(id) || resort;
				continue;
			}
			const key = this.sortKey(id);
			if (!old || old.some((v, i) => v !== key[i])) {
				this.ids.set(id, key);
				resort = true;
			}
		}
		if (resort)
			this.sort();
		this.show(new Set(ids));
	}

	// Where a rack goes: its group, its alarms (active unacknowledged first), newest first.
	sortKey(id) {
		const st = this.ctx.store.status.get(id);
		return [st.rank, alarmOrder(st), -this.ctx.store.sinceOf(id)];
	}

	sort() {
		const key = this.ids;
		this.sorted = [...key.keys()].sort((a, b) => {
			const x = key.get(a);
			const y = key.get(b);
			return x[0] - y[0] || x[1] - y[1] || x[2] - y[2] || byText(a, b);
		});
		this.counts = {};
		for (const [, k] of key) {
			const c = CATEGORIES[k[0]];
			this.counts[c] = (this.counts[c] || 0) + 1;
		}
	}

	// Draws the first attentionMax racks, with a heading before each group; `changed` (a Set, or null
	// for all) are filled again, and the headings always (their counts).
	show(changed) {
		const { store, cfg } = this.ctx;
		const sorted = this.sorted || [];
		const drawn = sorted.slice(0, Math.max(1, cfg.attentionMax));
		const keys = [];
		let group = null;
		for (const id of drawn) {
			const c = CATEGORIES[store.status.get(id).rank];
			if (c !== group) {
				group = c;
				keys.push(HEAD + c);
			}
			keys.push(id);
		}
		this.rows.show(keys, changed && new Set([...changed, ...CATEGORIES.map((c) => HEAD + c)]));
		this.more.textContent = sorted.length > drawn.length
			? `… and ${sorted.length - drawn.length} more racks: narrow the list with the filters.` : '';
		this.note.textContent = sorted.length ? '' : this.ctx.loading() ? 'Loading racks…'
			: 'Nothing needs attention: every rack is within its limits, reporting and connected.';
	}

	// Time passed: every "for …" and "… ago" of the rows drawn.
	tick() {
		this.show(null);
	}

	make(key) {
		if (key.startsWith(HEAD)) {
			const h = el('li', 'att-head');
			h.dataset.cat = key.slice(HEAD.length);
			return h;
		}
		const row = el('li', 'att-row');
		row.dataset.id = key;
		row.tabIndex = -1;
		return row;
	}

	fill(row, key) {
		if (key.startsWith(HEAD)) {
			const c = key.slice(HEAD.length);
			row.textContent = `${TITLES[c]} (${this.counts[c] || 0})`;
			return;
		}
		const { store, models } = this.ctx;
		const t = store.twins.get(key);
		const st = store.status.get(key);
		const cat = CATEGORIES[st.rank];
		row.className = `att-row cat-${cat}`;
		row.dataset.cat = cat;
		const k = this.ids.get(key);
		row.dataset.key = `${k[0]}|${k[1]}|${-k[2]}`; // group, alarms, since (the test reads it)
		row.replaceChildren();
		const pos = positionOf(t);
		const rep = t.reported || {};
		const why = el('span', 'att-why');
		for (const r of READINGS) {
			const lvl = st.cells[r.field];
			if (lvl === 'warn' || lvl === 'crit')
				why.append(el('span', `reading lvl-${lvl}`, `${r.field} ${fmt(rep[r.field])}${unitOf(r.field, t, models)}`));
		}
		if (st.stale)
			why.append(el('span', 'badge stale', `last heard ${ago(t.lastSeen)}`));
		if (st.offline)
			why.append(el('span', 'badge offline', 'disconnected'));
		const alarms = el('span', 'att-alarms');
		for (const a of st.alarms)
			alarms.append(alarmChip(key, a));
		const from = store.stateSince(key);
		const since = el('span', 'att-since', `for ${from.known ? '' : '≥ '}${span(Date.now() - from.at)}`);
		since.title = `${cat} since ${when(from.at)}${from.known ? '' : ' or earlier (so when this page read it)'}`;
		row.append(el('span', 'att-cat', cat),
			el('span', 'att-id', key),
			el('span', 'att-where', `${siteOf(t)} · row ${rowOf(t)}${pos !== null ? ` · pos ${pos}` : ''}`),
			why, since, alarms);
	}
}
