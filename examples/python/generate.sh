#!/usr/bin/env bash
# Generates the Python protobuf/gRPC stubs for hpod.v1 from proto/.
#
#   examples/python/generate.sh [OUT_DIR]
#
# OUT_DIR defaults to examples/python/gen (git-ignored; the stubs are not
# committed). The stubs land in OUT_DIR/hpod/v1/*_pb2.py and *_pb2_grpc.py;
# protoc emits absolute imports (`from hpod.v1 import trial_pb2`), so OUT_DIR
# itself must be on sys.path: hpod_client.py adds it (it reads
# $HPOD_PY_GEN_DIR, default: the gen/ directory next to it).
#
# Uses the system protoc (>= 3.15, for proto3 `optional`) and
# /usr/bin/grpc_python_plugin, both from .ci/install-python-deps.sh.
# google/protobuf/{duration,timestamp}.proto come with libprotobuf-dev and
# are imported from the runtime (google.protobuf.*_pb2), not generated.
#
# The output directory is replaced atomically, so a reader never sees a
# half-generated tree.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PROTO_DIR="$ROOT/proto"
OUT="${1:-$HERE/gen}"
PROTOC="${PROTOC:-protoc}"
GRPC_PLUGIN="${GRPC_PYTHON_PLUGIN:-/usr/bin/grpc_python_plugin}"

die() { echo "generate.sh: $*" >&2; exit 1; }

command -v "$PROTOC" >/dev/null 2>&1 || die "protoc not found (run .ci/install-python-deps.sh)"
[[ -x "$GRPC_PLUGIN" ]] || die "$GRPC_PLUGIN not found (run .ci/install-python-deps.sh)"

# Well-known types: next to protoc's prefix (/usr/include for Debian's).
WKT_DIR=""
for d in "${PROTOC_INCLUDE:-}" "$(dirname "$(command -v "$PROTOC")")/../include" /usr/include /usr/local/include; do
  if [[ -n "$d" && -f "$d/google/protobuf/duration.proto" ]]; then WKT_DIR="$d"; break; fi
done
[[ -n "$WKT_DIR" ]] || die "google/protobuf/duration.proto not found (install libprotobuf-dev or set PROTOC_INCLUDE)"

mapfile -t PROTOS < <(cd "$PROTO_DIR" && find hpod -name '*.proto' | LC_ALL=C sort)
[[ ${#PROTOS[@]} -gt 0 ]] || die "no .proto files under $PROTO_DIR/hpod"

mkdir -p "$(dirname "$OUT")"
STAGE="$(mktemp -d "$(dirname "$OUT")/.gen-stage.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT

"$PROTOC" \
  -I "$PROTO_DIR" -I "$WKT_DIR" \
  --plugin=protoc-gen-grpc_python="$GRPC_PLUGIN" \
  --python_out="$STAGE" \
  --grpc_python_out="$STAGE" \
  "${PROTOS[@]}"

# Regular packages (not namespace packages), so `hpod.v1` resolves only here.
while IFS= read -r dir; do
  : > "$dir/__init__.py"
done < <(find "$STAGE" -mindepth 1 -type d)

# Swap in the new tree: rename is atomic within one filesystem.
OLD=""
if [[ -e "$OUT" ]]; then
  OLD="$(mktemp -d "$(dirname "$OUT")/.gen-old.XXXXXX")"
  mv "$OUT" "$OLD/gen"
fi
mv "$STAGE" "$OUT"
[[ -n "$OLD" ]] && rm -rf "$OLD"
trap - EXIT

echo "generate.sh: ${#PROTOS[@]} protos -> $OUT/hpod/v1"
