# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ADDONS := $(sort $(dir $(wildcard addons/*/pyproject.toml)))
STAMP := $(VENV)/.installed
SAO_VERSION := 8.0
CONFIG := $(CURDIR)/trytond.conf
# SQLite tenants live here unless TRYTOND_DATABASE__URI points elsewhere.
export TRYTOND_DATABASE__PATH ?= $(CURDIR)/.cache/db

.PHONY: install demo test bench locale clean

install: $(STAMP) sao/index.html

# Idempotent: re-runs only when requirements or an addon's metadata change.
$(STAMP): requirements.txt $(addsuffix pyproject.toml,$(ADDONS))
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps $(addprefix -e ./,$(ADDONS))
	touch $@

# The web client, from npm, into the ignored folder sao/ ([web] root).
sao/index.html:
	rm -rf sao .cache/sao && mkdir -p .cache/sao
	cd .cache/sao && npm pack --silent tryton-sao@$(SAO_VERSION) >/dev/null
	tar xzf .cache/sao/tryton-sao-*.tgz -C .cache/sao
	cd .cache/sao/package && npm install --omit=dev --legacy-peer-deps \
		--no-audit --no-fund --loglevel=error
	mv .cache/sao/package sao

demo: install
	mkdir -p $(TRYTOND_DATABASE__PATH)
	$(BIN)/crm -c $(CONFIG) tenant create demo --features all --demo --exist-ok
	@echo
	@echo "  CRM web client: http://127.0.0.1:8000/"
	@echo "  database: demo   login: admin   password: crm-demo"
	@echo
	TRYTOND_DATABASE__NAMES=demo $(BIN)/trytond -c $(CONFIG)

# Every test of every addon and of tests/, on SQLite unless
# TRYTOND_DATABASE__URI points elsewhere; TEST_JOBS processes, one test
# file each at a time (TEST_JOBS=0 runs in this process). On PostgreSQL the
# test databases do not wait for their commits to reach the disk (nothing
# of a test run must outlive a crash; a commit costs a fifth).
TEST_JOBS ?= 2
test: install
	rm -rf .cache/test-db && mkdir -p .cache/test-db $(TRYTOND_DATABASE__PATH)
	DB_CACHE=$(CURDIR)/.cache/test-db \
	PGOPTIONS='-c synchronous_commit=off' $(BIN)/python -m pytest \
		-n $(TEST_JOBS) --dist loadfile

# Refresh every addon's locale/ru.po from its models, views and messages;
# existing translations are kept, new strings arrive with an empty msgstr.
locale: install
	mkdir -p $(TRYTOND_DATABASE__PATH)
	TRYTOND_ADMIN_PASSWORD=locale-only $(BIN)/crm -c $(CONFIG) \
		tenant create locale --features all --exist-ok
	$(BIN)/trytond-admin -c $(CONFIG) -d locale -l ru --export-translations \
		-u $(notdir $(patsubst %/,%,$(ADDONS)))

bench: install
	$(BIN)/python bench/intake.py

clean:
	rm -rf $(VENV) sao .cache
