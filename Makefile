.PHONY: run test lint bench
run:  ## Set up (venv, MNIST, database, model) and serve the site with its worker and scheduler
	scripts/run.sh
test:  ## Set up and run the whole test suite (SQLite, then PostgreSQL + Redis when reachable)
	scripts/test.sh
bench:  ## Run every benchmark (needs PostgreSQL on 127.0.0.1; installs wrk); results in bench/results/
	scripts/setup.sh && .venv/bin/python -m bench.run_all
lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
