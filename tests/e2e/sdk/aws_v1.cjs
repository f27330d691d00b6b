// The classic AWS IoT Device Shadow of one thing through the unchanged aws-iot-device-sdk v1
// `thingShadow` (MQTT 3.1.1 over mutual TLS): update, delta, get, a delta caused by a $twin change, a
// version conflict after a $twin change the SDK did not see, delete, get after delete, and an update
// that makes the shadow again (the SDK sends the version of the delete).
// Parameters (JSON in argv[2]): port, ca, cert, key, thing, clientId. Pauses: native-desired,
// native-attributes (the test changes the twin through $twin, then answers "go"), deleted.
'use strict';
const awsIot = require('aws-iot-device-sdk');
const {params: p, ms, out, fail, check, pause, Events, run} = require('./scenario.cjs');

const events = new Events();
const shadow = awsIot.thingShadow({
  host: 'localhost', port: p.port, protocol: 'mqtts', caPath: p.ca, certPath: p.cert, keyPath: p.key,
  clientId: p.clientId, enableMetrics: false,
}, {operationTimeout: ms(5000)});
shadow.on('error', (e) => fail('thingShadow error: ' + e));
shadow.on('offline', () => fail('thingShadow went offline'));
shadow.on('connect', () => events.push('connect', {}));
shadow.on('status', (thing, stat, token, doc) => events.push('answer', {thing, stat, token, doc}));
shadow.on('timeout', (thing, token) => events.push('answer', {thing, stat: 'timeout', token}));
shadow.on('delta', (thing, doc) => events.push('delta', doc));
shadow.on('foreignStateChange', (thing, op, doc) => out('foreign', {op, doc}));

// one shadow operation; resolves with the SDK's status event for its client token
async function op(name, start, expected) {
  const token = start();
  check(token !== null, 'thingShadow refused to start ' + name);
  const a = await events.next('answer', (x) => x.token === token, 'answer to ' + name);
  out(name, {stat: a.stat, token: a.token, doc: a.doc});
  check(a.stat === expected, name + ': status ' + a.stat + ', expected ' + expected, a.doc);
  return a.doc;
}

const deltaWith = (key, value) => (d) => d.state && d.state[key] === value;

run(async () => {
  await events.next('connect', () => true, 'TLS connection', 10000);
  out('connected', {});
  await new Promise((resolve) => shadow.register(p.thing, {}, (err, failed) => {
    check(!err, 'register failed', {err, failed});
    resolve();
  }));
  out('registered', {});

  await op('update', () => shadow.update(p.thing, {state: {desired: {led: 'on', rate: 5},
                                                           reported: {led: 'off', rate: 5}}}),
           'accepted');
  out('delta', {doc: await events.next('delta', deltaWith('led', 'on'), 'delta led=on')});
  await op('get', () => shadow.get(p.thing), 'accepted');

  await pause('native-desired');        // the test sets desired.led = "blink" through $twin
  out('native-delta', {doc: await events.next('delta', deltaWith('led', 'blink'),
                                               'delta led=blink after the $twin update')});

  await pause('native-attributes');     // the test bumps the version through $twin attributes
  const blink = () => shadow.update(p.thing, {state: {reported: {led: 'blink'}}});
  const conflict = await op('stale-update', blink, 'rejected');
  check(conflict.code === 409, 'stale update rejected with code ' + conflict.code, conflict);

  await op('get-after-conflict', () => shadow.get(p.thing), 'accepted');
  await op('update-after-get', blink, 'accepted');
  await op('delete', () => shadow.delete(p.thing), 'accepted');
  const gone = await op('get-after-delete', () => shadow.get(p.thing), 'rejected');
  check(gone.code === 404, 'get after delete rejected with code ' + gone.code + ', expected 404', gone);

  await pause('deleted');               // the test sees the twin gone through $twin
  await op('recreate', () => shadow.update(p.thing, {state: {reported: {led: 'off'}}}), 'accepted');
});
