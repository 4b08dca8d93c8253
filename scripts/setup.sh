#!/usr/bin/env bash
# Idempotent local set-up of the studio:
#   1. a Python 3.11 virtualenv in .venv with the project installed (editable, with test extras);
#      the install is skipped while .venv/.installed-<sha256 of pyproject.toml> exists;
#   2. the data folder STUDIO_HOME (default ./.studio);
#   3. the static files (manage.py collectstatic), the database schema (manage.py migrate) and
#      the first admin (manage.py bootstrap_admin).
# Safe to run again: a second run only re-checks and finishes in seconds.
#   scripts/setup.sh                   all three steps (and node packages: npm ci of package.json)
#   scripts/setup.sh --packages-only   steps 1 and 2 (e.g. for `make lint`)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV=.venv
VPY="$VENV/bin/python"

is_py311() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; }

# --- 1. virtualenv -------------------------------------------------------------------------
if [[ -x "$VPY" ]] && is_py311 "$VPY"; then
    echo "==> virtualenv $VENV present"
else
    PYTHON="${PYTHON:-}"
    if [[ -z "$PYTHON" ]]; then
        for candidate in python3.11 python3; do
            if command -v "$candidate" >/dev/null && is_py311 "$candidate"; then
                PYTHON="$candidate"
                break
            fi
        done
    fi
    if [[ -z "$PYTHON" ]] || ! is_py311 "$PYTHON"; then
        echo "ERROR: Python 3.11 not found (tried python3.11, python3; set PYTHON=/path/to/python3.11)" >&2
        exit 1
    fi
    echo "==> creating virtualenv $VENV with $("$PYTHON" --version) ($PYTHON)"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
fi

# --- 2. packages ---------------------------------------------------------------------------
STAMP="$VENV/.installed-$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [[ -f "$STAMP" ]]; then
    echo "==> packages up to date (pyproject.toml unchanged)"
else
    echo "==> installing the studio and its test tools into $VENV (pip, a minute or two the first time)"
    # pip on these machines prints many harmless "Location '...' is ignored" warnings: drop them.
    "$VPY" -m pip install --quiet --disable-pip-version-check -e '.[test]' 2>&1 \
        | { grep -v -E "Location '.*' is ignored|^WARNING: Location " || true; }
    rm -f "$VENV"/.installed-*
    touch "$STAMP"
fi

[[ "${1:-}" == "--packages-only" ]] && exit 0

# --- node packages, from package.json: plotly.js's cartesian bundle (the pages' charts) and
# Azurite (the Azure Blob server of the datastore tests) ---
if [[ -f package.json ]]; then
    NODE_STAMP="node_modules/.installed-$(sha256sum package-lock.json | cut -d' ' -f1)"
    if [[ -f "$NODE_STAMP" ]]; then
        echo "==> node packages up to date (package-lock.json unchanged)"
    elif command -v npm >/dev/null; then
        echo "==> installing node packages (plotly.js, Azurite) with npm ci"
        npm ci --silent --no-audit --no-fund 2>&1 | { grep -v 'Unknown user config' || true; }
        touch "$NODE_STAMP"
    else
        echo "WARNING: npm not found: pages get the full plotly.js bundle, and the Azure Blob datastore tests need Azurite (apt-get install npm)" >&2
    fi
fi

# --- 3. data folder, database, first admin -------------------------------------------------
export STUDIO_HOME="${STUDIO_HOME:-$PWD/.studio}"
mkdir -p "$STUDIO_HOME"
echo "==> data folder $STUDIO_HOME"

# Static files under content-hashed names, with gzip copies, in $STUDIO_HOME/static; WhiteNoise
# serves them with far-future cache headers (studio/settings.py, docs in README); plotly.js is
# npm's cartesian bundle when npm installed it, else the plotly package's (studio/staticfinders.py).
# Skipped while nothing under static/ and no package install (pip or npm) is newer than the
# last run's manifest.
MANIFEST="$STUDIO_HOME/static/staticfiles.json"
NEWER=(static "$STAMP")
[[ -n "${NODE_STAMP:-}" && -f "$NODE_STAMP" ]] && NEWER+=("$NODE_STAMP")
if [[ -f "$MANIFEST" && -z "$(find "${NEWER[@]}" -newer "$MANIFEST" -print -quit)" ]]; then
    echo "==> static files up to date"
else
    echo "==> static files (collectstatic: hashed names, gzip copies)"
    "$VPY" manage.py collectstatic --noinput --verbosity 0 --ignore widgetbundle.js
fi

echo "==> database migrations"
"$VPY" manage.py migrate --noinput

echo "==> first admin"
"$VPY" manage.py bootstrap_admin

# New workspaces get them when created; this brings older ones up to date (unchanged ones
# cost nothing).
echo "==> Designer built-ins and sample datasets of existing workspaces"
"$VPY" manage.py ensure_builtins
