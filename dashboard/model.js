// model.js - the racks as the dashboard knows them, without any DOM: twins from search and get,
// kept current by change events (merge of the changed leaves), the level (ok/warn/crit) of each
// reading against the configured thresholds, staleness, the delta, and the site/row filter.

// The four readings of a rack tile: field of `reported`, kind, place, unit.
export const READINGS = [
	{ field: 'tempTop', kind: 'temp', place: 'top', unit: '°C' },
	{ field: 'humidityTop', kind: 'humidity', place: 'top', unit: '%' },
	{ field: 'tempBottom', kind: 'temp', place: 'bottom', unit: '°C' },
	{ field: 'humidityBottom', kind: 'humidity', place: 'bottom', unit: '%' },
];

// A twin is a rack when it reports at least one of the readings; the same rule as a search filter.
export const RACK_FILTER = `or(${READINGS.map((r) => `exists(reported/${r.field})`).join(',')})`;

export function isRack(twin) {
	const rep = twin.reported || {};
	return READINGS.some((r) => r.field in rep);
}

const RANK = { none: 0, ok: 1, warn: 2, crit: 3 };

// 'ok', 'warn', 'crit', or 'none' (no number).
export function level(kind, value, cfg) {
	if (typeof value !== 'number' || !Number.isFinite(value))
		return 'none';
	if (kind === 'temp') {
		if (value > cfg.tempCrit)
			return 'crit';
		return value > cfg.tempWarn ? 'warn' : 'ok';
	}
	if (value < cfg.humidityCritLow || value > cfg.humidityCritHigh)
		return 'crit';
	return value < cfg.humidityLow || value > cfg.humidityHigh ? 'warn' : 'ok';
}

// The worst level of a rack's readings.
export function rackLevel(twin, cfg) {
	let worst = 'none';
	const rep = twin.reported || {};
	for (const r of READINGS) {
		const l = level(r.kind, rep[r.field], cfg);
		if (RANK[l] > RANK[worst])
			worst = l;
	}
	return worst;
}

export function isStale(twin, cfg, now = Date.now()) {
	return typeof twin.lastSeen !== 'number' || now - twin.lastSeen > cfg.staleSeconds * 1000;
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

export class RackStore {
	constructor() {
		this.twins = new Map(); // id -> twin (as search/get answer it, plus `connected` when known)
	}

	// A twin from search or get: kept unless we already hold a newer version (an event overtook it).
	put(twin) {
		const old = this.twins.get(twin.id);
		if (old && old.version > twin.version)
			return false;
		const merged = { ...twin };
		if (old && !('connected' in twin) && 'connected' in old)
			merged.connected = old.connected;
		merged.delta = deltaOf(merged.desired, merged.reported);
		this.twins.set(twin.id, merged);
		return true;
	}

	// A whole list from search: replaces the set (twins gone from it were deleted meanwhile).
	replaceAll(list) {
		const ids = new Set(list.map((t) => t.id));
		for (const id of [...this.twins.keys()])
			if (!ids.has(id))
				this.twins.delete(id);
		for (const t of list)
			this.put(t);
	}

	// A change event. Returns 'changed', 'removed', 'unknown' (a twin we do not hold), 'gap' (an
	// event before this one was lost, QoS 0: the caller reads the twin again) or 'ignored' (old, or
	// an error event).
	applyEvent(ev) {
		if (ev.type === 'error')
			return 'ignored';
		const t = this.twins.get(ev.id);
		if (ev.type === 'deleted') {
			if (!t)
				return 'ignored';
			this.twins.delete(ev.id);
			return 'removed';
		}
		if (!t)
			return 'unknown';
		if (typeof ev.version === 'number' && ev.version <= t.version)
			return 'ignored';
		if (typeof ev.version === 'number' && ev.version !== t.version + 1)
			return 'gap';
		for (const section of ['attributes', 'reported', 'desired']) {
			if (!ev[section])
				continue;
			t[section] = mergePatch(t[section] || {}, ev[section]);
			if (section !== 'attributes' && t.metadata)
				stamp(t.metadata[section] || (t.metadata[section] = {}), ev[section], ev.ts);
		}
		t.version = ev.version;
		t.updated = ev.ts;
		if (ev.reported && (typeof t.lastSeen !== 'number' || ev.ts > t.lastSeen))
			t.lastSeen = ev.ts;
		t.delta = deltaOf(t.desired, t.reported);
		return 'changed';
	}

	// Sites and rows present, sorted, for the filter menus.
	sites() {
		return [...new Set([...this.twins.values()].map((t) => siteOf(t)))].sort();
	}

	rows(site) {
		const rows = [...this.twins.values()].filter((t) => !site || siteOf(t) === site).map((t) => rowOf(t));
		return [...new Set(rows)].sort();
	}

	// The racks that pass the filter, sorted by site, row, position, id.
	visible(filter) {
		return [...this.twins.values()]
			.filter((t) => isRack(t))
			.filter((t) => !filter.site || siteOf(t) === filter.site)
			.filter((t) => !filter.row || rowOf(t) === filter.row)
			.sort(compareRacks);
	}
}

export function siteOf(t) {
	const a = t.attributes || {};
	return a.site === undefined ? '(no site)' : String(a.site);
}

export function rowOf(t) {
	const a = t.attributes || {};
	return a.row === undefined ? '(no row)' : String(a.row);
}

function compareRacks(a, b) {
	const pa = (a.attributes || {}).position;
	const pb = (b.attributes || {}).position;
	return siteOf(a).localeCompare(siteOf(b)) || rowOf(a).localeCompare(rowOf(b), undefined, { numeric: true })
		|| (typeof pa === 'number' && typeof pb === 'number' ? pa - pb : 0)
		|| a.id.localeCompare(b.id, undefined, { numeric: true });
}
