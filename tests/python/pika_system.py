"""A small pika system instrumented with opentelemetry-instrumentation-pika, for hopscope's
end-to-end test tests/tests/python_rabbitmq.rs.

  python pika_system.py publisher   under SERVER spans `POST /jobs`, publishes JOBS messages
                                    to the queue `tasks` through the default exchange; under
                                    `POST /users`, SIGNUPS `user.signed_up` to the topic
                                    exchange `events`; every message has a message id
  python pika_system.py consumer    consumes QUEUE (bound to EXCHANGE with KEY unless the
                                    exchange is the default one), DELAY_MS per message, with
                                    `basic_consume` (MODE=callback) or the `consume()`
                                    generator (MODE=generator); prints `ready` once bound,
                                    exits after EXPECT messages

Environment: OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_ENDPOINT, AMQP_URL.
"""

import os
import sys
import time

import pika
from opentelemetry import trace
from opentelemetry.instrumentation.pika import PikaInstrumentor

import telemetry

EXCHANGE = "events"


def connect():
    connection = pika.BlockingConnection(pika.URLParameters(os.environ["AMQP_URL"]))
    channel = connection.channel()
    channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=False)
    return connection, channel


def publisher():
    connection, channel = connect()
    channel.confirm_delivery()
    channel.queue_declare("tasks", durable=False)
    # One channel, instrumented as the instrumentation's documentation shows second:
    # `PikaInstrumentor().instrument()` would also instrument the BlockingChannel's inner
    # Channel, and every publish would write two nested `send` spans (the consumers use it).
    PikaInstrumentor.instrument_channel(channel)
    tracer = trace.get_tracer("pika-system")
    for i in range(int(os.environ.get("JOBS", "10"))):
        with tracer.start_as_current_span("POST /jobs", kind=trace.SpanKind.SERVER):
            props = pika.BasicProperties(message_id=f"job-{i}")
            channel.basic_publish("", "tasks", f"job {i}".encode(), props)
    for i in range(int(os.environ.get("SIGNUPS", "10"))):
        with tracer.start_as_current_span("POST /users", kind=trace.SpanKind.SERVER):
            props = pika.BasicProperties(message_id=f"user-{i}")
            channel.basic_publish(EXCHANGE, "user.signed_up", f"user {i}".encode(), props)
        time.sleep(0.005)
    connection.close()


def consumer():
    queue, key = os.environ["QUEUE"], os.environ.get("KEY", "")
    exchange = os.environ.get("EXCHANGE", EXCHANGE)
    expect, delay = int(os.environ["EXPECT"]), int(os.environ.get("DELAY_MS", "0")) / 1000
    connection, channel = connect()
    channel.queue_declare(queue, durable=False)
    if exchange:
        channel.queue_bind(queue, exchange, routing_key=key)
    channel.basic_qos(prefetch_count=1)
    seen = 0
    if os.environ.get("MODE", "callback") == "generator":
        print("ready", flush=True)
        for method, _props, _body in channel.consume(queue):
            time.sleep(delay)
            channel.basic_ack(method.delivery_tag)
            seen += 1
            if seen == expect:
                break
        channel.cancel()
    else:

        def on_message(ch, method, _props, _body):
            nonlocal seen
            time.sleep(delay)
            ch.basic_ack(method.delivery_tag)
            seen += 1
            if seen == expect:
                ch.stop_consuming()

        channel.basic_consume(queue, on_message)
        print("ready", flush=True)
        channel.start_consuming()
    connection.close()


if __name__ == "__main__":
    provider = telemetry.start()
    if sys.argv[1] == "consumer":
        # As the instrumentation's documentation shows first: every channel opened from now on.
        PikaInstrumentor().instrument()
    {"publisher": publisher, "consumer": consumer}[sys.argv[1]]()
    telemetry.stop(provider)
