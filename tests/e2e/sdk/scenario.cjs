// The harness the SDK scenario scripts (aws_v1.cjs, aws_v2.cjs, azure.cjs) share: their parameters
// (one JSON object in argv[2]), one JSON line per observation on stdout, pauses the Python test ends
// with a line on stdin, a queue of SDK events to wait on, time limits and the overall timeout. A
// failure prints `FAIL: why` on stderr and exits 1.
'use strict';
const readline = require('readline');

const params = JSON.parse(process.argv[2] || '{}');
// a time limit in ms, stretched when the broker runs slower (valgrind): params.slowdown
const ms = (n) => n * (params.slowdown || 1);

function out(step, data) {
  process.stdout.write(JSON.stringify(Object.assign({step}, data)) + '\n');
}

function fail(why) {
  process.stderr.write('FAIL: ' + why + '\n');
  process.exit(1);
}

function check(cond, why, data) {
  if (!cond) fail(why + (data === undefined ? '' : ': ' + JSON.stringify(data)));
}

// what the Python test sends on stdin, one line per pause
const stdinLines = [];
let stdinWaiter = null;
readline.createInterface({input: process.stdin}).on('line', (line) => {
  if (stdinWaiter) {
    const w = stdinWaiter;
    stdinWaiter = null;
    w(line);
  } else {
    stdinLines.push(line);
  }
});

// {"wait": name} on stdout, then resumes when the test answers with a line ("go")
function pause(name) {
  process.stdout.write(JSON.stringify({wait: name}) + '\n');
  if (stdinLines.length) return Promise.resolve(stdinLines.shift());
  return new Promise((resolve) => { stdinWaiter = resolve; });
}

// SDK events in arrival order; next() takes the first one that matches, waiting up to ms for it
class Events {
  constructor() { this.queue = []; this.waiters = []; }

  push(kind, data) {
    const w = this.waiters.find((x) => x.kind === kind && x.pred(data));
    if (w) {
      this.waiters.splice(this.waiters.indexOf(w), 1);
      clearTimeout(w.timer);
      w.resolve(data);
    } else {
      this.queue.push({kind, data});
    }
  }

  next(kind, pred, what, limit = 8000) {
    const i = this.queue.findIndex((e) => e.kind === kind && pred(e.data));
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0].data);
    return new Promise((resolve) => {
      const w = {kind, pred, resolve};
      const unclaimed = () => JSON.stringify(this.queue).slice(0, 1500);
      const why = () => 'no ' + what + ' within ' + ms(limit) + ' ms; unclaimed events: ' + unclaimed();
      w.timer = setTimeout(() => fail(why()), ms(limit));
      this.waiters.push(w);
    });
  }
}

// resolves like promise, or fails after limit ms
function within(promise, limit, what) {
  let timer;
  const late = new Promise(() => {
    timer = setTimeout(() => fail('no ' + what + ' within ' + ms(limit) + ' ms'), ms(limit));
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

// runs main() under an overall timeout; exit 0 when it resolves
function run(main, limit = 20000) {
  setTimeout(() => fail('scenario did not finish within ' + ms(limit) + ' ms'), ms(limit)).unref();
  main().then(() => { out('done', {}); process.exit(0); },
              (e) => fail(e && e.stack ? e.stack : JSON.stringify(e)));
}

module.exports = {params, ms, out, fail, check, pause, Events, within, run};
