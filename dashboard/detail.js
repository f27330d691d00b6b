// detail.js - one twin in full: readings, attributes, reported (with each field's age), desired in
// an editor, the delta, and history sparklines. Saving sends the changed desired leaves as an update
// with a version (optimistic concurrency) and shows a 409 conflict as such. Follows the twin's
// events while open; closing it drops everything.
import { READINGS, level, isStale, deltaOf } from './model.js';
import { sparkline } from './sparkline.js';
import { ago, el } from './tiles.js';

const show = (v) => (typeof v === 'string' ? v : JSON.stringify(v));

// What the user typed: JSON when it parses (3, true, "a", {"x":1}), else the text as a string.
function parseValue(text) {
	try {
		return JSON.parse(text);
	} catch (e) {
		return text;
	}
}

// A small key/value table of a section (nested values as JSON), with an optional third column.
function table(obj, third) {
	const keys = Object.keys(obj || {}).sort();
	if (!keys.length)
		return el('p', 'muted', '(empty)');
	const t = el('table', 'kv');
	for (const k of keys) {
		const tr = el('tr');
		tr.dataset.key = k;
		tr.append(el('th', '', k), el('td', '', show(obj[k])));
		if (third)
			tr.append(el('td', 'muted', third(k)));
		t.append(tr);
	}
	return t;
}

export class Detail {
	constructor(root, api, store, cfg, onClose) {
		this.root = root; // the overlay element (hidden when closed)
		this.body = root.querySelector('.detail-body');
		this.title = root.querySelector('.detail-title');
		this.api = api;
		this.store = store;
		this.cfg = cfg;
		this.id = null;
		this.twin = null;
		this.history = []; // [{ts, reported}] oldest first
		this.historyNote = '';
		this.onClose = onClose;
		root.querySelector('.detail-close').addEventListener('click', () => this.close());
		root.addEventListener('click', (e) => {
			if (e.target === root)
				this.close();
		});
		document.addEventListener('keydown', (e) => {
			if (e.key === 'Escape' && this.id)
				this.close();
		});
	}

	async open(id) {
		this.id = id;
		this.twin = null;
		this.history = [];
		this.historyNote = 'Loading history…';
		this.title.textContent = id;
		this.root.hidden = false;
		document.body.classList.add('detail-open');
		this.body.replaceChildren(el('p', 'muted', 'Loading…'));
		const a = await this.api.get(id);
		if (this.id !== id)
			return;
		if (a.status !== 200) {
			this.body.replaceChildren(el('p', 'error', `Could not read ${id}: ${a.status || ''} ${a.body.error || ''}`));
			return;
		}
		this.twin = a.body;
		this.store.put(a.body);
		this.render();
		this.loadHistory(id);
	}

	close() {
		this.id = null;
		this.twin = null;
		this.editor = null;
		this.root.hidden = true;
		document.body.classList.remove('detail-open');
		this.body.replaceChildren();
		if (this.onClose)
			this.onClose();
	}

	async loadHistory(id) {
		const fields = READINGS.map((r) => `reported/${r.field}`);
		const a = await this.api.history(id, { limit: this.cfg.historyLimit, fields });
		if (this.id !== id)
			return;
		if (a.status === 200 && a.body.items.length) {
			this.history = a.body.items.slice().reverse().map((it) => ({ ts: it.ts, reported: it.reported || {} }));
			this.historyNote = '';
		} else if (a.status === 200) {
			this.historyNote = 'No history: it is off on this broker (plugin_opt_history_max 0) or there is no past version yet. New readings are drawn while this stays open.';
		} else {
			this.historyNote = `History unavailable (${a.status || 'no answer'}${a.body.error ? `: ${a.body.error}` : ''}). New readings are drawn while this stays open.`;
		}
		this.renderHistory();
	}

	// An event of any twin; only the open one's matter.
	onEvent(ev) {
		if (!this.twin || ev.id !== this.id)
			return;
		if (ev.type === 'deleted') {
			this.body.prepend(el('p', 'error', `${this.id} was deleted (version ${ev.version}).`));
			return;
		}
		if (ev.type === 'error') {
			const box = this.body.querySelector('.last-error');
			if (box)
				box.textContent = `Last telemetry refused: ${ev.error}`;
			return;
		}
		const t = this.store.twins.get(this.id);
		if (!t)
			return;
		const connected = this.twin.connected;
		this.twin = { ...t, connected };
		if (ev.reported) {
			this.history.push({ ts: ev.ts, reported: { ...t.reported } });
			if (this.history.length > this.cfg.historyLimit * 2)
				this.history.shift();
		}
		if (ev.desired && this.editor)
			this.editor.desiredChanged = true;
		this.renderLive();
	}

