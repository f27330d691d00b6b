// One device's Azure IoT Hub twin through the unchanged azure-iot-device + azure-iot-device-mqtt
// (MQTT 3.1.1 over mutual TLS, X.509; the certificate's CN is the device id): getTwin, reported
// patches (one removes a property), desired patches pushed after changes made through $twin and
// through the AWS shadow front, a second getTwin, and a reported patch over max_twin_bytes (error).
// Parameters (JSON in argv[2]): port, ca, cert, key, device, oversize (bytes of the too-large value).
// Pauses: native-desired, aws-desired (the test changes desired, then answers "go").
'use strict';
const fs = require('fs');
const {Client} = require('azure-iot-device');
const {Mqtt} = require('azure-iot-device-mqtt');
const {params: p, out, fail, check, pause, Events, within, run} = require('./scenario.cjs');

const events = new Events();
const plain = (x) => JSON.parse(JSON.stringify(x));   // drops properties.reported.update()

function report(twin, patch) {
  return within(new Promise((resolve) => twin.properties.reported.update(patch, (err) => resolve(err))),
                5000, 'answer to the reported patch ' + JSON.stringify(patch).slice(0, 80));
}

async function reportOk(name, twin, patch) {
  const err = await report(twin, patch);
  check(!err, name + ': reported patch failed: ' + (err && err.message));
  out(name, {reported: plain(twin.properties.reported)});
}

run(async () => {
  const cs = `HostName=localhost:${p.port};DeviceId=${p.device};x509=true`;
  const client = Client.fromConnectionString(cs, Mqtt);
  client.setOptions({cert: fs.readFileSync(p.cert, 'utf8'), key: fs.readFileSync(p.key, 'utf8'),
                     ca: fs.readFileSync(p.ca, 'utf8')});
  client.on('error', (e) => fail('client error: ' + e.message));
  client.on('disconnect', (e) => fail('client disconnected: ' + (e && e.message)));
  await within(client.open(), 10000, 'TLS connection');
  out('connected', {});

  const twin = await within(client.getTwin(), 5000, 'answer to getTwin');
  twin.on('error', (e) => fail('twin error: ' + e.message));
  out('get', {properties: plain(twin.properties)});
  twin.on('properties.desired', (d) => events.push('desired', plain(d)));

  await reportOk('reported', twin, {temp: 21.5, fw: '1.0', nested: {a: 1}});

  await pause('native-desired');         // the test sets desired.fan = "high" through $twin
  const fan = (v) => events.next('desired', (d) => d.fan === v, 'desired patch fan=' + v);
  out('desired', {patch: await fan('high')});
  await pause('aws-desired');            // the test sets desired.fan = "low" through the AWS front
  out('aws-desired', {patch: await fan('low')});

  await reportOk('reported-remove', twin, {fw: null});
  await within(client.getTwin(), 5000, 'answer to the second getTwin');
  out('get-again', {properties: plain(twin.properties)});

  const err = await report(twin, {blob: 'x'.repeat(p.oversize)});
  check(err, 'a reported patch of ' + p.oversize + ' bytes was accepted');
  out('oversize', {error: err.message, name: err.constructor.name});
});
