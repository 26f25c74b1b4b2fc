// A small BullMQ system on Redis, instrumented the way BullMQ documents it: the Queue's and
// Worker's `telemetry` option set to `new BullMQOtel(...)` (bullmq-otel), under the
// OpenTelemetry NodeSDK exporting OTLP/gRPC.
//
//   node bullmq.js producer   under SERVER spans `POST /signup`, adds WELCOMES `welcome` jobs
//                             to the queue `emails`; under `POST /orders`, RECEIPTS `receipt`
//                             jobs to `emails`; under `POST /reports`, REPORTS `monthly` jobs
//                             to `reports`, which no worker reads
//   node bullmq.js worker     a Worker on QUEUE (concurrency 1), DELAY_MS per job; the first
//                             attempt of every job named FAIL_JOB throws (attempts: 2, so it
//                             runs again); prints `ready`, exits after EXPECT completed jobs
//
// Environment: OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_ENDPOINT (hopscope serve's gRPC),
// REDIS_URL. Written for the end-to-end test tests/tests/node_bullmq.rs.
'use strict';

const { NodeSDK } = require('@opentelemetry/sdk-node');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-grpc');
const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');

const sdk = new NodeSDK({
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter(), { scheduledDelayMillis: 200 })],
  instrumentations: [],
});
sdk.start();

const { Queue, Worker } = require('bullmq');
const { BullMQOtel } = require('bullmq-otel');
const api = require('@opentelemetry/api');

const connection = () => {
  const url = new URL(process.env.REDIS_URL);
  return { host: url.hostname, port: Number(url.port), maxRetriesPerRequest: null };
};
const telemetry = () => new BullMQOtel({ tracerName: 'hopscope-bullmq' });

async function producer() {
  const emails = new Queue('emails', { connection: connection(), telemetry: telemetry() });
  const reports = new Queue('reports', { connection: connection(), telemetry: telemetry() });
  const tracer = api.trace.getTracer('bullmq-system');
  const request = (route, queue, name, data) =>
    tracer.startActiveSpan(route, { kind: api.SpanKind.SERVER }, async (span) => {
      await queue.add(name, data, { attempts: 2, removeOnComplete: true });
      span.end();
    });
  for (let i = 0; i < Number(process.env.WELCOMES || 10); i += 1) {
    await request('POST /signup', emails, 'welcome', { user: i });
  }
  for (let i = 0; i < Number(process.env.RECEIPTS || 5); i += 1) {
    await request('POST /orders', emails, 'receipt', { order: i });
  }
  for (let i = 0; i < Number(process.env.REPORTS || 2); i += 1) {
    await request('POST /reports', reports, 'monthly', { month: i });
  }
  await emails.close();
  await reports.close();
}

async function worker() {
  const expect = Number(process.env.EXPECT);
  const delay = Number(process.env.DELAY_MS || 0);
  let completed = 0;
  let resolveDone;
  const done = new Promise((r) => {
    resolveDone = r;
  });
  const w = new Worker(
    process.env.QUEUE,
    async (job) => {
      await new Promise((r) => setTimeout(r, delay));
      if (job.name === process.env.FAIL_JOB && job.attemptsMade === 0) {
        throw new Error(`${job.name} ${job.id} failed on its first attempt`);
      }
      return 'ok';
    },
    { connection: connection(), telemetry: telemetry(), concurrency: 1, name: process.env.OTEL_SERVICE_NAME },
  );
  w.on('completed', () => {
    completed += 1;
    if (completed === expect) resolveDone();
  });
  await w.waitUntilReady();
  console.log('ready');
  await done;
  await w.close();
}

const role = process.argv[2];
({ producer, worker })[role]()
  .then(() => sdk.shutdown())
  .then(() => process.exit(0))
  .catch((e) => {
    console.error(e);
    process.exit(1);
  });
