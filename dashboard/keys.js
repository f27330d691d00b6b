// keys.js - the dashboard by keyboard. Anywhere (but in a text field or the open detail): 1-4 switch
// views, w wall-screen mode, Esc leaves it. In a view: the arrow keys move between its items (rows of a
// list up and down; tiles and floor-map cells to the nearest one in that direction, across rows and
// sites), Home and End to the first and last, Enter opens the rack, a acknowledges the first
// unacknowledged alarm of the focused row.

const ITEMS = '.att-row, .alarm-row, .tile, .fm-cell';
const LISTS = new Set(['att-row', 'alarm-row']);

// The item nearest to `from` in direction (dx, dy): the closest line first, then the closest across.
function nearest(items, from, dx, dy) {
	const r = from.getBoundingClientRect();
	const cx = r.left + r.width / 2;
	const cy = r.top + r.height / 2;
	let best = null;
	let bestScore = Infinity;
	for (const it of items) {
		if (it === from)
			continue;
		const q = it.getBoundingClientRect();
		if (!q.width)
			continue; // not laid out (another site in wall mode, a hidden view)
		const x = q.left + q.width / 2 - cx;
		const y = q.top + q.height / 2 - cy;
		const along = dx ? x * dx : y * dy;
		const across = dx ? Math.abs(y) : Math.abs(x);
		if (along <= 1)
			continue;
		const score = dx ? across * 1000 + along : along * 1000 + across;
		if (score < bestScore) {
			bestScore = score;
			best = it;
		}
	}
	return best;
}

const typing = (t) => t && (t.isContentEditable || ['INPUT', 'SELECT', 'TEXTAREA'].includes(t.tagName));

// main: the element holding the views; act: {view(name), wall(), unwall(), detailOpen()}
export function keyboard(main, act) {
	document.addEventListener('keydown', (e) => {
		if (e.altKey || e.ctrlKey || e.metaKey || typing(e.target) || act.detailOpen())
			return;
		const views = { 1: 'attention', 2: 'map', 3: 'racks', 4: 'alarms' };
		if (views[e.key]) {
			act.view(views[e.key]);
		} else if (e.key === 'w') {
			act.wall();
		} else if (e.key === 'Escape') {
			act.unwall();
		} else {
			return;
		}
		e.preventDefault();
	});
	main.addEventListener('keydown', (e) => {
		if (e.altKey || e.ctrlKey || e.metaKey || typing(e.target))
			return;
		const view = e.target.closest('.view') || main.querySelector('.view:not([hidden])');
		if (!view)
			return;
		const items = [...view.querySelectorAll(ITEMS)];
		const cur = e.target.closest(ITEMS);
		const list = cur ? [...LISTS].some((c) => cur.classList.contains(c)) : true;
		let next = null;
		switch (e.key) {
			case 'ArrowDown':
			case 'ArrowUp': {
				const d = e.key === 'ArrowDown' ? 1 : -1;
				if (!cur)
					next = items[0];
				else if (list)
					next = items[items.indexOf(cur) + d];
				else
					next = nearest(items, cur, 0, d);
				break;
			}
			case 'ArrowRight':
			case 'ArrowLeft':
				if (cur && !list)
					next = nearest(items, cur, e.key === 'ArrowRight' ? 1 : -1, 0);
				break;
			case 'Home':
				next = items[0];
				break;
			case 'End':
				next = items[items.length - 1];
				break;
			case 'Enter':
			case ' ':
				if (cur && cur.tagName !== 'BUTTON' && e.target === cur)
					cur.click();
				else
					return;
				break;
			case 'a': {
				const ack = cur && cur.querySelector('button.ack');
				if (ack)
					ack.click();
				break;
			}
			default:
				return;
		}
		e.preventDefault();
		if (next) {
			next.focus();
			next.scrollIntoView({ block: 'nearest', inline: 'nearest' });
		}
	});
}
