"""WSGI entry point: `gunicorn --preload -w 2 yolosite.wsgi` loads the app (and starts the model load) once
in the master; each worker then builds its own ONNX Runtime sessions (see gunicorn.conf.py)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yolosite.settings")
application = get_wsgi_application()
