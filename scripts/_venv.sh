# Sourced by scripts/demo and scripts/test: a project virtualenv in .venv with the project, its
# dev tools and the optimizer's lab (extra "lab": cvxpy, matplotlib) installed, and the
# optimizer's C extension built. Re-installs only when
# pyproject.toml, setup.py or optimizer/_ipm.c changed since the last install.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv with $($PYTHON --version)"
    "$PYTHON" -m venv .venv
fi
# The stamp covers everything the install builds: dependencies and the optimizer's C extension.
stamp=.venv/.installed-$(cat pyproject.toml setup.py optimizer/_ipm.c | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
    echo "==> installing the project and its dev tools into .venv"
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e '.[dev,lab]'
    rm -f .venv/.installed-*
    touch "$stamp"
fi
export PATH="$ROOT/.venv/bin:$PATH"
