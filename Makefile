# Two commands matter: `make chat` (talk to the bot in this terminal, embedded defaults) and
# `make test` (the whole suite with its real servers). Everything else is what they need.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
CATALOGS := $(patsubst %.po,%.mo,$(wildcard bot/locale/*/LC_MESSAGES/youthvoice.po)) \
	$(patsubst %.po,%.mo,$(wildcard web/locale/*/LC_MESSAGES/console.po))

.PHONY: example-digest chat run web install test lint system-deps catalogs bench

chat: install
	$(BIN)/youthvoice chat

# The bot and the web console together (console on http://127.0.0.1:8080/); Ctrl-C stops both.
run: install
	@$(BIN)/youthvoice web & console=$$!; \
	trap 'kill $$console 2>/dev/null' EXIT INT TERM; \
	$(BIN)/youthvoice run

web: install
	$(BIN)/youthvoice web

install: $(VENV)/.installed $(CATALOGS)

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || \
		{ echo "YouthVoice needs Python 3.11 (found $(PYTHON)); set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

bot/locale/%/LC_MESSAGES/youthvoice.mo: bot/locale/%/LC_MESSAGES/youthvoice.po $(VENV)/.installed
	$(BIN)/pybabel compile --use-fuzzy -i $< -o $@ -l $*

web/locale/%/LC_MESSAGES/console.mo: web/locale/%/LC_MESSAGES/console.po $(VENV)/.installed
	$(BIN)/pybabel compile -i $< -o $@ -l $*

# Re-extract the bot's texts and merge new ones into each language's catalog (then translate them).
catalogs: install
	$(BIN)/pybabel extract --no-default-keywords -k tr -k N_ -k both -k gettext:2 --no-location \
		--omit-header --sort-output -o bot/locale/youthvoice.pot bot
	$(BIN)/pybabel update -i bot/locale/youthvoice.pot -d bot/locale -D youthvoice --width 100
	cd web && ../$(BIN)/pybabel extract -F babel.cfg --no-location --omit-header --sort-output \
		-o locale/console.pot .
	$(BIN)/pybabel update -i web/locale/console.pot -d web/locale -D console --width 100
	$(MAKE) install

# PostgreSQL (Debian's package) for the storage suite; node and npm for the Telegram emulator;
# Chromium and its WebDriver for the console's browser tests, with a colour emoji font (campaign
# texts and the console's screenshots show emoji, not empty boxes).
system-deps:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; }
	@command -v npm >/dev/null 2>&1 || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; }
	@command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }
	@dpkg -s fonts-noto-color-emoji >/dev/null 2>&1 || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-color-emoji; }
	@command -v openssl >/dev/null 2>&1 || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl; }

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

test: install system-deps lint
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python benchmarks/turn.py
	$(BIN)/python benchmarks/digest.py
	$(BIN)/python benchmarks/web.py
	$(BIN)/python benchmarks/telegram_bot.py
	$(BIN)/python -m benchmarks.language
	$(BIN)/python benchmarks/matching.py
	$(BIN)/python -m benchmarks.nlu_parse
	$(BIN)/python -m benchmarks.safeguarding
	$(BIN)/python benchmarks/broadcast.py

# The example digests in docs/digest-example (HTML, text, CSV, a screenshot), from generated answers.
example-digest: install system-deps
	$(BIN)/youthvoice digest example --out docs/digest-example
	$(BIN)/python -m digests.screenshot docs/digest-example/digest-fr.html docs/digest-example/digest-fr.png
