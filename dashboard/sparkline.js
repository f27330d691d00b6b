// sparkline.js - a small SVG line chart of a few series over time (the detail's history), with the
// newest value of each series labelled. Pure: points in, SVG element out.

const SVG = 'http://www.w3.org/2000/svg';

// series: [{name, cls, points: [[ts, value], ...]}]; returns an <svg> (viewBox-scaled, so it takes
// the width of its container).
export function sparkline(series, { width = 300, height = 60, unit = '' } = {}) {
	const svg = document.createElementNS(SVG, 'svg');
	svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
	svg.setAttribute('preserveAspectRatio', 'none');
	svg.classList.add('spark');
	const all = series.flatMap((s) => s.points);
	if (all.length === 0)
		return svg;
	let t0 = Math.min(...all.map((p) => p[0]));
	let t1 = Math.max(...all.map((p) => p[0]));
	let v0 = Math.min(...all.map((p) => p[1]));
	let v1 = Math.max(...all.map((p) => p[1]));
	if (t1 === t0)
		t1 = t0 + 1;
	if (v1 - v0 < 1) {
		const mid = (v0 + v1) / 2;
		v0 = mid - 0.5;
		v1 = mid + 0.5;
	}
	const pad = 4;
	const x = (t) => pad + ((t - t0) / (t1 - t0)) * (width - 2 * pad);
	const y = (v) => height - pad - ((v - v0) / (v1 - v0)) * (height - 2 * pad);
	for (const s of series) {
		if (!s.points.length)
			continue;
		const line = document.createElementNS(SVG, 'polyline');
		line.setAttribute('points', s.points.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' '));
		line.setAttribute('class', `spark-line ${s.cls || ''}`);
		line.setAttribute('vector-effect', 'non-scaling-stroke');
		const title = document.createElementNS(SVG, 'title');
		const last = s.points[s.points.length - 1][1];
		title.textContent = `${s.name}: ${s.points.length} points, last ${last}${unit}`;
		line.append(title);
		svg.append(line);
	}
	return svg;
}
