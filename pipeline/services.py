"""A build's services: started before its first step on the build's own network (which its backend
sets up), their output in its log, removed however the build ends."""
import threading
from contextlib import contextmanager

from .backend import StepSpec
from .lines import pump


@contextmanager
def services_running(backend, build, run, services):
    """The plan's `services` started in `build` (set up with their names), each one's output given to
    the log as lines `[name] ...` (see runner.Run); all removed when the block ends."""
    started, pumps = [], []
    try:
        for service in services:
            image = service.image or run.image
            step = StepSpec(image=image, image_id=run.images.ensure(image, "if-missing"),
                            script=service.script() or None, entrypoint=service.entrypoint, service=service.name,
                            environment={**run.env, **service.environment, **run.job.run_variables(), **run.told()})
            running = backend.start_step(build, step)
            started.append(running)
            pumping = threading.Thread(target=pump, args=(backend.tail_step(running), run.lines_of(service.name)),
                                       daemon=True, name=f"service-{service.name}")
            pumping.start()
            pumps.append(pumping)
            run.say(f"Service {service.name} started ({image}), reached as {service.name}")
        yield
    finally:
        for running in started:
            backend.destroy_step(running)
        for pumping in pumps:
            pumping.join(timeout=10)
