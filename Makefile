# The commands the README names. Each sets up what it needs first (idempotent, see
# scripts/setup.sh), so a fresh clone needs nothing but `make run` or `make test`.
.PHONY: setup run test chat validate bench eval clean nlu-report

setup:
	@bash scripts/setup.sh

run: setup
	@.venv/bin/python -m tools.stack

chat:
	@.venv/bin/python -m tools.chat

test: setup
	@bash scripts/test.sh

validate:
	@.venv/bin/python -m knowledge validate

bench: setup
	@OPENBLAS_NUM_THREADS=1 .venv/bin/python -m bench.retrieval
	@.venv/bin/python -m bench.run
	@.venv/bin/python -m bench.load

eval: setup
	@OPENBLAS_NUM_THREADS=1 .venv/bin/python -m tools.first_reply

nlu-report: setup
	@nice -n 10 .venv/bin/python -m tools.nlu_crossval

clean:
	rm -rf var models .rasa data/nlu

# The long fuzzing profile (tests/fuzz; the bounded one runs in `make test`). Counts go to
# var/reports/fuzz-long.json; FUZZ_DATABASE=postgres runs it on PostgreSQL.
.PHONY: fuzz
fuzz: setup
	@FUZZ_PROFILE=long bash scripts/test.sh tests/fuzz -q
