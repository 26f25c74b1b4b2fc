// The Node.js system of hopscope issue 15, instrumented the way a Node user does it: the
// OpenTelemetry NodeSDK with @opentelemetry/instrumentation-amqplib, exporting OTLP/gRPC.
//
//   node system.js publisher   publishes SIGNUPS `user.signed_up` and DELETES `user.deleted`
//                              to the topic exchange `events`, each under a SIGNUP_ROUTE
//                              (default `POST /users`) or `DELETE /users/:id` SERVER span
//   node system.js consumer    consumes the queues in QUEUES (JSON: [{queue, key, expect,
//                              delayMs, requeueEvery, republish, rejectEvery, deadLetter}]),
//                              prints `ready` once they are bound, exits when every queue
//                              has acknowledged `expect` messages
//
// Environment: OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_ENDPOINT (hopscope serve's gRPC),
// AMQP_URL. Written for the end-to-end test tests/tests/node_amqp.rs.
'use strict';

const { NodeSDK } = require('@opentelemetry/sdk-node');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-grpc');
const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { AmqplibInstrumentation } = require('@opentelemetry/instrumentation-amqplib');

const sdk = new NodeSDK({
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter(), { scheduledDelayMillis: 200 })],
  instrumentations: [new AmqplibInstrumentation()],
});
sdk.start();

// Required after the SDK started, so the instrumentation patches it.
const amqp = require('amqplib');
const api = require('@opentelemetry/api');

const EXCHANGE = 'events';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function publisher() {
  const signups = Number(process.env.SIGNUPS || 20);
  const deletes = Number(process.env.DELETES || 5);
  const conn = await amqp.connect(process.env.AMQP_URL);
  const ch = await conn.createConfirmChannel();
  await ch.assertExchange(EXCHANGE, 'topic', { durable: false });
  const tracer = api.trace.getTracer('node-system');
  const send = (route, key, body) =>
    tracer.startActiveSpan(route, { kind: api.SpanKind.SERVER }, async (span) => {
      ch.publish(EXCHANGE, key, Buffer.from(JSON.stringify(body)));
      await ch.waitForConfirms();
      span.end();
    });
  for (let i = 0; i < signups; i += 1) {
    await send(process.env.SIGNUP_ROUTE || 'POST /users', 'user.signed_up', { user: i });
    if (i < deletes) await send('DELETE /users/:id', 'user.deleted', { user: i });
    await sleep(5);
  }
  await ch.close();
  await conn.close();
}

async function consumer() {
  const queues = JSON.parse(process.env.QUEUES);
  const conn = await amqp.connect(process.env.AMQP_URL);
  const done = [];
  for (const q of queues) {
    const ch = await conn.createChannel();
    const exchange = q.exchange || EXCHANGE;
    await ch.assertExchange(exchange, 'topic', { durable: false });
    const args = {};
    if (q.deadLetter) {
      await ch.assertExchange(q.deadLetter, 'topic', { durable: false });
      args.deadLetterExchange = q.deadLetter;
    }
    await ch.assertQueue(q.queue, { durable: false, ...args });
    await ch.bindQueue(q.queue, exchange, q.key);
    await ch.prefetch(1);
    let seen = 0;
    let acked = 0;
    done.push(
      new Promise((resolve) => {
        ch.consume(q.queue, async (msg) => {
          seen += 1;
          await sleep(q.delayMs || 0);
          if (q.requeueEvery && !msg.fields.redelivered && seen % q.requeueEvery === 0) {
            ch.nack(msg, false, true); // redelivered: one duplicate delivery
            return;
          }
          if (q.rejectEvery && seen % q.rejectEvery === 0) {
            ch.nack(msg, false, false); // to the dead-letter exchange
          } else {
            if (q.republish) ch.publish(EXCHANGE, q.republish, msg.content);
            ch.ack(msg);
          }
          acked += 1;
          if (acked === q.expect) resolve();
        });
      }),
    );
  }
  process.stdout.write('ready\n');
  await Promise.all(done);
  await sleep(300); // let the last consumer spans end (they end on ack)
  await conn.close();
}

const role = process.argv[2];
(role === 'publisher' ? publisher() : consumer())
  .then(() => sdk.shutdown())
  .then(() => process.exit(0))
  .catch((e) => {
    console.error(e);
    process.exit(1);
  });
