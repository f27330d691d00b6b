// twinmodels.js - the twin models the broker knows (`$twin/models`): read at start, and one at a time
// (`$twin/{id}/model`) when a twin names a model that was not in the list. A broker without models, or
// an ACL that does not let the dashboard ask, leaves the set empty: racks are then coloured by the
// thresholds, as before models existed.

export class Models {
	// onChange(): a model arrived (statuses that depend on it must be worked out again)
	constructor(api, onChange) {
		this.api = api;
		this.onChange = onChange;
		this.byName = new Map();
		this.asked = new Set(); // model names asked for one by one
	}

	get(name) {
		return this.byName.get(name) || null;
	}

	async load() {
		const a = await this.api.models();
		if (a.status !== 200 || !a.body || !Array.isArray(a.body.models))
			return;
		for (const m of a.body.models)
			if (m && typeof m.name === 'string')
				this.byName.set(m.name, m);
		this.onChange();
	}

	// Twin id names model `name`: make sure it is known (asked once per name).
	need(name, id) {
		if (!name || this.byName.has(name) || this.asked.has(name))
			return;
		this.asked.add(name);
		this.api.model(id).then((a) => {
			if (a.status === 200 && a.body && a.body.name === name) {
				this.byName.set(name, a.body);
				this.onChange();
			}
		});
	}
}
