#!/usr/bin/env bash
# Checks docs/openapi.yaml against the route table in src/api/api.c, both ways: every route is documented with
# the same minimum role, and every documented operation is a route.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 - <<'PY'
import re, sys
roles = {"IG_STORE_ROLE_VIEWER": "viewer", "IG_STORE_ROLE_MEMBER": "member",
         "IG_STORE_ROLE_ADMIN": "admin", "IG_STORE_ROLE_OWNER": "owner", "R_PUBLIC": "public"}
src = open("src/api/api.c").read()
table = src[src.index("static const api_route_t ROUTES[]"):]
table = table[:table.index("};")]
code = set()
for m in re.finditer(r'\{"(\w+)",\s*"([^"]+)",\s*(IG_STORE_ROLE_\w+|R_PUBLIC)', table):
    method, pattern, role = m.group(1), m.group(2), roles[m.group(3)]
    code.add((method.lower(), re.sub(r"/:(?=/|$)", "/{}", pattern), role))
doc = set()
path = None
method = None
for line in open("docs/openapi.yaml"):
    m = re.match(r"^  (/\S+):\s*$", line)
    if m:
        path = re.sub(r"\{[^}]+\}", "{}", m.group(1)); method = None; continue
    m = re.match(r"^    (get|post|put|patch|delete):\s*$", line)
    if m and path:
        method = m.group(1); continue
    m = re.match(r"^      x-min-role:\s*(\w+)", line)
    if m and path and method:
        doc.add((method, path, m.group(1))); method = None
missing = code - doc
extra = doc - code
for r in sorted(missing): print(f"route not documented in docs/openapi.yaml (or with another role): {r}")
for r in sorted(extra): print(f"documented operation that is not a route (or with another role): {r}")
if missing or extra: sys.exit(1)
print(f"docs/openapi.yaml matches the route table ({len(code)} operations)")
PY
