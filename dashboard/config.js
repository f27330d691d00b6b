// config.js - the dashboard's settings. Defaults live here; every one can be overridden by a URL
// parameter of the same name (index.html?tempWarn=25&staleSeconds=120&broker=ws://host:8080), so one
// served copy fits several sites. Owns nothing but reading and checking these values.

export const VIEWS = ['attention', 'map', 'racks', 'alarms'];
export const STATES = ['critical', 'warning', 'stale', 'disconnected', 'ok'];

export const DEFAULTS = {
	// MQTT over WebSockets; '' = the page's own host and port (ws:, or wss: when the page is https:)
	broker: '',
	username: '',
	password: '',
	// temperatures (°C, reported.tempTop / tempBottom) of racks without a model: above warn = amber,
	// above crit = red (a rack whose twin has a model is coloured by its alarms instead)
	tempWarn: 27,
	tempCrit: 32,
	// relative humidity (%, reported.humidityTop / humidityBottom): outside [low, high] = amber,
	// outside [critLow, critHigh] = red
	humidityLow: 20,
	humidityHigh: 60,
	humidityCritLow: 10,
	humidityCritHigh: 80,
	// a rack whose lastSeen is older than this is marked stale
	staleSeconds: 300,
	// re-read of who is connected and when each rack was last heard from (a search for those two
	// fields: events carry neither), in seconds; 0 = never
	refreshSeconds: 30,
	// twins per $twin/search page (1-200) when loading the list; the first page is firstPage long, so
	// that something is on screen early
	pageSize: 200,
	firstPage: 50,
	// racks the attention list shows at most (the summary counts them all)
	attentionMax: 100,
	// history entries asked for the detail's sparklines
	historyLimit: 50,
	// the view the page opens on (attention, map, racks, alarms) and the initial filters (all kept in
	// the address bar as the user changes them)
	view: 'attention',
	site: '',
	row: '',
	state: '',
	// wall-screen mode: 1 = large type, no controls, the floor map cycling through the sites every
	// cycleSeconds beside what needs attention
	wall: 0,
	cycleSeconds: 20,
};

// Values that are numbers; the rest are strings.
const NUMERIC = Object.keys(DEFAULTS).filter((k) => typeof DEFAULTS[k] === 'number');

// The configuration: DEFAULTS, overridden by `overrides` (an object, e.g. from a page that embeds
// the dashboard) and then by the URL parameters. A number that does not parse keeps its default, and
// so does a view or state that is not one of the known ones.
export function loadConfig(search = window.location.search, overrides = {}) {
	const cfg = { ...DEFAULTS, ...overrides };
	const params = new URLSearchParams(search);
	for (const key of Object.keys(DEFAULTS)) {
		if (!params.has(key))
			continue;
		const raw = params.get(key);
		if (NUMERIC.includes(key)) {
			const n = Number(raw);
			if (raw.trim() !== '' && Number.isFinite(n))
				cfg[key] = n;
		} else {
			cfg[key] = raw;
		}
	}
	if (!VIEWS.includes(cfg.view))
		cfg.view = DEFAULTS.view;
	if (cfg.state && !STATES.includes(cfg.state))
		cfg.state = '';
	cfg.pageSize = Math.min(200, Math.max(1, Math.round(cfg.pageSize)));
	cfg.firstPage = Math.min(cfg.pageSize, Math.max(1, Math.round(cfg.firstPage)));
	if (!cfg.broker) {
		const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
		cfg.broker = `${scheme}//${window.location.host}/`;
	}
	return cfg;
}
