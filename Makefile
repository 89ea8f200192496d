# ArrayStream development commands. See the README.
PYTHON ?= python3
VENV ?= .venv
PORT ?= 8000
BIN := $(VENV)/bin

.PHONY: run test install clean

$(BIN)/activate: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(BIN)/activate

install: $(BIN)/activate

# Serves on 127.0.0.1:$(PORT) with the embedded MongoDB-protocol server under
# var/ unless MONGODB_URI is set. DEBUG is on here only: this is development.
# -v 0 turns Daphne's own access log off: the project logs each request.
run: install
	DEBUG=$${DEBUG:-true} $(BIN)/daphne -v 0 -b 127.0.0.1 -p $(PORT) arraystream.asgi:application

# The tests use a real Redis, Chromium and nginx: the script installs what is
# missing from Debian's packages and starts Redis if none answers.
test: install
	./scripts/test-services
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) staticfiles .pytest_cache