	render() {
		this.body.replaceChildren();
		const sum = el('div', 'summary');
		const live = el('div', 'live');
		const hist = el('section', 'history');
		hist.append(el('h3', '', 'History'), el('div', 'history-body'));
		const rep = el('section', 'reported');
		rep.append(el('h3', '', 'Reported'), el('div', 'reported-body'));
		const des = el('section', 'desired');
		des.append(el('h3', '', 'Desired'));
		const delta = el('section', 'delta');
		delta.append(el('h3', '', 'Delta (desired, not yet reported)'), el('div', 'delta-body'));
		const attrs = el('section', 'attributes');
		attrs.append(el('h3', '', 'Attributes'), el('div', 'attributes-body'));
		this.body.append(sum, live, el('p', 'last-error error'), hist, des, delta, rep, attrs);
		this.renderEditor(des);
		this.renderLive();
		this.renderHistory();
	}

	// Everything that follows events (not the editor: the user may be typing in it).
	renderLive() {
		const t = this.twin;
		const b = this.body;
		const sum = b.querySelector('.summary');
		if (!sum)
			return;
		const a = t.attributes || {};
		sum.replaceChildren(
			el('span', 'pill', `version ${t.version}`),
			el('span', 'pill', `site ${a.site ?? '–'} · row ${a.row ?? '–'}${a.position !== undefined ? ` · pos ${a.position}` : ''}`),
			el('span', `pill${isStale(t, this.cfg) ? ' stale' : ''}`, `last seen ${ago(t.lastSeen)}`),
			el('span', `pill${t.connected === false ? ' offline' : ''}`, t.connected === undefined ? 'connection unknown' : t.connected ? 'connected' : 'disconnected'));
		const live = b.querySelector('.live');
		live.replaceChildren();
		for (const r of READINGS) {
			const v = (t.reported || {})[r.field];
			const cell = el('div', `big lvl-${level(r.kind, v, this.cfg)}`);
			cell.dataset.field = r.field;
			cell.append(el('span', 'big-k', `${r.kind === 'temp' ? 'Temp' : 'Humidity'} ${r.place}`),
				el('span', 'big-v', v === undefined ? '–' : `${Math.round(v * 10) / 10}${r.unit}`));
			live.append(cell);
		}
		const meta = (t.metadata || {}).reported || {};
		b.querySelector('.reported-body').replaceChildren(table(t.reported, (k) => (meta[k] && meta[k].ts ? ago(meta[k].ts) : '')));
		b.querySelector('.attributes-body').replaceChildren(table(t.attributes));
		b.querySelector('.delta-body').replaceChildren(table(deltaOf(t.desired, t.reported)));
		if (this.editor)
			this.editor.refreshHint();
		this.renderHistory();
	}

	renderHistory() {
		const box = this.body.querySelector('.history-body');
		if (!box)
			return;
		box.replaceChildren();
		const points = (field) => this.history
			.filter((h) => typeof h.reported[field] === 'number')
			.map((h) => [h.ts, h.reported[field]]);
		const temps = [{ name: 'tempTop', cls: 'top', points: points('tempTop') },
			{ name: 'tempBottom', cls: 'bottom', points: points('tempBottom') }];
		const hums = [{ name: 'humidityTop', cls: 'top', points: points('humidityTop') },
			{ name: 'humidityBottom', cls: 'bottom', points: points('humidityBottom') }];
		if (this.historyNote)
			box.append(el('p', 'muted history-note', this.historyNote));
		const n = this.history.length;
		if (n < 2 && !this.historyNote)
			box.append(el('p', 'muted history-note', `${n} version so far: the lines start with the next reading.`));
		if (n >= 2) {
			const fig = (label, series, unit) => {
				const f = el('figure', 'spark-fig');
				f.append(el('figcaption', '', `${label} (${n} versions; top solid, bottom dashed)`), sparkline(series, { unit }));
				return f;
			};
			box.append(fig('Temperature °C', temps, '°C'), fig('Humidity %', hums, '%'));
		}
	}

	renderEditor(section) {
		this.editor = new DesiredEditor(this, section);
	}
}

// The desired editor: a row per desired leaf of the first level (nested values edited as JSON), one
// row to add a field; Save sends only what changed.
class DesiredEditor {
	constructor(detail, section) {
		this.detail = detail;
		this.section = section;
		this.reset(detail.twin);
	}

