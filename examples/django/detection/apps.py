from django.apps import AppConfig


class DetectionConfig(AppConfig):
    name = "detection"

    def ready(self) -> None:
        # Starts the model load in the background and returns at once: start-up never waits for the model,
        # and a model that fails to load leaves the app up, reporting why from /healthz. Django may call
        # ready() more than once (autoreloader, test runners); the model is still loaded once per process.
        from . import service

        service.start()
