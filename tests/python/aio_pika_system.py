"""A small aio-pika system instrumented with opentelemetry-instrumentation-aio-pika, for
hopscope's end-to-end test tests/tests/python_rabbitmq.rs.

  python aio_pika_system.py publisher  under SERVER spans `POST /jobs`, publishes JOBS
                                       messages to the queue `aio-tasks` through the default
                                       exchange; under `POST /users`, SIGNUPS `user.signed_up`
                                       and DELETES `user.deleted` to the topic exchange
                                       `shop`; every message has a message id
  python aio_pika_system.py consumer   consumes QUEUE (bound to `shop` with KEY unless
                                       EXCHANGE is empty, the default exchange), DELAY_MS per
                                       message; prints `ready` once bound, exits after EXPECT

Environment: OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_ENDPOINT, AMQP_URL.
"""

import asyncio
import os
import sys

import aio_pika
from opentelemetry import trace
from opentelemetry.instrumentation.aio_pika import AioPikaInstrumentor

import telemetry

EXCHANGE = "shop"


async def publisher():
    connection = await aio_pika.connect(os.environ["AMQP_URL"])
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        events = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC)
        await channel.declare_queue("aio-tasks", auto_delete=False)
        tracer = trace.get_tracer("aio-pika-system")

        async def send(route, exchange, key, message_id):
            with tracer.start_as_current_span(route, kind=trace.SpanKind.SERVER):
                message = aio_pika.Message(body=message_id.encode(), message_id=message_id)
                await exchange.publish(message, routing_key=key)

        for i in range(int(os.environ.get("JOBS", "10"))):
            await send("POST /jobs", channel.default_exchange, "aio-tasks", f"job-{i}")
        for i in range(int(os.environ.get("SIGNUPS", "10"))):
            await send("POST /users", events, "user.signed_up", f"user-{i}")
            if i < int(os.environ.get("DELETES", "3")):
                await send("DELETE /users/:id", events, "user.deleted", f"deleted-{i}")
            await asyncio.sleep(0.005)


async def consumer():
    queue_name, key = os.environ["QUEUE"], os.environ.get("KEY", "")
    exchange = os.environ.get("EXCHANGE", EXCHANGE)
    expect, delay = int(os.environ["EXPECT"]), int(os.environ.get("DELAY_MS", "0")) / 1000
    connection = await aio_pika.connect(os.environ["AMQP_URL"])
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=1)
        queue = await channel.declare_queue(queue_name, auto_delete=False)
        if exchange:
            events = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC)
            await queue.bind(events, routing_key=key)
        done = asyncio.Event()
        seen = 0

        async def on_message(message):
            nonlocal seen
            await asyncio.sleep(delay)
            await message.ack()
            seen += 1
            if seen == expect:
                done.set()

        await queue.consume(on_message)
        print("ready", flush=True)
        await done.wait()


if __name__ == "__main__":
    provider = telemetry.start()
    AioPikaInstrumentor().instrument()
    asyncio.run({"publisher": publisher, "consumer": consumer}[sys.argv[1]]())
    telemetry.stop(provider)
