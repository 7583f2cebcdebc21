#!/usr/bin/env bash
# Generates the Python gRPC stubs of Tempo's StreamingQuerier search API for the e2e tests.
#
# Usage: PYTHON=/path/to/venv/bin/python tests/e2e/tempopb/gen_stubs.sh OUT_DIR
#
# Needs `grpcio-tools` in that Python (see tests/e2e/requirements.txt). Writes
# tempopb_search_pb2.py, tempopb_search_pb2_grpc.py and tempopb_common_pb2.py into OUT_DIR;
# put OUT_DIR on sys.path and `import tempopb_search_pb2, tempopb_search_pb2_grpc`.
set -euo pipefail

if [ "$#" -ne 1 ]; then
    echo "usage: $0 OUT_DIR" >&2
    exit 2
fi

PYTHON="${PYTHON:-python3}"
OUT_DIR="$1"
PROTO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../proto/proto" && pwd)"

mkdir -p "$OUT_DIR"
"$PYTHON" -m grpc_tools.protoc \
    --proto_path="$PROTO_DIR" \
    --python_out="$OUT_DIR" \
    --grpc_python_out="$OUT_DIR" \
    "$PROTO_DIR/tempopb_common.proto" \
    "$PROTO_DIR/tempopb_search.proto"
