// model.js - the racks as the dashboard knows them, without any DOM: twins from search and get (only
// the fields the views need), kept current by change and alarm events (merge of the changed leaves),
// their place (site, row, position), the delta, and each rack's status (status.js), cached and worked
// out again only when its twin, the models or the clock change it.

// The four readings of a rack: field of `reported`, kind, place, unit (when the twin has no model).
export const READINGS = [
	{ field: 'tempTop', kind: 'temp', place: 'top', unit: '°C' },
	{ field: 'humidityTop', kind: 'humidity', place: 'top', unit: '%' },
	{ field: 'tempBottom', kind: 'temp', place: 'bottom', unit: '°C' },
	{ field: 'humidityBottom', kind: 'humidity', place: 'bottom', unit: '%' },
];

// A twin is a rack when it reports at least one of the readings; the same rule as a search filter.
export const RACK_FILTER = `or(${READINGS.map((r) => `exists(reported/${r.field})`).join(',')})`;

// What a search (or a get) asks for each rack: what the views show, nothing more (no metadata, no
// other readings, the delta rather than desired).
export const RACK_FIELDS = ['attributes/site', 'attributes/row', 'attributes/position',
	...READINGS.map((r) => `reported/${r.field}`), 'delta', 'lastSeen', 'connected', 'model', 'alarms'];
// What the periodic re-read asks: events say neither who is connected nor when a rack was last heard
// from (a reading that changes nothing makes no event).
export const PRESENCE_FIELDS = ['lastSeen', 'connected'];

export function isRack(twin) {
	const rep = twin.reported || {};
	return READINGS.some((r) => r.field in rep);
}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

// RFC 7396 merge patch of `patch` into `target` (changed in place; null removes).
export function mergePatch(target, patch) {
	for (const [k, v] of Object.entries(patch)) {
		if (v === null)
			delete target[k];
		else if (isObject(v))
			target[k] = mergePatch(isObject(target[k]) ? target[k] : {}, v);
		else
			target[k] = v;
	}
	return target;
}

// The metadata of the changed leaves of an event: {ts} for each new value, removed for null.
function stamp(meta, changes, ts) {
	for (const [k, v] of Object.entries(changes)) {
		if (v === null)
			delete meta[k];
		else if (isObject(v))
			stamp(isObject(meta[k]) && !('ts' in meta[k]) ? meta[k] : (meta[k] = {}), v, ts);
		else
			meta[k] = { ts };
	}
}

function sameJson(a, b) {
	return JSON.stringify(a) === JSON.stringify(b);
}

// The desired leaves whose value differs from reported (as the plugin derives `delta`).
export function deltaOf(desired, reported) {
	const out = {};
	for (const [k, v] of Object.entries(desired || {})) {
		const r = (reported || {})[k];
		if (isObject(v)) {
			const sub = deltaOf(v, isObject(r) ? r : {});
			if (Object.keys(sub).length)
				out[k] = sub;
		} else if (!sameJson(v, r)) {
			out[k] = v;
		}
	}
	return out;
}

// A change event (created, updated) applied to a twin we hold at the version before it.
export function applyChange(t, ev) {
	for (const section of ['attributes', 'reported', 'desired', 'alarms']) {
		if (!ev[section])
			continue;
		t[section] = mergePatch(t[section] || {}, ev[section]);
		if ((section === 'reported' || section === 'desired') && t.metadata)
			stamp(t.metadata[section] || (t.metadata[section] = {}), ev[section], ev.ts);
	}
	t.version = ev.version;
	t.updated = ev.ts;
	if (ev.reported && (typeof t.lastSeen !== 'number' || ev.ts > t.lastSeen))
		t.lastSeen = ev.ts;
}

// Whether an alarm event follows what we hold of twin t: 'changed' (apply it), 'ignored' (older) or
// 'gap' (a change before it was missed).
export function alarmOrder(t, ev) {
	if (typeof ev.version !== 'number' || ev.version === t.version)
		return 'changed';
	if (ev.version < t.version)
		return 'ignored';
	if (ev.version > t.version + 1)
		return 'gap';
	t.version = ev.version;
	return 'changed';
}

// An alarm event: raised, acknowledged, cleared; one cleared and acknowledged is gone.
export function applyAlarm(t, ev) {
	const alarms = t.alarms || (t.alarms = {});
	if (!ev.active && ev.acked) {
		delete alarms[ev.name];
		return;
	}
	const a = { severity: ev.severity, active: ev.active, acked: ev.acked, since: ev.since };
	if (!ev.active)
		a.cleared = (alarms[ev.name] || {}).cleared ?? ev.ts;
	alarms[ev.name] = a;
}

export function siteOf(t) {
	const a = t.attributes || {};
	return a.site === undefined ? '(no site)' : String(a.site);
}

export function rowOf(t) {
	const a = t.attributes || {};
	return a.row === undefined ? '(no row)' : String(a.row);
}

export function positionOf(t) {
	const p = (t.attributes || {}).position;
	return typeof p === 'number' && Number.isFinite(p) ? p : null;
}

// Text order with numbers in order (row 2 before row 10); one collator for all (localeCompare with
// options makes one per call, which sorting 10 000 racks feels).
export const byText = new Intl.Collator(undefined, { numeric: true }).compare;

// Site, row (numbers in order: row 2 before row 10), position, id.
export function compareRacks(a, b) {
	const pa = positionOf(a);
	const pb = positionOf(b);
	return byText(siteOf(a), siteOf(b)) || byText(rowOf(a), rowOf(b))
		|| (pa !== null && pb !== null ? pa - pb : (pa === null) - (pb === null))
		|| byText(a.id, b.id);
}

