// config.js - the dashboard's settings. Defaults live here; every one can be overridden by a URL
// parameter of the same name (index.html?tempWarn=25&staleSeconds=120&broker=ws://host:8080), so one
// served copy fits several sites. Owns nothing but reading and checking these values.

export const DEFAULTS = {
	// MQTT over WebSockets; '' = the page's own host and port (ws:, or wss: when the page is https:)
	broker: '',
	username: '',
	password: '',
	// temperatures (°C, reported.tempTop / tempBottom): above warn = amber, above crit = red
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
	// full re-read of the list (search) and of who is connected (get), in seconds; 0 = never
	refreshSeconds: 30,
	// twins per $twin/search page (1-200) when loading the list
	pageSize: 200,
	// history entries asked for the detail's sparklines
	historyLimit: 50,
	// initial filters (also kept in the address bar as the user changes them)
	site: '',
	row: '',
};

// Values that are numbers; the rest are strings.
const NUMERIC = Object.keys(DEFAULTS).filter((k) => typeof DEFAULTS[k] === 'number');

// The configuration: DEFAULTS, overridden by `overrides` (an object, e.g. from a page that embeds
// the dashboard) and then by the URL parameters. A number that does not parse keeps its default.
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
	if (!cfg.broker) {
		const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
		cfg.broker = `${scheme}//${window.location.host}/`;
	}
	return cfg;
}
