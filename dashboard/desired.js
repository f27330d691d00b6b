// desired.js - the detail's desired editor. Without a model: a row per desired leaf of the first level
// (nested values edited as JSON) and one row to add a field. With a model whose `desired` schema names
// properties: a row per property, typed by the schema (a number field with its unit and range, a menu
// for an enum or a boolean), and a value the schema refuses (type, minimum, maximum, exclusive bounds,
// multipleOf, enum, length) is refused here, before anything is sent. Save sends only what changed, as
// an update with a version (optimistic concurrency); a 409 is shown as a conflict, a 400 with the
// broker's own message.
import { deltaOf } from './model.js';
import { el } from './dom.js';

const show = (v) => (typeof v === 'string' ? v : JSON.stringify(v));

// What the user typed: JSON when it parses (3, true, "a", {"x":1}), else the text as a string.
function parseValue(text) {
	try {
		return JSON.parse(text);
	} catch (e) {
		return text;
	}
}

const typeOf = (v) => {
	if (v === null)
		return 'null';
	if (Array.isArray(v))
		return 'array';
	return typeof v === 'number' && Number.isInteger(v) ? 'integer' : typeof v;
};

// Why `schema` refuses value, or '' when it takes it (the keywords an editor can check on one value).
export function refusal(schema, value) {
	if (!schema || typeof schema !== 'object')
		return '';
	const types = schema.type === undefined ? [] : [].concat(schema.type);
	const t = typeOf(value);
	if (types.length && !types.some((x) => x === t || (x === 'number' && t === 'integer')))
		return `must be ${types.join(' or ')}, not ${t === 'string' ? `"${value}"` : show(value)}`;
	if (Array.isArray(schema.enum) && !schema.enum.some((x) => JSON.stringify(x) === JSON.stringify(value)))
		return `must be one of ${schema.enum.map(show).join(', ')}`;
	if ('const' in schema && JSON.stringify(schema.const) !== JSON.stringify(value))
		return `must be ${show(schema.const)}`;
	if (typeof value === 'number') {
		if (typeof schema.minimum === 'number' && value < schema.minimum)
			return `${value} is below the minimum ${schema.minimum}`;
		if (typeof schema.maximum === 'number' && value > schema.maximum)
			return `${value} is above the maximum ${schema.maximum}`;
		if (typeof schema.exclusiveMinimum === 'number' && value <= schema.exclusiveMinimum)
			return `${value} must be above ${schema.exclusiveMinimum}`;
		if (typeof schema.exclusiveMaximum === 'number' && value >= schema.exclusiveMaximum)
			return `${value} must be below ${schema.exclusiveMaximum}`;
		if (typeof schema.multipleOf === 'number' && Math.abs(value / schema.multipleOf - Math.round(value / schema.multipleOf)) > 1e-9)
			return `${value} is not a multiple of ${schema.multipleOf}`;
	}
	if (typeof value === 'string') {
		const n = [...value].length;
		if (typeof schema.minLength === 'number' && n < schema.minLength)
			return `is shorter than ${schema.minLength} characters`;
		if (typeof schema.maxLength === 'number' && n > schema.maxLength)
			return `is longer than ${schema.maxLength} characters`;
	}
	return '';
}

// The desired properties a model describes, or null (no model, or its desired schema names none).
function modelProperties(model) {
	const props = model && model.desired && model.desired.properties;
	return props && typeof props === 'object' && Object.keys(props).length ? props : null;
}

// An input for one value: typed by its schema when there is one.
function input(key, value, schema) {
	const choices = schema && (Array.isArray(schema.enum) ? schema.enum
		: [].concat(schema.type || []).join() === 'boolean' ? [true, false] : null);
	let field;
	if (choices) {
		field = el('select');
		if (value === undefined)
			field.append(new Option('(not set)', ''));
		for (const c of choices)
			field.append(new Option(show(c), JSON.stringify(c)));
		field.value = value === undefined ? '' : JSON.stringify(value);
	} else {
		field = el('input');
		const numeric = schema && [].concat(schema.type || []).some((x) => x === 'number' || x === 'integer');
		if (numeric) {
			field.type = 'number';
			field.inputMode = 'decimal';
			if (typeof schema.minimum === 'number')
				field.min = String(schema.minimum);
			if (typeof schema.maximum === 'number')
				field.max = String(schema.maximum);
			field.step = [].concat(schema.type).includes('integer') ? '1' : 'any';
		}
		field.value = value === undefined ? '' : show(value);
	}
	field.id = `desired-${key}`;
	field.name = `desired.${key}`;
	field.dataset.key = key;
	return field;
}

// The text of a field's range and unit, from its schema ("0-5 (steps)", "one of eco, boost").
function hintOf(schema) {
	if (!schema)
		return '';
	const parts = [];
	if (typeof schema.minimum === 'number' || typeof schema.maximum === 'number')
		parts.push(`${schema.minimum ?? '…'} – ${schema.maximum ?? '…'}${schema.unit ? ` ${schema.unit}` : ''}`);
	else if (schema.unit)
		parts.push(schema.unit);
	if (schema.description)
		parts.push(schema.description);
	return parts.join(' · ');
}

