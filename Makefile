# Two commands do all set-up on a fresh Debian machine with Python 3.11:
#   make run    install everything, migrate, load the demo, serve on http://127.0.0.1:8000
#   make test   run the whole test suite
PYTHON ?= python3.11
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: run test bench install messages catalogs clean

# `exec`: the shell gives way to `tertulia run`, so a SIGTERM sent to make (which make passes
# to its child) reaches the supervisor, which stops the web server and the consumer.
# Local HTTP on 127.0.0.1, and e-mails (invitations) printed in the terminal unless an
# EMAIL_BACKEND / EMAIL_HOST is configured.
run: install
	TERTULIA_INSECURE_HTTP=$${TERTULIA_INSECURE_HTTP:-1} \
	EMAIL_BACKEND=$${EMAIL_BACKEND:-django.core.mail.backends.console.EmailBackend} \
	exec $(VENV)/bin/tertulia run --demo

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b $(BENCH_ARGS) || exit 1; done

install: $(VENV)/.synced catalogs

$(UV):
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { echo "Tertulia needs Python 3.11 with venv: on Debian, apt-get install python3.11 python3.11-venv"; exit 1; }
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

# The environment comes from the lock file only (--frozen): same versions everywhere.
$(VENV)/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	touch $@

# Compiled catalogs (.mo) are build output, made from the committed .po files.
catalogs: $(VENV)/.synced
	@$(PY) -m tertulia.core.catalogs compile

# Developers: refresh the .po files from the code and templates (needs GNU gettext).
messages: install
	mkdir -p tertulia/locale
	cd tertulia && ../$(PY) ../manage.py makemessages -l es -l en --no-obsolete --add-location file --ignore 'tests/*' --ignore '*/tests/*'
	$(PY) -m tertulia.core.catalogs fill-english
	$(PY) -m tertulia.core.catalogs compile

clean:
	rm -rf $(VENV) $(TOOLS)
