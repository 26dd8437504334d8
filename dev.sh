#!/usr/bin/env bash
# napari-segtool developer entry point.
#   ./dev.sh start [FILES...]   open napari with the plugin (sample image + ontology)
#   ./dev.sh test [PYTEST ARGS] lint, check the import contracts, run the tests (Xvfb)
#   ./dev.sh screenshot         regenerate docs/dock.png (under Xvfb when headless)
# Each command creates ./.venv on first use (Python 3.11+) and reinstalls the
# project when pyproject.toml changes. SEGTOOL_VENV picks another folder.
set -euo pipefail
cd "$(dirname "$0")"

venv="${SEGTOOL_VENV:-.venv}"

find_python() {
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"
      return
    fi
  done
  echo "napari-segtool needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)" >&2
  exit 1
}

ensure_env() {
  if [ ! -x "$venv/bin/python" ]; then
    "$(find_python)" -m venv "$venv"
  fi
  local stamp="$venv/.segtool-installed" want
  want=$(cat pyproject.toml | sha256sum | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -e ".[qt,test]"
    echo "$want" >"$stamp"
  fi
}

command="${1:-}"
shift || true
case "$command" in
  start)
    ensure_env
    exec "$venv/bin/napari-segtool" "$@"
    ;;
  test)
    ensure_env
    if [ -z "${DISPLAY:-}" ] && ! command -v Xvfb >/dev/null 2>&1; then
      echo "The GUI tests need a display. On Debian/Ubuntu install Xvfb and Qt's xcb libraries:" >&2
      echo "  sudo apt-get install xvfb libxcb-icccm4 libxcb-keysyms1 libxcb-xinerama0 libxcb-randr0 libxcb-render-util0 libxcb-image0 libxcb-shape0 libxcb-cursor0 libxkbcommon-x11-0" >&2
      exit 1
    fi
    "$venv/bin/ruff" check napari_segtool tests benchmarks docs
    "$venv/bin/ruff" format --check napari_segtool tests benchmarks docs
    "$venv/bin/lint-imports" # the layers' import contracts (pyproject.toml)
    exec "$venv/bin/python" -m pytest "$@"
    ;;
  screenshot)
    ensure_env
    if [ -z "${DISPLAY:-}" ]; then
      exec xvfb-run -a -s "-screen 0 1600x1000x24" "$venv/bin/python" docs/screenshot.py
    fi
    exec "$venv/bin/python" docs/screenshot.py
    ;;
  *)
    sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