export class DesiredEditor {
	// detail: the Detail (twin, id, api, editor); section: where the form goes; model: the twin's model
	constructor(detail, section, model) {
		this.detail = detail;
		this.section = section;
		this.props = modelProperties(model);
		this.model = model;
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
		if (this.props)
			form.append(el('p', 'muted model-note', `Fields of model ${this.model.title || this.model.name}; values out of its range are refused before sending.`));
		const keys = this.props ? Object.keys(this.props) : Object.keys(this.base).sort();
		for (const k of keys) {
			const schema = this.props ? this.props[k] : null;
			const row = el('div', 'field');
			const label = el('label', '', schema && schema.title ? `${schema.title} (${k})` : k);
			label.htmlFor = `desired-${k}`;
			const rm = el('button', 'remove', 'remove');
			rm.type = 'button';
			rm.title = `remove desired.${k}`;
			rm.hidden = !(k in this.base);
			rm.addEventListener('click', () => {
				row.classList.toggle('removed');
				rm.textContent = row.classList.contains('removed') ? 'keep' : 'remove';
			});
			row.append(label, input(k, this.base[k], schema), rm, el('span', 'hint'), el('span', 'invalid'));
			row.dataset.key = k;
			form.append(row);
		}
		if (!this.props || this.model.desired.additionalProperties !== false) {
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
		}
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

	// Marks each field still waiting for the device (in the delta), with its range from the model.
	refreshHint() {
		const t = this.detail.twin;
		const delta = deltaOf(t.desired, t.reported);
		for (const row of this.form.querySelectorAll('.field:not(.add)')) {
			const k = row.dataset.key;
			const rep = (t.reported || {})[k];
			const state = !(k in (t.desired || {})) ? 'not set' : k in delta ? `pending · reported ${rep === undefined ? '–' : show(rep)}` : 'in sync';
			const range = hintOf(this.props && this.props[k]);
			row.querySelector('.hint').textContent = range ? `${state} · ${range}` : state;
		}
	}

	// The changed leaves, and what the model refuses of them ({key: reason}).
	patch() {
		const p = {};
		const bad = {};
		for (const row of this.form.querySelectorAll('.field:not(.add)')) {
			const field = row.querySelector('input, select');
			const k = field.dataset.key;
			const schema = this.props && this.props[k];
			if (row.classList.contains('removed')) {
				p[k] = null;
				continue;
			}
			if (field.value === '' && !(k in this.base))
				continue;
			// a text field of a string property takes what was typed as it is (a menu's values are JSON)
			const text = field.tagName === 'INPUT' && [].concat((schema && schema.type) || []).join() === 'string';
			const v = field.type === 'number' && field.value !== '' ? Number(field.value) : text ? field.value : parseValue(field.value);
			if (field.type === 'number' && field.validity.badInput)
				bad[k] = 'is not a number';
			else if (show(v) !== show(this.base[k]))
				p[k] = v;
			if (k in p && refusal(schema, v))
				bad[k] = refusal(schema, v);
		}
		const nk = this.form.querySelector('[name="new-key"]')?.value.trim();
		if (nk) {
			p[nk] = parseValue(this.form.querySelector('[name="new-value"]').value);
			if (this.props && this.props[nk] && refusal(this.props[nk], p[nk]))
				bad[nk] = refusal(this.props[nk], p[nk]);
		}
		return { p, bad };
	}

	setStatus(cls, text) {
		this.status.className = `desired-status ${cls}`;
		this.status.dataset.state = cls;
		this.status.textContent = text;
	}

	async save() {
		const { p: patch, bad } = this.patch();
		for (const row of this.form.querySelectorAll('.field:not(.add)'))
			row.querySelector('.invalid').textContent = bad[row.dataset.key] ? `${row.dataset.key} ${bad[row.dataset.key]}` : '';
		if (Object.keys(bad).length) {
			this.setStatus('invalid', `Not sent: ${Object.entries(bad).map(([k, why]) => `${k} ${why}`).join('; ')} (model ${this.model.name}).`);
			return;
		}
		if (!Object.keys(patch).length) {
			this.setStatus('info', 'Nothing changed.');
			return;
		}
		const d = this.detail;
		// Optimistic concurrency on desired: while no one else changed desired since this editor's
		// base, send the newest version known (telemetry bumps the version all the time and must not
		// conflict); once desired changed under us, send the base version, so that the broker refuses
		// with 409 instead of silently overwriting the other change.
		const version = this.desiredChanged ? this.baseVersion : Math.max(d.twin.version, this.baseVersion);
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
			again.addEventListener('click', () => this.reset(now ? { desired: now.desired, version: now.version } : d.twin));
			this.status.append(' ', again);
		} else if (a.status === 400) {
			this.setStatus('refused', `Refused by the broker (400): ${a.body.error || 'no reason given'}. Nothing was saved.`);
		} else {
			this.setStatus('error', `Not saved: ${a.status || 'no answer'} ${a.body.error || ''}`);
		}
	}
}
