// status.js - what state a rack is in, from its twin alone (no DOM): the level of each reading (ok, warn,
// crit), worst at the top and at the bottom, stale, disconnected, its alarms, and from these its
// category (critical, warning, stale, disconnected, ok) and its place in the attention list.
// A rack whose twin has a model is coloured by its alarms (the model's rules, run by the broker); one
// without by the dashboard's thresholds (config.js).
import { READINGS } from './model.js';

export const SEVERITIES = ['critical', 'major', 'minor', 'warning'];
// The attention list's order; 'unacked' is a rack whose only concern is a cleared alarm nobody
// acknowledged yet.
export const CATEGORIES = ['critical', 'warning', 'stale', 'disconnected', 'unacked'];
const LEVEL_RANK = { none: 0, ok: 1, warn: 2, crit: 3 };

export const worse = (a, b) => (LEVEL_RANK[b] > LEVEL_RANK[a] ? b : a);

// The level an alarm of this severity gives: critical and major are red, minor and warning amber.
export const severityLevel = (sev) => (sev === 'critical' || sev === 'major' ? 'crit' : 'warn');

// 'ok', 'warn', 'crit', or 'none' (no number), by the configured thresholds.
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

export function isStale(twin, cfg, now = Date.now()) {
	return typeof twin.lastSeen !== 'number' || now - twin.lastSeen > cfg.staleSeconds * 1000;
}

// The twin's alarms as a list, in the order an operator takes them: active before cleared,
// unacknowledged before acknowledged, by severity, newest first.
export function alarmList(twin) {
	const list = Object.entries(twin.alarms || {}).map(([name, a]) => ({ name, ...a }));
	return list.sort((a, b) => (b.active - a.active) || (a.acked - b.acked)
		|| (SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity)) || ((b.since || 0) - (a.since || 0)));
}

// The comparisons of a rule's filter on one reading, e.g. gt(reported/tempTop,32).
const COMPARISON = /\b(gt|ge|lt|le)\(reported\/(\w+),\s*(-?\d+(?:\.\d+)?)\)/g;
const HOLDS = { gt: (v, n) => v > n, ge: (v, n) => v >= n, lt: (v, n) => v < n, le: (v, n) => v <= n };

// Whether an alarm's rule is about this reading's value: one of the rule's comparisons on it holds (the
// reading over 70 of "either humidity over 70"), or the rule names it otherwise.
function blames(rule, field, value) {
	const raise = String(rule.raise || '');
	let compared = false;
	for (const m of raise.matchAll(COMPARISON)) {
		if (m[2] !== field)
			continue;
		compared = true;
		if (typeof value === 'number' && HOLDS[m[1]](value, Number(m[3])))
			return true;
	}
	return !compared && raise.includes(`reported/${field}`);
}

// The levels of a model twin's readings: each reading an active alarm's rule blames takes the alarm's
// level (rules unknown until the model is loaded: none then).
function alarmLevels(twin, model, active) {
	const cells = {};
	const rep = twin.reported || {};
	for (const r of READINGS)
		cells[r.field] = typeof rep[r.field] === 'number' ? 'ok' : 'none';
	for (const a of active) {
		const rule = ((model && model.alarms) || []).find((x) => x.name === a.name);
		for (const r of READINGS)
			if (rule && blames(rule, r.field, rep[r.field]))
				cells[r.field] = worse(cells[r.field], severityLevel(a.severity));
	}
	return cells;
}

// The status of a rack: {cells: {field: level}, top, bottom, level, stale, offline, alarms (alarmList),
// active (active alarms), alarmSince (since of the first alarm), cat (category, or 'ok'), rank (index
// in CATEGORIES, or -1: not in the attention list), key (changes exactly when one of these does)}.
export function statusOf(twin, cfg, models, now = Date.now()) {
	const alarms = alarmList(twin);
	const active = alarms.filter((a) => a.active);
	const model = twin.model ? models.get(twin.model) : null;
	let cells;
	if (twin.model) {
		cells = alarmLevels(twin, model, active);
	} else {
		cells = {};
		for (const r of READINGS)
			cells[r.field] = level(r.kind, (twin.reported || {})[r.field], cfg);
	}
	let top = 'none';
	let bottom = 'none';
	for (const r of READINGS) {
		if (r.place === 'top')
			top = worse(top, cells[r.field]);
		else
			bottom = worse(bottom, cells[r.field]);
	}
	let lvl = worse(top, bottom);
	for (const a of active)
		lvl = worse(lvl, severityLevel(a.severity));
	const stale = isStale(twin, cfg, now);
	const offline = twin.connected === false;
	const unacked = alarms.some((a) => !a.acked);
	let cat = 'ok';
	if (lvl === 'crit')
		cat = 'critical';
	else if (lvl === 'warn')
		cat = 'warning';
	else if (stale)
		cat = 'stale';
	else if (offline)
		cat = 'disconnected';
	const rank = cat !== 'ok' ? CATEGORIES.indexOf(cat) : unacked ? CATEGORIES.indexOf('unacked') : -1;
	const alarmSince = alarms.length ? alarms[0].since || 0 : 0; // the alarm an operator takes first
	const key = [READINGS.map((r) => cells[r.field]).join(','), lvl, stale, offline, cat, rank,
		alarms.map((a) => `${a.name}:${a.severity}:${a.active}:${a.acked}`).join(',')].join('|');
	return { cells, top, bottom, level: lvl, stale, offline, alarms, active, alarmSince, cat, rank, key };
}

// The unit of a reading: from the twin's model ("unit" of its reported property) when it has one.
export function unitOf(field, twin, models) {
	const model = twin.model ? models.get(twin.model) : null;
	const prop = model && model.reported && model.reported.properties && model.reported.properties[field];
	if (prop && typeof prop.unit === 'string')
		return prop.unit;
	return READINGS.find((r) => r.field === field).unit;
}
