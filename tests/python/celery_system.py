"""A small Celery system on RabbitMQ instrumented with opentelemetry-instrumentation-celery,
for hopscope's end-to-end test tests/tests/python_celery.rs.

  python celery_system.py publisher  under SERVER spans `POST /signup`, sends WELCOMES
                                     `shop.send_welcome` tasks (queue `celery`); under
                                     `POST /images`, IMAGES `shop.resize_image` (routed to
                                     queue `images`); under `POST /admin/cleanup`, CLEANUPS
                                     `shop.cleanup` (queue `maintenance`, which no worker reads)
  python celery_system.py worker     a worker (solo pool) on the queues in QUEUES (comma
                                     separated); LINKS=1 instruments with use_span_links=True;
                                     DELAY_MS per task; prints `ready` when the worker is,
                                     exits after EXPECT tasks

Environment: OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_ENDPOINT, AMQP_URL. No result backend.
"""

import os
import signal
import sys
import time
import warnings

from celery import Celery
from celery.signals import task_postrun, worker_ready
from opentelemetry import trace
from opentelemetry.instrumentation.celery import CeleryInstrumentor

import telemetry

app = Celery("shop", broker=os.environ.get("AMQP_URL"))
app.conf.update(
    task_ignore_result=True,
    task_routes={"shop.resize_image": {"queue": "images"}, "shop.cleanup": {"queue": "maintenance"}},
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    worker_redirect_stdouts=False,
)
# Tests run as root here; Celery warns about it at every worker start.
warnings.filterwarnings("ignore", message="You're running the worker with superuser privileges")
DELAY = int(os.environ.get("DELAY_MS", "0")) / 1000


@app.task(name="shop.send_welcome")
def send_welcome(user):
    time.sleep(DELAY)
    return f"welcome {user}"


@app.task(name="shop.resize_image")
def resize_image(image):
    time.sleep(DELAY)
    return f"resized {image}"


@app.task(name="shop.cleanup")
def cleanup():
    return "clean"


def publisher():
    tracer = trace.get_tracer("celery-system")
    for i in range(int(os.environ.get("WELCOMES", "10"))):
        with tracer.start_as_current_span("POST /signup", kind=trace.SpanKind.SERVER):
            send_welcome.delay(i)
    for i in range(int(os.environ.get("IMAGES", "5"))):
        with tracer.start_as_current_span("POST /images", kind=trace.SpanKind.SERVER):
            resize_image.delay(i)
    for _ in range(int(os.environ.get("CLEANUPS", "2"))):
        with tracer.start_as_current_span("POST /admin/cleanup", kind=trace.SpanKind.SERVER):
            cleanup.delay()


def worker():
    expect, done = int(os.environ["EXPECT"]), []

    @worker_ready.connect
    def ready(**_kwargs):
        print("ready", flush=True)

    # Connected after the instrumentation's own handler: its span has ended by now.
    @task_postrun.connect
    def count(**_kwargs):
        done.append(1)
        if len(done) == expect:
            os.kill(os.getpid(), signal.SIGTERM)  # a warm shutdown

    try:
        app.worker_main([
            "worker", "--pool=solo", "-Q", os.environ["QUEUES"], "-n", f"{os.environ['OTEL_SERVICE_NAME']}@%h",
            "--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel=WARNING",
        ])
    except SystemExit:
        pass


if __name__ == "__main__":
    provider = telemetry.start()
    CeleryInstrumentor().instrument(use_span_links=os.environ.get("LINKS") == "1")
    {"publisher": publisher, "worker": worker}[sys.argv[1]]()
    telemetry.stop(provider)