export class RackStore {
	// statusOf(twin, now) -> the rack's status (status.js)
	constructor(statusOf) {
		this.statusOf = statusOf;
		this.twins = new Map(); // id -> twin (the fields asked for, as search/get answer them)
		this.status = new Map(); // id -> its status
		this.since = new Map(); // id -> {at, known}: when its current state began (sinceOf)
	}

	// Works the status of id out again; true when it changed. ts: the time of the event that changed
	// the twin (none: a load, a re-read, the clock).
	rate(id, now = Date.now(), ts = null) {
		const t = this.twins.get(id);
		const old = this.status.get(id);
		const s = this.statusOf(t, now);
		if (old && old.key === s.key)
			return false;
		if (!old || old.cat !== s.cat)
			this.since.set(id, old ? { at: ts ?? t.lastSeen ?? now, known: true } : { at: now, known: false });
		this.status.set(id, s);
		return true;
	}

	// A twin from search or get (RACK_FIELDS, or the whole twin): replaces ours unless we already hold
	// a newer version (an event overtook it). True when it was taken.
	put(twin, now = Date.now()) {
		const old = this.twins.get(twin.id);
		if (old && old.version > twin.version)
			return false;
		this.twins.set(twin.id, { ...twin });
		this.rate(twin.id, now);
		return true;
	}

	// Presence from the periodic re-read ({id, version, lastSeen, connected}): applied to the twins we
	// hold at that version or later. Returns 'changed', 'same', 'behind' (the twin changed and we missed
	// it: read it again) or 'unknown'.
	presence(item, now = Date.now()) {
		const t = this.twins.get(item.id);
		if (!t)
			return 'unknown';
		if (item.version > t.version)
			return 'behind';
		if (typeof item.lastSeen === 'number' && !(item.lastSeen <= t.lastSeen))
			t.lastSeen = item.lastSeen;
		if (typeof item.connected === 'boolean')
			t.connected = item.connected;
		return this.rate(item.id, now) ? 'changed' : 'same';
	}

	remove(id) {
		this.twins.delete(id);
		this.status.delete(id);
		this.since.delete(id);
	}

	// An event of $twin/+/events. Returns 'changed', 'reread' (applied, but the delta may have changed
	// and we hold neither all of desired nor all of reported: the caller reads the twin's fields again),
	// 'removed', 'unknown' (a twin we do not hold), 'gap' (an event before this one was lost, QoS 0: the
	// caller reads the twin again) or 'ignored' (old, or an error or invalid event).
	applyEvent(ev, now = Date.now()) {
		if (!['created', 'updated', 'deleted', 'alarm'].includes(ev.type))
			return 'ignored'; // error, invalid: telemetry that changed nothing
		const t = this.twins.get(ev.id);
		if (ev.type === 'deleted') {
			if (!t)
				return 'ignored';
			this.remove(ev.id);
			return 'removed';
		}
		if (!t)
			return 'unknown';
		if (ev.type === 'alarm') {
			// the alarm's whole state, at the version of the change that made it: the version of the
			// updated event just before it, or a version of its own (held, acknowledged)
			const r = alarmOrder(t, ev);
			if (r !== 'changed')
				return r;
			applyAlarm(t, ev);
			this.rate(ev.id, now, ev.ts);
			return 'changed';
		}
		if (typeof ev.version === 'number' && ev.version <= t.version)
			return 'ignored';
		if (typeof ev.version === 'number' && ev.version !== t.version + 1)
			return 'gap';
		applyChange(t, ev);
		this.rate(ev.id, now, ev.ts);
		const delta = t.delta || {};
		// the delta may have changed (we hold neither all of desired nor all of reported), or the model the
		// twin follows (attributes.model, else the broker's default)
		return ev.desired || Object.keys(ev.reported || {}).some((k) => k in delta) || 'model' in (ev.attributes || {})
			? 'reread' : 'changed';
	}

	// Each rack's status again (the clock moved: staleness; the thresholds or models changed). Returns
	// the ids whose status changed.
	rateAll(now = Date.now()) {
		const changed = [];
		for (const id of this.twins.keys())
			if (this.rate(id, now))
				changed.push(id);
		return changed;
	}

	// When the rack's current state began: {at, known}. Known: its first alarm's since when it has
	// alarms, else the event that put it in this state (or, for a change only the clock or a re-read
	// showed, when it was last heard from). Not known for a state it was already in when the page got
	// it: `at` is then that moment (the state began then or earlier). It does not move while the state
	// lasts.
	stateSince(id) {
		const s = this.status.get(id);
		if (s && s.alarmSince)
			return { at: s.alarmSince, known: true };
		return this.since.get(id) ?? { at: 0, known: false };
	}

	// The same as a number, for sorting newest first.
	sinceOf(id) {
		return this.stateSince(id).at;
	}

	// Sites and rows present, sorted, for the filter menus.
	sites() {
		return [...new Set([...this.twins.values()].map((t) => siteOf(t)))].sort(byText);
	}

	rows(site) {
		const rows = [...this.twins.values()].filter((t) => !site || siteOf(t) === site).map((t) => rowOf(t));
		return [...new Set(rows)].sort(byText);
	}

	// The racks that pass the filter ({site, row, state}), sorted by site, row, position, id.
	visible(filter) {
		const out = [];
		for (const t of this.twins.values())
			if (this.passes(t, filter))
				out.push(t);
		return out.sort(compareRacks);
	}

	passes(t, filter) {
		if (!isRack(t))
			return false;
		if ((filter.site && siteOf(t) !== filter.site) || (filter.row && rowOf(t) !== filter.row))
			return false;
		return !filter.state || this.status.get(t.id).cat === filter.state;
	}
}
