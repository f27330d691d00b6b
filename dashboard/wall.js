// wall.js - wall-screen mode, for a screen on the wall of the operations room: large type, no controls,
// the floor map of one site at a time beside what needs attention, moving on to the next site every
// cycleSeconds. Owns only the cycling; the page's style does the rest (body.wall).

export class Wall {
	// map: the FloorMap; label: the element naming the site on show
	constructor(map, label, cfg) {
		this.map = map;
		this.label = label;
		this.cfg = cfg;
		this.timer = null;
		this.site = null;
	}

	get on() {
		return this.timer !== null;
	}

	start() {
		document.body.classList.add('wall');
		this.timer = setInterval(() => this.next(), Math.max(2, this.cfg.cycleSeconds) * 1000);
		this.show(this.site);
	}

	stop() {
		clearInterval(this.timer);
		this.timer = null;
		document.body.classList.remove('wall');
		for (const s of this.map.root.querySelectorAll('.fm-site'))
			s.classList.remove('on-wall');
		this.label.textContent = '';
	}

	next() {
		const sites = this.map.siteNames();
		this.show(sites[(sites.indexOf(this.site) + 1) % sites.length]);
	}

	// Shows `site` (or the first one); called again after the map changed (a site may have appeared).
	show(site) {
		if (!this.on)
			return;
		const sites = this.map.siteNames();
		this.site = sites.includes(site) ? site : sites[0] ?? null;
		for (const s of this.map.root.querySelectorAll('.fm-site'))
			s.classList.toggle('on-wall', s.dataset.site === this.site);
		this.label.textContent = this.site === null ? '' : `Site ${this.site} (${sites.indexOf(this.site) + 1} of ${sites.length})`;
	}
}
