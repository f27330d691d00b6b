// alarms.js - the alarms view: every alarm of the racks in the filter (the broker raises them from each
// twin's model), active before cleared, unacknowledged before acknowledged, by severity, newest first;
// each with its rack, since when, and a button to acknowledge it. Also the alarm chip that the attention
// list and the detail show. Rows are kept by rack and alarm; only racks whose alarms changed are looked
// at again.
import { siteOf, rowOf, byText } from './model.js';
import { SEVERITIES } from './status.js';
import { el, ago, when, KeyedList } from './dom.js';

const SEP = '\u0000';

// One alarm as a chip: name, severity, state, and an acknowledge button while unacknowledged.
export function alarmChip(id, a) {
	const chip = el('span', `alarm-chip sev-${a.severity}${a.active ? ' active' : ' cleared'}${a.acked ? ' acked' : ''}`,
		`${a.name} · ${a.severity}${a.active ? '' : ' · cleared'}${a.acked ? ' · acknowledged' : ''}`);
	chip.dataset.alarm = a.name;
	if (!a.acked)
		chip.append(' ', ackButton(id, a.name));
	return chip;
}

export function ackButton(id, name) {
	const b = el('button', 'ack', 'Acknowledge');
	b.type = 'button';
	b.dataset.id = id;
	b.dataset.alarm = name;
	b.title = `acknowledge ${name} of ${id}`;
	return b;
}

// Clicks in a list of racks (rows matching rowSel): an acknowledge button acknowledges its alarm,
// anything else in a row opens the rack.
export function listClicks(root, rowSel, ctx) {
	root.addEventListener('click', (e) => {
		const ack = e.target.closest('button.ack');
		const row = e.target.closest(rowSel);
		if (ack)
			ctx.ack(ack.dataset.id, ack.dataset.alarm, ack);
		else if (row)
			ctx.open(row.dataset.id);
	});
}

export class AlarmPanel {
	// root: the container; ctx: {store, filter, loading(), open(id), ack(id, name, button)}
	constructor(root, ctx) {
		this.root = root;
		this.ctx = ctx;
		this.note = el('p', 'alarms-none muted');
		const table = el('table', 'alarm-table');
		const head = el('tr');
		for (const h of ['severity', 'rack', 'alarm', 'state', 'since', ''])
			head.append(el('th', '', h));
		table.append(el('thead'), el('tbody'));
		table.tHead.append(head);
		root.append(this.note, table);
		this.table = table;
		this.rows = new KeyedList(table.tBodies[0], (k) => this.make(k), (row, k) => this.fill(row, k));
		this.racks = new Set(); // racks with alarms, in the filter
		listClicks(root, 'tr[data-id]', ctx);
	}

	render() {
		this.racks.clear();
		for (const t of this.ctx.store.twins.values())
			this.track(t.id);
		this.rows.clear();
		this.show(null);
	}

	// Racks whose twin changed; none: only the note may have (a load ended).
	update(ids) {
		let changed = ids.length === 0;
		for (const id of ids)
			changed = this.track(id) || changed;
		if (changed)
			this.show(new Set(ids));
	}

	// Keeps `racks` in step for id; true when it has (or had) alarms.
	track(id) {
		const { store, filter } = this.ctx;
		const t = store.twins.get(id);
		const has = !!t && Object.keys(t.alarms || {}).length > 0 && store.passes(t, { site: filter.site, row: filter.row });
		const had = this.racks.has(id);
		if (has)
			this.racks.add(id);
		else
			this.racks.delete(id);
		return has || had;
	}

	show(changedRacks) {
		const { store } = this.ctx;
		const all = [];
		for (const id of this.racks)
			for (const a of store.status.get(id).alarms)
				all.push({ id, ...a });
		all.sort((a, b) => (b.active - a.active) || (a.acked - b.acked)
			|| (SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity)) || ((b.since || 0) - (a.since || 0))
			|| byText(a.id, b.id));
		const keys = all.map((a) => `${a.id}${SEP}${a.name}`);
		this.rows.show(keys, changedRacks && new Set(keys.filter((k) => changedRacks.has(k.split(SEP)[0]))));
		this.table.hidden = !all.length;
		this.note.textContent = all.length ? '' : this.ctx.loading() ? 'Loading racks…'
			: 'No alarms. Alarms come from twin models (plugin_opt_models_dir): a rack without a model has none; its readings are coloured by the thresholds.';
	}

	// Time passed: every "… ago".
	tick() {
		this.show(null);
	}

	make(key) {
		const [id, name] = key.split(SEP);
		const row = el('tr', 'alarm-row');
		row.dataset.id = id;
		row.dataset.alarm = name;
		row.tabIndex = -1;
		return row;
	}

	fill(row, key) {
		const { store } = this.ctx;
		const [id, name] = key.split(SEP);
		const t = store.twins.get(id);
		const a = store.status.get(id).alarms.find((x) => x.name === name);
		row.className = `alarm-row sev-${a.severity}${a.active ? ' active' : ' cleared'}${a.acked ? ' acked' : ''}`;
		row.dataset.state = `${a.active ? 'active' : 'cleared'}${a.acked ? ',acked' : ''}`;
		const state = `${a.active ? 'active' : `cleared ${ago(a.cleared)}`}${a.acked ? ', acknowledged' : ''}`;
		const action = el('td', 'alarm-action');
		if (!a.acked)
			action.append(ackButton(id, name));
		const rack = el('td', 'alarm-rack');
		rack.append(el('span', 'att-id', id), el('span', 'muted', ` ${siteOf(t)} · row ${rowOf(t)}`));
		const since = el('td', 'alarm-since', ago(a.since));
		since.title = when(a.since);
		row.replaceChildren(el('td', '', ''), rack, el('td', 'alarm-name', name), el('td', 'alarm-state', state), since, action);
		row.firstChild.append(el('span', `sev sev-${a.severity}`, a.severity));
	}
}
