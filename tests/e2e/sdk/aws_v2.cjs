// A named AWS IoT Device Shadow through the unchanged aws-iot-device-sdk-v2 `IotShadowClientv2`
// (aws-crt, mutual TLS; MQTT 5, or MQTT 3.1.1 with protocol "mqtt311"): get of a missing classic
// shadow (404), delta and documents streams, update, get, a delta caused by another client, a stale
// version (409), a shadow name with `~` (400), delete, and get after delete (404).
// Parameters (JSON in argv[2]): port, ca, cert, key, thing, shadow, missing (a thing without
// shadow), clientId, protocol. Pause: native (the test finds the twin thing~shadow with $twin/search
// and changes the shadow through the AWS front from another client).
'use strict';
const {iot, mqtt, mqtt5, iotshadow} = require('aws-iot-device-sdk-v2');
const {params: p, ms, out, fail, check, pause, Events, within, run} = require('./scenario.cjs');

const events = new Events();
const named = {thingName: p.thing, shadowName: p.shadow};

// the SDK's protocol client (MQTT 5 unless p.protocol is "mqtt311") and its shadow client
async function connect() {
  const rr = {maxRequestResponseSubscriptions: 4, maxStreamingSubscriptions: 2,
              operationTimeoutInSeconds: ms(5)};
  if (p.protocol === 'mqtt311') {
    const builder = iot.AwsIotMqttConnectionConfigBuilder.new_mtls_builder_from_path(p.cert, p.key);
    builder.with_endpoint('localhost').with_port(p.port);
    builder.with_certificate_authority_from_path(undefined, p.ca);
    builder.with_client_id(p.clientId).with_clean_session(true);
    const conn = new mqtt.MqttClient().new_connection(builder.build());
    conn.on('interrupt', (e) => fail('MQTT 3.1.1 connection interrupted: ' + e));
    await within(conn.connect(), 10000, 'TLS connection');
    return iotshadow.IotShadowClientv2.newFromMqtt311(conn, rr);
  }
  const builder = iot.AwsIotMqtt5ClientConfigBuilder.newDirectMqttBuilderWithMtlsFromPath(
    'localhost', p.cert, p.key);
  builder.withPort(p.port).withCertificateAuthorityFromPath(undefined, p.ca);
  builder.withConnectProperties({clientId: p.clientId, keepAliveIntervalSeconds: 60});
  const client = new mqtt5.Mqtt5Client(builder.build());
  client.on('connectionFailure', (e) => fail('MQTT 5 connection failed: ' + (e.error || e)));
  client.on('disconnection', (e) => fail('MQTT 5 disconnected: ' + JSON.stringify(e)));
  client.on('connectionSuccess', () => events.push('connect', {}));
  client.start();
  await events.next('connect', () => true, 'TLS connection', 10000);
  return iotshadow.IotShadowClientv2.newFromMqtt5(client, rr);
}

// a request that must be accepted (resolves with the accepted document)
async function accepted(name, promise) {
  let doc;
  try {
    doc = await promise;
  } catch (e) {
    fail(name + ' was rejected: ' + e.message + ' ' +
         JSON.stringify(e.modeledError || e.internalError));
  }
  out(name, {doc});
  return doc;
}

// a request that must be rejected with the modeled error `code`
async function rejected(name, promise, code) {
  let doc;
  try {
    doc = await promise;
  } catch (e) {
    out(name, {error: e.message, doc: e.modeledError});
    check(e.modeledError && e.modeledError.code === code,
          name + ': expected the modeled error ' + code + ', got ' + e.message,
          e.modeledError || e.internalError);
    return e.modeledError;
  }
  fail(name + ' was accepted, expected ' + code + ': ' + JSON.stringify(doc));
}

// opens a stream and resolves once its subscription is established
async function openStream(kind, stream) {
  stream.on('subscriptionStatus', (e) => events.push(kind + '-sub', e));
  stream.on('incomingPublish', (e) => events.push(kind, e.message));
  stream.on('incomingPublishError', (e) => fail(kind + ' stream could not read a message: ' + e.error));
  stream.open();
  const st = await events.next(kind + '-sub', () => true, kind + ' stream subscription status');
  check(st.type === 0, kind + ' stream subscription not established', st);   // SubscriptionEstablished
  out(kind + '-stream', {status: st.type});
  return stream;
}

run(async () => {
  const shadow = await connect();
  out('connected', {protocol: p.protocol || 'mqtt5'});

  await rejected('get-missing', shadow.getShadow({thingName: p.missing}), 404);
  await openStream('delta', shadow.createNamedShadowDeltaUpdatedStream(named));
  await openStream('documents', shadow.createNamedShadowUpdatedStream(named));

  await accepted('update', shadow.updateNamedShadow(Object.assign({
    state: {desired: {rate: 5, mode: 'eco'}, reported: {rate: 1, mode: 'eco'}}}, named)));
  out('delta', {doc: await events.next('delta', (d) => d.state && d.state.rate === 5, 'delta rate=5')});
  out('documents', {doc: await events.next('documents', () => true, 'update/documents of the update')});
  await accepted('get', shadow.getNamedShadow(named));

  await pause('native');                 // another client sets desired.rate = 7 on the named shadow
  out('native-delta', {doc: await events.next('delta', (d) => d.state && d.state.rate === 7,
                                              'delta rate=7 after the other client\'s update')});

  await rejected('stale-update', shadow.updateNamedShadow(Object.assign({
    state: {reported: {rate: 7}}, version: 1}, named)), 409);
  await rejected('tilde-name', shadow.updateNamedShadow({
    thingName: p.thing, shadowName: 'a~b', state: {reported: {x: 1}}}), 400);
  await accepted('delete', shadow.deleteNamedShadow(named));
  await rejected('get-after-delete', shadow.getNamedShadow(named), 404);
});
