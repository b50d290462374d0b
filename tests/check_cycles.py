#!/usr/bin/python3
"""tests/check_cycles.py BUILD — no two files of format/ and server/ call each other, directly or round a loop.

Reads the symbols each object file defines and uses (nm), draws an edge A -> B when A uses a symbol B defines,
and reports every strongly connected component of more than one file (Tarjan). The solver is one library whose
sampler registry and shared helpers are a deliberate hub; its files are not checked here.
Prints "cycles: N passed, N failed"."""
import os
import subprocess
import sys

build = sys.argv[1] if len(sys.argv) > 1 else "build"
objs = []
for d in ("format", "server"):
    p = os.path.join(build, d)
    if os.path.isdir(p):
        objs += [os.path.join(p, f) for f in sorted(os.listdir(p)) if f.endswith(".o")]
defs, uses = {}, {}
for o in objs:
    out = subprocess.run(["nm", o], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "U":
            uses.setdefault(o, set()).add(parts[1])
        elif len(parts) == 3 and parts[1] in "TDBR":
            defs[parts[2]] = o
edges = {o: sorted({defs[s] for s in uses.get(o, ()) if s in defs and defs[s] != o}) for o in objs}

index, low, stack, on, comps = {}, {}, [], set(), []


def strong(v):
    index[v] = low[v] = len(index)
    stack.append(v)
    on.add(v)
    for w in edges[v]:
        if w not in index:
            strong(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop()
            on.discard(w)
            comp.append(w)
            if w == v:
                break
        comps.append(comp)


for v in objs:
    if v not in index:
        strong(v)
bad = [c for c in comps if len(c) > 1]
for c in bad:
    names = sorted(os.path.relpath(x, build)[:-2] + ".c" for x in c)
    print("FAIL: these files call each other (a cycle): " + ", ".join(names))
if not objs:
    print("FAIL: no object files under %s/format and %s/server (build first)" % (build, build))
print("cycles: %d passed, %d failed" % (0 if bad or not objs else 1, len(bad) + (0 if objs else 1)))
sys.exit(1 if bad or not objs else 0)
