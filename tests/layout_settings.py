"""Production settings for tests/test_production_layout.py, except for static files.

Everything comes from tertulia/settings.py and the environment, as on a server; only the static
files are served from the apps' folders (WhiteNoise with finders, as in development) instead of
a collected, compressed copy: compressing them takes half a minute of CPU, and `tertulia run`
(tests/test_run_command.py) already covers collectstatic.
"""

from tertulia.settings import *  # noqa: F403
from tertulia.settings import STORAGES

STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
WHITENOISE_USE_FINDERS = True