	// Starts editing from `twin` (its desired and version are the base of the next save).
	reset(twin) {
		this.base = { ...(twin.desired || {}) };
		this.baseVersion = twin.version;
		this.desiredChanged = false; // an event changed desired since this base
		this.section.querySelector('form')?.remove();
		const form = el('form', 'desired-form');
		form.noValidate = true;
		for (const k of Object.keys(this.base).sort()) {
			const row = el('div', 'field');
			const id = `desired-${k}`;
			const label = el('label', '', k);
			label.htmlFor = id;
			const input = el('input');
			input.id = id;
			input.name = `desired.${k}`;
			input.value = show(this.base[k]);
			input.dataset.key = k;
			const rm = el('button', 'remove', 'remove');
			rm.type = 'button';
			rm.title = `remove desired.${k}`;
			rm.addEventListener('click', () => {
				row.classList.toggle('removed');
				rm.textContent = row.classList.contains('removed') ? 'keep' : 'remove';
			});
			row.append(label, input, rm, el('span', 'hint'));
			form.append(row);
		}
		const add = el('div', 'field add');
		const key = el('input');
		key.name = 'new-key';
		key.placeholder = 'new field';
		key.setAttribute('aria-label', 'new desired field name');
		const val = el('input');
		val.name = 'new-value';
		val.placeholder = 'value (JSON or text)';
		val.setAttribute('aria-label', 'new desired field value');
		add.append(key, val);
		form.append(add);
		const actions = el('div', 'actions');
		const save = el('button', 'save', 'Save desired');
		save.type = 'submit';
		save.id = 'desired-save';
		const status = el('p', 'desired-status');
		status.id = 'desired-status';
		status.setAttribute('role', 'status');
		actions.append(save);
		form.append(actions, status);
		form.addEventListener('submit', (e) => {
			e.preventDefault();
			this.save();
		});
		this.form = form;
		this.status = status;
		this.section.append(form);
		this.refreshHint();
	}

	// Marks each field still waiting for the device (in the delta).
	refreshHint() {
		const t = this.detail.twin;
		const delta = deltaOf(t.desired, t.reported);
		for (const row of this.form.querySelectorAll('.field:not(.add)')) {
			const k = row.querySelector('input').dataset.key;
			const rep = (t.reported || {})[k];
			row.querySelector('.hint').textContent = k in delta ? `pending · reported ${rep === undefined ? '–' : show(rep)}` : 'in sync';
		}
	}

	patch() {
		const p = {};
		for (const row of this.form.querySelectorAll('.field:not(.add)')) {
			const input = row.querySelector('input');
			const k = input.dataset.key;
			if (row.classList.contains('removed'))
				p[k] = null;
			else if (show(parseValue(input.value)) !== show(this.base[k]))
				p[k] = parseValue(input.value);
		}
		const nk = this.form.querySelector('[name="new-key"]').value.trim();
		const nv = this.form.querySelector('[name="new-value"]').value;
		if (nk)
			p[nk] = parseValue(nv);
		return p;
	}

	setStatus(cls, text) {
		this.status.className = `desired-status ${cls}`;
		this.status.dataset.state = cls;
		this.status.textContent = text;
	}

	async save() {
		const patch = this.patch();
		if (!Object.keys(patch).length) {
			this.setStatus('info', 'Nothing changed.');
			return;
		}
		const d = this.detail;
		// Optimistic concurrency on desired: while no one else changed desired since this editor's
		// base, send the newest version known (telemetry bumps the version all the time and must not
		// conflict); once desired changed under us, send the base version, so that the broker refuses
		// with 409 instead of silently overwriting the other change.
		const known = d.store.twins.get(d.id);
		const version = this.desiredChanged || !known ? this.baseVersion : Math.max(known.version, this.baseVersion);
		this.setStatus('busy', 'Saving…');
		const a = await d.api.update(d.id, { desired: patch, version });
		if (d.id === null || d.editor !== this)
			return;
		if (a.status === 200) {
			this.reset({ desired: a.body.desired, version: a.body.version });
			this.setStatus('ok', `Saved: version ${a.body.version}. The device gets devices/${d.id}/desired.`);
		} else if (a.status === 409) {
			const cur = await d.api.get(d.id, ['desired', 'version']);
			const now = cur.status === 200 ? cur.body : null;
			this.setStatus('conflict', `Conflict (409): ${d.id} changed since you started editing (${a.body.error}). `
				+ 'Your change was NOT saved.'
				+ (now ? ` Desired is now ${JSON.stringify(now.desired || {})} (version ${now.version}).` : ''));
			const again = el('button', 'reload', 'Edit the current values');
			again.type = 'button';
			again.addEventListener('click', () => {
				const t = d.store.twins.get(d.id) || d.twin;
				this.reset(now ? { desired: now.desired, version: now.version } : t);
			});
			this.status.append(' ', again);
		} else {
			this.setStatus('error', `Not saved: ${a.status || 'no answer'} ${a.body.error || ''}`);
		}
	}
}
