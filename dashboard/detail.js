// detail.js - one twin in full: readings (units from its model when it has one), its alarms with a
// button to acknowledge each, attributes, reported (with each field's age), desired in an editor
// (desired.js), the delta, and history sparklines. Keeps its own copy of the whole twin and follows its
// events while open; closing it drops everything.
import { READINGS, deltaOf, applyChange, applyAlarm, alarmOrder } from './model.js';
import { isStale, unitOf } from './status.js';
import { sparkline } from './sparkline.js';
import { el, ago } from './dom.js';
import { alarmChip } from './alarms.js';
import { DesiredEditor } from './desired.js';

const show = (v) => (typeof v === 'string' ? v : JSON.stringify(v));

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
	// root: the overlay element (hidden when closed); ctx: {api, cfg, models, statusOf(twin), ack(id,
	// name, button)}
	constructor(root, ctx, onClose) {
		this.root = root;
		this.body = root.querySelector('.detail-body');
		this.title = root.querySelector('.detail-title');
		this.ctx = ctx;
		this.api = ctx.api;
		this.cfg = ctx.cfg;
		this.id = null;
		this.twin = null;
		this.history = []; // [{ts, reported}] oldest first
		this.historyNote = '';
		this.onClose = onClose;
		root.querySelector('.detail-close').addEventListener('click', () => this.close());
		root.addEventListener('click', (e) => {
			const ack = e.target.closest('button.ack');
			if (ack)
				ctx.ack(ack.dataset.id, ack.dataset.alarm, ack);
			else if (e.target === root)
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
		this.model = null;
		if (a.body.model) {
			this.model = this.ctx.models.get(a.body.model);
			if (!this.model) {
				const m = await this.api.model(id);
				if (this.id !== id)
					return;
				this.model = m.status === 200 ? m.body : null;
			}
		}
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

	// An event of any twin; only the open one's matter. The twin is read again when one was missed.
	onEvent(ev) {
		if (!this.twin || ev.id !== this.id)
			return;
		if (ev.type === 'deleted') {
			this.body.prepend(el('p', 'error', `${this.id} was deleted (version ${ev.version}).`));
			return;
		}
		if (ev.type === 'error' || ev.type === 'invalid') {
			const box = this.body.querySelector('.last-error');
			if (box)
				box.textContent = ev.type === 'error' ? `Last telemetry refused: ${ev.error}`
					: `Last telemetry breaks the model at ${ev.path}: ${ev.error}`;
			return;
		}
		const order = ev.type === 'alarm' ? alarmOrder(this.twin, ev) : null;
		if (order === 'changed') {
			applyAlarm(this.twin, ev);
		} else if (order === 'ignored') {
			return;
		} else if (order === null && ev.version === this.twin.version + 1) {
			applyChange(this.twin, ev);
			this.twin.delta = deltaOf(this.twin.desired, this.twin.reported);
			if (ev.reported) {
				this.history.push({ ts: ev.ts, reported: { ...this.twin.reported } });
				if (this.history.length > this.cfg.historyLimit * 2)
					this.history.shift();
			}
			if (ev.desired && this.editor)
				this.editor.desiredChanged = true;
		} else if (ev.version > this.twin.version) {
			this.reread(this.id, ev.desired !== undefined);
			return;
		} else {
			return;
		}
		this.renderLive();
	}

	async reread(id, desiredChanged) {
		const a = await this.api.get(id);
		if (this.id !== id || a.status !== 200 || a.body.version <= this.twin.version)
			return;
		this.twin = a.body;
		if (desiredChanged && this.editor)
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
		const alarms = el('section', 'alarms');
		alarms.append(el('h3', '', 'Alarms'), el('div', 'alarms-body'));
		this.body.append(sum, live, el('p', 'last-error error'), alarms, hist, des, delta, rep, attrs);
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
		const st = this.ctx.statusOf(t);
		sum.replaceChildren(
			el('span', 'pill', `version ${t.version}`),
			...(t.model ? [el('span', 'pill model', `model ${this.model && this.model.title ? `${this.model.title} (${t.model})` : t.model}`)] : []),
			el('span', 'pill', `site ${a.site ?? '–'} · row ${a.row ?? '–'}${a.position !== undefined ? ` · pos ${a.position}` : ''}`),
			el('span', `pill${isStale(t, this.cfg) ? ' stale' : ''}`, `last seen ${ago(t.lastSeen)}`),
			el('span', `pill${t.connected === false ? ' offline' : ''}`, t.connected === undefined ? 'connection unknown' : t.connected ? 'connected' : 'disconnected'));
		const live = b.querySelector('.live');
		live.replaceChildren();
		for (const r of READINGS) {
			const v = (t.reported || {})[r.field];
			const cell = el('div', `big lvl-${st.cells[r.field]}`);
			cell.dataset.field = r.field;
			cell.append(el('span', 'big-k', `${r.kind === 'temp' ? 'Temp' : 'Humidity'} ${r.place}`),
				el('span', 'big-v', v === undefined ? '–' : `${Math.round(v * 10) / 10}${unitOf(r.field, t, this.ctx.models)}`));
			live.append(cell);
		}
		const alarms = b.querySelector('.alarms-body');
		alarms.replaceChildren(...st.alarms.map((x) => {
			const line = el('p', 'alarm-line');
			line.append(alarmChip(t.id, x), el('span', 'muted', ` since ${ago(x.since)}${x.cleared ? `, cleared ${ago(x.cleared)}` : ''}`));
			return line;
		}));
		if (!st.alarms.length)
			alarms.append(el('p', 'muted', t.model ? 'No alarms.' : 'No model, so no alarms: the readings are coloured by the thresholds.'));
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
		this.editor = new DesiredEditor(this, section, this.model);
	}
}
