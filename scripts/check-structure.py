#!/usr/bin/env python3
"""The walls of src/ (DESIGN.md), checked from the imports, in `make test`:
1. the base (infra/, http/, access/, idempotency/, state.rs, error.rs) imports no domain;
2. no service imports another domain's store;
3. no two files import each other, directly or around a circle.
A file's imports are every `crate::…`, `super::…` and `self::…` path it names, in `use`
items or inline; each resolves to the file that defines the module it reaches.
Prints what it finds and exits 1 on any finding."""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
DOMAINS = {"auth", "orgs", "members", "tasks", "points", "incidents", "media", "shop", "stars", "reports", "notify"}
BASE = ("infra/", "http/", "access/", "idempotency/", "state.rs", "error.rs", "geo.rs")


def files():
    for dirpath, _, names in os.walk(ROOT):
        for name in names:
            if name.endswith(".rs"):
                yield os.path.relpath(os.path.join(dirpath, name), ROOT)


def module_of(rel):
    """src-relative file -> module path segments (lib.rs/main.rs -> [])."""
    parts = rel[:-3].split(os.sep)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return parts


def file_of(segments):
    """The file defining the longest prefix of these module segments."""
    for n in range(len(segments), 0, -1):
        base = os.path.join(*segments[:n])
        for cand in (base + ".rs", os.path.join(base, "mod.rs")):
            if os.path.exists(os.path.join(ROOT, cand)):
                return cand
    return None


def strip_comments(text):
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def expand(tree):
    """`a::{b, c::{d, e}}` -> ['a::b', 'a::c::d', 'a::c::e']."""
    tree = tree.strip()
    depth, start = 0, None
    for i, ch in enumerate(tree):
        if ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                prefix, inner = tree[:start], tree[start + 1:i]
                parts, depth2, cur = [], 0, ""
                for c in inner:
                    if c == "," and depth2 == 0:
                        parts.append(cur)
                        cur = ""
                        continue
                    depth2 += c == "{"
                    depth2 -= c == "}"
                    cur += c
                parts.append(cur)
                out = []
                for p in parts:
                    if p.strip():
                        for e in expand(p):
                            out.append(prefix + e if e != "self" else prefix.rstrip(":"))
                return out
    return [tree.split(" as ")[0].strip()]


def imports(rel, text):
    here = module_of(rel)
    # A file's own module for `super::`: foo/bar.rs is module foo::bar, whose super is foo.
    paths = []
    for item in re.findall(r"\buse\s+([^;]+);", text):
        paths.extend(expand(item))
    paths.extend(re.findall(r"(?<![\w:])((?:crate|super|self)(?:::\w+)+)", text))
    out = set()
    for path in paths:
        segs = [s for s in path.split("::") if s]
        if not segs:
            continue
        if segs[0] == "crate":
            target = segs[1:]
        elif segs[0] in ("super", "self"):
            base = list(here)
            while segs and segs[0] in ("super", "self"):
                if segs[0] == "super":
                    base = base[:-1]
                segs = segs[1:]
            target = base + segs
        else:
            continue
        f = file_of(target) if target else None
        if f and f != rel:
            out.add(f)
    return out


def main():
    graph = {}
    for rel in sorted(files()):
        with open(os.path.join(ROOT, rel), encoding="utf-8") as fh:
            text = strip_comments(fh.read())
        # Unit tests may reach anywhere in their own module.
        text = text.split("#[cfg(test)]")[0]
        graph[rel] = imports(rel, text)
    problems = []
    for rel, deps in graph.items():
        if rel.startswith(BASE):
            for d in deps:
                if d.split(os.sep)[0] in DOMAINS:
                    problems.append(f"base file {rel} imports the domain file {d}")
        parts = rel.split(os.sep)
        if parts[0] in DOMAINS and parts[-1] != "store.rs":
            for d in deps:
                dp = d.split(os.sep)
                if dp[0] in DOMAINS and dp[0] != parts[0] and dp[-1] == "store.rs":
                    problems.append(f"service {rel} imports another domain's store {d}")
    # Circles: strongly connected components of more than one file (Tarjan).
    index, low, on, stack, sccs, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
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
                sccs.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    for comp in sccs:
        problems.append("import circle: " + " <-> ".join(comp))
    for p in problems:
        print(p)
    print(f"{len(graph)} files, {sum(len(d) for d in graph.values())} imports, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
