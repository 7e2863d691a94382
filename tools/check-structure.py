#!/usr/bin/env python3
"""check-structure.py - the rules docs/ARCHITECTURE.md draws, checked on the built objects.

    python3 tools/check-structure.py [BUILD_DIR]

A module is a file's path without its extension (src/core/network.c and .h are one
module). Module A depends on module B when A's source or header includes B's header,
or when A's object uses a symbol that B's object defines (nm). The checks:

  cycles     no two modules depend on each other, directly or round a loop
  layers     dependencies point one way: core -> kernels and the GPU interface,
             io -> core, verify -> core, cli -> the library; kernels and the GPU
             backend depend on nothing of ours
  exports    libbackprop.so exports at most 100 functions, all bp_-prefixed, exactly
             the ones the public headers mark BP_API
  silence    the library reads no environment variable and never prints or exits:
             its objects use none of getenv, printf, fprintf, puts, stderr, exit ...

Prints one line per check and a closing "structure: N passed, M failed" line.
"""
import glob
import os
import re
import subprocess
import sys

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.chdir(ROOT)

# Which layer may depend on which (a layer always may depend on itself).
ALLOWED = {
    "kernels": set(),
    "cuda": set(),
    "core": {"kernels", "cuda"},
    "io": {"core", "kernels"},
    "verify": {"core"},
    "cli": {"core", "io", "kernels", "verify"},
}
FORBIDDEN_CALLS = {"getenv", "secure_getenv", "printf", "fprintf", "vprintf", "vfprintf", "puts",
                   "fputs", "putchar", "fputc", "putc", "perror", "stderr", "stdout", "exit",
                   "_exit", "abort", "__printf_chk", "__fprintf_chk", "__vfprintf_chk"}
MAX_EXPORTS = 100

passed = failed = 0


def report(ok, what, details=()):
    global passed, failed
    if ok:
        passed += 1
        print("ok   " + what)
    else:
        failed += 1
        print("FAIL " + what)
        for d in details:
            print("     " + d)


def module_of(path):
    path = os.path.normpath(path)
    return os.path.splitext(path)[0]


def layer_of(module):
    parts = module.split(os.sep)
    if parts[0] == "cli":
        return "cli"
    if parts[0] == "src" and len(parts) > 2:
        return parts[1]
    return None


sources = sorted(glob.glob("src/*/*.[ch]") + glob.glob("src/*/*.cu") + glob.glob("src/*/*.cuh") +
                 glob.glob("cli/*.[ch]"))
modules = {module_of(f) for f in sources}
edges = {m: set() for m in modules}
why = {}

# Include edges: quoted includes resolve against the file's folder, then src/.
for f in sources:
    here = os.path.dirname(f)
    for line in open(f, encoding="utf-8", errors="replace"):
        m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
        if not m:
            continue
        for base in (here, "src"):
            target = os.path.normpath(os.path.join(base, m.group(1)))
            if os.path.exists(target):
                a, b = module_of(f), module_of(target)
                if a != b and b in modules:
                    edges[a].add(b)
                    why.setdefault((a, b), "%s includes %s" % (f, target))
                break

# Symbol edges, from the objects of the build.
defined, used = {}, {}
objects = glob.glob(os.path.join(BUILD, "src", "*", "*.o")) + glob.glob(os.path.join(BUILD, "cli", "*.o"))
if not objects:
    report(False, "objects found in %s (build the library and the program first)" % BUILD)
for o in objects:
    rel = os.path.relpath(o, BUILD)
    mod = module_of(rel)
    out = subprocess.run(["nm", o], capture_output=True, text=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TDBRVW" and parts[1].isupper():
            defined.setdefault(parts[2], mod)
        elif len(parts) == 2 and parts[0] == "U":
            used.setdefault(mod, set()).add(parts[1])
for mod, syms in used.items():
    for s in syms:
        owner = defined.get(s)
        if owner and owner != mod and mod in edges and owner in modules:
            edges[mod].add(owner)
            why.setdefault((mod, owner), "%s uses %s from %s" % (mod, s, owner))

# Cycles: strongly connected components of more than one module (Tarjan).
index, low, stack, on, comps = {}, {}, [], set(), []
counter = [0]


def strong(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
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
        if len(comp) > 1:
            comps.append(sorted(comp))


sys.setrecursionlimit(10000)
for v in sorted(edges):
    if v not in index:
        strong(v)
details = []
for comp in comps:
    details.append("cycle: " + " <-> ".join(comp))
    for a in comp:
        for b in comp:
            if b in edges[a]:
                details.append("  " + why[(a, b)])
report(not comps, "no dependency cycles among %d modules of src/ and cli/" % len(modules), details)

# Layers.
details = []
for a in sorted(edges):
    for b in sorted(edges[a]):
        la, lb = layer_of(a), layer_of(b)
        if la and lb and la != lb and lb not in ALLOWED.get(la, set()):
            details.append("%s -> %s: %s" % (la, lb, why[(a, b)]))
report(not details, "dependencies point one way (core -> kernels, io -> core, verify -> core, cli -> library)",
       details)

# Exports.
so = os.path.join(BUILD, "libbackprop.so")
if os.path.exists(so):
    out = subprocess.run(["nm", "-D", "--defined-only", so], capture_output=True, text=True).stdout
    exported = sorted(line.split()[-1] for line in out.splitlines() if line.split())
    declared = set()
    for h in glob.glob("include/*.h"):
        text = open(h, encoding="utf-8").read()
        declared |= set(re.findall(r"^BP_API[^(;]*?\b(bp_\w+)\s*\(", text, re.M))
    bad = [s for s in exported if not s.startswith("bp_")]
    extra = [s for s in exported if s not in declared]
    missing = sorted(declared - set(exported))
    details = ["not bp_-prefixed: " + s for s in bad] + ["exported but not declared BP_API: " + s for s in extra] + \
              ["declared BP_API but not exported: " + s for s in missing]
    report(len(exported) <= MAX_EXPORTS and not details,
           "libbackprop.so exports %d functions (at most %d), exactly the BP_API declarations" %
           (len(exported), MAX_EXPORTS), details)
else:
    report(False, "%s exists" % so)

# Silence.
details = []
for mod, syms in sorted(used.items()):
    if mod.startswith("src" + os.sep):
        for s in sorted(syms & FORBIDDEN_CALLS):
            details.append("%s uses %s" % (mod, s))
report(not details, "the library (src/) reads no environment variable, never prints and never exits", details)

print("structure: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
