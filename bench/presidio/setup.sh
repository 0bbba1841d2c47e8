#!/usr/bin/env bash
# Creates (or refreshes) the Python virtualenv with Microsoft Presidio's
# analyzer for `go run ./bench pii`: presidio-analyzer from PyPI plus spaCy,
# and nothing downloaded from anywhere else. No spaCy model is installed:
# analyze.py runs Presidio's AnalyzerEngine on a blank spaCy pipeline
# (tokenizer only), so only the pattern recognizers find anything.
#
#   bench/presidio/setup.sh            # venv in ~/.cache/xunjian/presidio-venv
#   PRESIDIO_VENV=/some/dir bench/presidio/setup.sh
set -euo pipefail
venv=${PRESIDIO_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/xunjian/presidio-venv}
version=${PRESIDIO_VERSION:-2.2.366}
python=${PYTHON:-python3}

if [ ! -x "$venv/bin/python" ]; then
  mkdir -p "$(dirname "$venv")"
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "presidio-analyzer==${version}"
"$venv/bin/python" -c 'import presidio_analyzer, spacy; print("presidio-analyzer", presidio_analyzer.__version__ if hasattr(presidio_analyzer, "__version__") else "", "spacy", spacy.__version__)'
echo "$venv"
