// twinapi.js - the dashboard's only MQTT code: one MQTT.js connection (MQTT v5 over WebSockets, the
// global `mqtt` of the bundled mqtt.min.js), $twin requests answered on a response topic with
// correlation data, and the $twin/+/events subscription. Knows nothing of the page: it hands
// answers back as {status, body} and events to the callback given to onEvent.

const EVENTS = '$twin/+/events';
const EVENT_TOPIC = /^\$twin\/([^/]+)\/events$/;

export class TwinApi {
	// url: ws://host:port/ ; options: {username, password}
	constructor(url, { username = '', password = '' } = {}) {
		this.url = url;
		this.clientId = `dash-${Math.random().toString(16).slice(2, 12)}`;
		// answers are targeted at the requester: no subscription (and no READ ACL) needed
		this.replyTopic = `replies/${this.clientId}`;
		this.username = username;
		this.password = password;
		this.pending = new Map(); // correlation id -> {resolve, timer}
		this.seq = 0;
		this.eventHandlers = [];
		this.statusHandlers = [];
		this.client = null;
	}

	onEvent(fn) {
		this.eventHandlers.push(fn);
	}

	// fn(state, detail): state is 'connecting', 'connected', 'offline' or 'error'; fn is also told
	// of every reconnection ('connected' with detail.reconnect = true)
	onStatus(fn) {
		this.statusHandlers.push(fn);
	}

	status(state, detail = {}) {
		for (const fn of this.statusHandlers)
			fn(state, detail);
	}

	// Resolves on the first CONNACK, once the events subscription is sent: the broker handles a client's
	// packets in order, so a request sent after it is answered with the subscription in place (no need
	// to wait for the SUBACK, a round trip). MQTT.js then reconnects by itself and re-subscribes.
	connect() {
		const opts = {
			protocolVersion: 5,
			clientId: this.clientId,
			clean: true,
			reconnectPeriod: 2000,
			connectTimeout: 10000,
		};
		if (this.username)
			opts.username = this.username;
		if (this.password)
			opts.password = this.password;
		this.status('connecting');
		this.client = window.mqtt.connect(this.url, opts);
		let first = true;
		return new Promise((resolve) => {
			this.client.on('connect', () => {
				this.client.subscribe(EVENTS, { qos: 0 }, (err) => {
					if (err)
						this.status('error', { error: `subscribe ${EVENTS}: ${err.message}` });
				});
				this.status('connected', { reconnect: !first });
				if (first) {
					first = false;
					resolve();
				}
			});
			this.client.on('offline', () => this.status('offline'));
			this.client.on('error', (err) => this.status('error', { error: err.message }));
			this.client.on('message', (topic, payload, packet) => this.dispatch(topic, payload, packet));
		});
	}

	dispatch(topic, payload, packet) {
		const props = packet.properties || {};
		if (topic === this.replyTopic && props.correlationData) {
			const corr = new TextDecoder().decode(props.correlationData);
			const p = this.pending.get(corr);
			if (!p)
				return; // late answer to a request that timed out
			this.pending.delete(corr);
			clearTimeout(p.timer);
			const status = Number((props.userProperties || {}).status || 0);
			let body = null;
			try {
				body = JSON.parse(new TextDecoder().decode(payload));
			} catch (e) {
				body = { error: `answer is not JSON: ${e.message}` };
			}
			p.resolve({ status, body });
			return;
		}
		const m = EVENT_TOPIC.exec(topic);
		if (!m)
			return;
		let ev;
		try {
			ev = JSON.parse(new TextDecoder().decode(payload));
		} catch (e) {
			return;
		}
		for (const fn of this.eventHandlers)
			fn(ev);
	}

	// One request; resolves to {status, body}, or {status: 0, body: {error}} when no answer came
	// within timeoutMs (an ACL that refuses the request sends no answer at all).
	request(topic, body, timeoutMs = 10000) {
		const corr = `${this.clientId}-${++this.seq}`;
		return new Promise((resolve) => {
			const timer = setTimeout(() => {
				this.pending.delete(corr);
				resolve({ status: 0, body: { error: `no answer to ${topic} within ${timeoutMs / 1000} s` } });
			}, timeoutMs);
			this.pending.set(corr, { resolve, timer });
			this.client.publish(topic, body === undefined ? '' : JSON.stringify(body), {
				qos: 0,
				properties: { responseTopic: this.replyTopic, correlationData: corr },
			});
		});
	}

	get(id, fields) {
		return this.request(`$twin/${id}/get`, fields ? { fields } : undefined);
	}

	update(id, body) {
		return this.request(`$twin/${id}/update`, body);
	}

	history(id, body) {
		return this.request(`$twin/${id}/history`, body);
	}

	// Acknowledges alarm `name` of twin id; answered like an update (404: the twin has no such alarm).
	ack(id, name) {
		return this.request(`$twin/${id}/ack`, { alarm: name });
	}

	// Every model the broker knows ({models: [...]}), and the model of one twin.
	models() {
		return this.request('$twin/models');
	}

	model(id) {
		return this.request(`$twin/${id}/model`);
	}

	// Every twin `req` (filter, fields) matches, page after page (keyset cursor): the first page
	// `firstLimit` long, the others `limit`. onPage(items, n) is called for each page as it comes (n: the
	// twins so far). Resolves to the number of twins; rejects with an Error naming the status when a page
	// fails.
	async search(req, { limit = 200, firstLimit = limit, onPage }) {
		let cursor;
		let n = 0;
		for (let page = 0; ; page++) {
			const body = { ...req, limit: page ? limit : firstLimit };
			if (cursor)
				body.cursor = cursor;
			const a = await this.request('$twin/search', body, 30000);
			if (a.status !== 200)
				throw new Error(`search: ${a.status || 'no answer'} ${a.body && a.body.error ? a.body.error : ''}`);
			n += a.body.items.length;
			onPage(a.body.items, n);
			cursor = a.body.cursor;
			if (!cursor)
				return n;
		}
	}
}
