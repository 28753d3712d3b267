#!/usr/bin/env bash
# Checks that no two modules of a crate import each other, directly or through others.
#
# For every crate of the workspace (crates/*, bench, bench/hello-lambda) and every target root in
# its src/ (lib.rs, main.rs, bin/*.rs), it builds the graph of references between the root's
# top-level modules and fails naming each circle it finds, with one reference (file:line) for
# every edge of it.
#
# - A node is a top-level module: `mod x;` of the root, in x.rs or x/mod.rs. A folder module is
#   one node with all its submodules, so references inside a folder do not count; the root file
#   (lib.rs, main.rs, bin/x.rs) is a node of its own, for the code it holds itself.
# - An edge A -> B is a path in A that names B: `crate::b::…`, `super::…` out of A (from a
#   top-level module file, `super` is the root), and, in the root file, `b::…` or `self::b::…`.
#   `use` trees (`crate::{a::X, b::{Y, Z}}`) count each of their branches.
# - Re-exports of the root (`pub use state::AppState;` in lib.rs) are a facade, not code: they
#   are no edge of the root, and `crate::AppState` counts as a reference to `state`. A
#   `#[macro_export]` macro counts as its defining module. A name the root defines itself
#   (`crate::router`) is a reference to the root.
# - Comments, strings and `#[cfg(test)]` blocks are left out: a module's tests may use any other
#   module (pass --with-tests to count them too).
#
# Usage: scripts/check-modules.sh [--with-tests] [--edges] [--self-test] [crate folder…]
#   --edges lists every edge found (to see what the check sees).
# Exit status 0 when there is no circle; 1, listing them, otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 - "$@" <<'PY'
import os
import re
import sys
import tempfile
import textwrap

ROOT_NAMES = ("lib.rs", "main.rs")


def strip(src):
    """The source with comments, string/char literals blanked (newlines kept)."""
    out = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            i = j
            continue
        if src.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
            continue
        m = re.match(r'(?:b|c)?r(#*)"', src[i:i + 260]) if c in "rbc" and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")) else None
        if m:
            end = '"' + m.group(1)
            j = src.find(end, i + m.end())
            j = n if j < 0 else j + len(end)
            out.append('""' + re.sub(r"[^\n]", " ", src[i + 2:j]))
            i = j
            continue
        if c == '"' or (c in "bc" and src.startswith('"', i + 1) and not (i and (src[i - 1].isalnum() or src[i - 1] == "_"))):
            j = i + (2 if c != '"' else 1)
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            out.append('""' + re.sub(r"[^\n]", " ", src[i:j + 1])[2:])
            i = j + 1
            continue
        if c == "'":
            m = re.match(r"'(\\(x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]+\}|.)|[^\\'\n])'", src[i:i + 16])
            if m:
                out.append(" " * len(m.group(0)))
                i += len(m.group(0))
                continue
        out.append(c)
        i += 1
    return "".join(out)


def drop_cfg_test(src):
    """Blank out `#[cfg(test)]` items (a `mod … { … }` block or a `mod x;` declaration)."""
    out = src
    for m in reversed(list(re.finditer(r"#\[cfg\(test\)\]", src))):
        j = m.end()
        k = src.find("{", j)
        semi = src.find(";", j)
        if semi >= 0 and (k < 0 or semi < k):
            end = semi + 1
        else:
            if k < 0:
                continue
            depth, end = 0, k
            while end < len(src):
                if src[end] == "{":
                    depth += 1
                elif src[end] == "}":
                    depth -= 1
                    if depth == 0:
                        end += 1
                        break
                end += 1
        out = out[:m.start()] + re.sub(r"[^\n]", " ", out[m.start():end]) + out[end:]
    return out


TOKEN = re.compile(r"\$?[A-Za-z_][A-Za-z0-9_]*|::|[{},;]|\S")


def tokens(src):
    line = 1
    pos = 0
    for m in TOKEN.finditer(src):
        line += src.count("\n", pos, m.start())
        pos = m.start()
        yield m.group(0), line


def use_tree(toks, i):
    """Parse a path or use tree at toks[i]; returns (list of segment lists, next index)."""
    paths = []
    prefix = []
    while i < len(toks):
        t = toks[i][0]
        if t == "{":
            i += 1
            while i < len(toks) and toks[i][0] != "}":
                sub, i = use_tree(toks, i)
                paths.extend(prefix + s for s in sub)
                if i < len(toks) and toks[i][0] == ",":
                    i += 1
            return paths, i + 1
        if re.match(r"\$?[A-Za-z_]", t):
            prefix.append(t)
            if i + 1 < len(toks) and toks[i + 1][0] == "::":
                i += 2
                continue
            return [prefix], i + 1
        if t == "*":
            return [prefix + ["*"]], i + 1
        return [prefix], i
    return [prefix], i


class Target:
    def __init__(self, root_file):
        self.root_file = root_file
        self.modules = {}  # name -> list of files
        self.defined = set()  # names the root file defines itself
        self.reexports = {}  # name -> module it comes from
        self.glob_reexports = []
        self.macro_home = {}

    def module_dir(self, path):
        base = os.path.basename(path)
        if base in ROOT_NAMES or base == "mod.rs":
            return os.path.dirname(path)
        return path[:-3]


def declared_mods(text):
    return re.findall(r"(?<![\w:])mod\s+([A-Za-z_][A-Za-z0-9_]*)\s*;", text)


def path_attr(raw, name):
    m = re.search(r'#\[path\s*=\s*"([^"]+)"\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+' + name + r"\s*;", raw)
    return m.group(1) if m else None


def files_of(path, seen):
    """The file of a module and those of its submodules."""
    files = [path]
    raw = open(path, encoding="utf-8").read()
    text = strip(raw)
    d = Target(path).module_dir(path)
    for name in declared_mods(text):
        custom = path_attr(raw, name)
        cands = [os.path.join(os.path.dirname(path), custom)] if custom else [
            os.path.join(d, name + ".rs"), os.path.join(d, name, "mod.rs")]
        for c in cands:
            if os.path.exists(c) and c not in seen:
                seen.add(c)
                files.extend(files_of(c, seen))
                break
    return files


def load(root_file, with_tests):
    t = Target(root_file)
    raw = open(root_file, encoding="utf-8").read()
    text = strip(raw)
    if not with_tests:
        text = drop_cfg_test(text)
    d = t.module_dir(root_file)
    seen = {root_file}
    for name in declared_mods(text):
        custom = path_attr(raw, name)
        cands = [os.path.join(os.path.dirname(root_file), custom)] if custom else [
            os.path.join(d, name + ".rs"), os.path.join(d, name, "mod.rs")]
        for c in cands:
            if os.path.exists(c):
                seen.add(c)
                t.modules[name] = files_of(c, seen)
                break
    t.root_text = text
    for m in re.finditer(r"\b(?:fn|struct|enum|trait|type|const|static|union|macro_rules!)\s+([A-Za-z_][A-Za-z0-9_]*)", text):
        t.defined.add(m.group(1))
    # Re-exports of the root.
    for m in re.finditer(r"\bpub(?:\([^)]*\))?\s+use\s+([^;]+);", text):
        toks = list(tokens(m.group(1)))
        paths, _ = use_tree(toks, 0)
        for p in paths:
            p = [s for s in p if s not in ("crate", "self")]
            if len(p) >= 2 and p[0] in t.modules:
                if p[-1] == "*":
                    t.glob_reexports.append(p[0])
                else:
                    alias = p[-1]
                    t.reexports[alias] = p[0]
    # Exported macros live at the root but belong to the module that defines them.
    for name, files in t.modules.items():
        for f in files:
            s = strip(open(f, encoding="utf-8").read())
            for m in re.finditer(r"#\[macro_export\]\s*macro_rules!\s*([A-Za-z_][A-Za-z0-9_]*)", s):
                t.macro_home[m.group(1)] = name
    return t


ROOT = "<root>"


def resolve_first(t, seg):
    """The node a path's first segment after `crate::` names."""
    if seg in t.modules:
        return seg
    if seg in t.macro_home:
        return t.macro_home[seg]
    if seg in t.reexports:
        return t.reexports[seg]
    if seg in t.defined:
        return ROOT
    if len(t.glob_reexports) == 1:
        return t.glob_reexports[0]
    return ROOT


def references(t, node, path, text, mod_path):
    """(target node, line) for every path in `text` (a file at `mod_path`) leaving `node`."""
    toks = list(tokens(text))
    out = []
    i = 0
    in_reexport = False
    while i < len(toks):
        tok, line = toks[i]
        prev = toks[i - 1][0] if i else ""
        if node == ROOT and tok == "pub" and not in_reexport:
            # `pub use …;` in the root: a re-export, skipped.
            j = i + 1
            if j < len(toks) and toks[j][0] == "(":
                while j < len(toks) and toks[j][0] != ")":
                    j += 1
                j += 1
            if j < len(toks) and toks[j][0] == "use":
                while j < len(toks) and toks[j][0] != ";":
                    j += 1
                i = j + 1
                continue
        if prev in ("::", ".") or i + 1 >= len(toks):
            i += 1
            continue
        start = tok in ("crate", "$crate", "super", "self") and toks[i + 1][0] == "::"
        bare = node == ROOT and tok in t.modules and toks[i + 1][0] == "::"
        bare_use = node == ROOT and tok in t.modules and prev == "use"
        if not (start or bare or bare_use):
            i += 1
            continue
        paths, j = use_tree(toks, i)
        for p in paths:
            absolute = list(mod_path)
            segs = list(p)
            if segs and segs[0] in ("crate", "$crate"):
                absolute, segs = [], segs[1:]
            else:
                while segs and segs[0] in ("super", "self"):
                    if segs[0] == "super":
                        absolute = absolute[:-1]
                    segs = segs[1:]
            full = absolute + segs
            if not full or full[0] in ("*", "self"):
                continue
            target = resolve_first(t, full[0]) if len(full) > 0 else ROOT
            if len(full) == 1 and full[0] not in t.modules:
                target = resolve_first(t, full[0])
            if target != node:
                out.append((target, line))
        i = max(j, i + 1)
    return out


def mod_path_of(t, name, f):
    d = t.module_dir(t.root_file)
    rel = os.path.relpath(f, d)[:-3].split(os.sep)
    if rel[-1] == "mod":
        rel = rel[:-1]
    return rel


def graph(t, with_tests):
    edges = {}
    def add(a, b, where):
        edges.setdefault(a, {}).setdefault(b, where)
    for target, line in references(t, ROOT, t.root_file, t.root_text, []):
        add(ROOT, target, f"{t.root_file}:{line}")
    for name, files in t.modules.items():
        for f in files:
            text = strip(open(f, encoding="utf-8").read())
            if not with_tests:
                text = drop_cfg_test(text)
            for target, line in references(t, name, f, text, mod_path_of(t, name, f)):
                add(name, target, f"{f}:{line}")
    return edges


def sccs(nodes, edges):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, {})):
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
            out.append(sorted(comp))
    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return [c for c in out if len(c) > 1]


def shortest_cycle(comp, edges, start):
    members = set(comp)
    prev = {start: None}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(edges.get(v, {})):
            if w not in members:
                continue
            if w == start:
                cycle = [v]
                while prev[cycle[-1]] is not None:
                    cycle.append(prev[cycle[-1]])
                return list(reversed(cycle)) + [start]
            if w not in prev:
                prev[w] = v
                queue.append(w)
    return None


def label(t, node):
    if node == ROOT:
        return os.path.basename(t.root_file)
    files = t.modules[node]
    return node + ("/" if os.path.basename(files[0]) == "mod.rs" else ".rs")


def target_roots(crate):
    src = os.path.join(crate, "src")
    roots = [os.path.join(src, n) for n in ROOT_NAMES if os.path.exists(os.path.join(src, n))]
    bins = os.path.join(src, "bin")
    if os.path.isdir(bins):
        for n in sorted(os.listdir(bins)):
            p = os.path.join(bins, n)
            if n.endswith(".rs"):
                roots.append(p)
            elif os.path.exists(os.path.join(p, "main.rs")):
                roots.append(os.path.join(p, "main.rs"))
    return roots


def check(crates, with_tests, quiet=False, show_edges=False):
    found = 0
    for crate in crates:
        for root in target_roots(crate):
            t = load(root, with_tests)
            edges = graph(t, with_tests)
            nodes = set(t.modules) | {ROOT}
            bad = sccs(nodes, edges)
            n_edges = sum(len(v) for v in edges.values())
            if not quiet:
                state = "ok" if not bad else f"{len(bad)} circle(s)"
                print(f"{root}: {len(t.modules)} modules, {n_edges} edges: {state}")
            for comp in bad:
                found += 1
                cycle = shortest_cycle(comp, edges, comp[0])
                names = " -> ".join(label(t, v) for v in cycle)
                print(f"  circle: {names}" + (f" (strongly connected: {', '.join(label(t, v) for v in comp)})" if len(comp) > len(cycle) - 1 else ""))
                for a, b in zip(cycle, cycle[1:]):
                    print(f"    {label(t, a)} -> {label(t, b)}: {edges[a][b]}")
                inside = [(a, b) for a in comp for b in sorted(edges.get(a, {})) if b in comp]
                if len(inside) > len(cycle) - 1:
                    print("    every reference inside the circle:")
                    for a, b in inside:
                        print(f"      {label(t, a)} -> {label(t, b)}: {edges[a][b]}")
            if show_edges:
                for a in sorted(edges):
                    for b in sorted(edges[a]):
                        print(f"    edge {label(t, a)} -> {label(t, b)}: {edges[a][b]}")
    return found


def self_test():
    cases = {
        "direct": ({"lib.rs": "mod a; mod b;", "a.rs": "use crate::b::B; pub struct A;", "b.rs": "use crate::a::A; pub struct B;"}, 1),
        "through a re-export": ({"lib.rs": "mod a; mod b; pub use a::A;", "a.rs": "use crate::b::B; pub struct A;", "b.rs": "use crate::A; pub struct B;"}, 1),
        "through a third": ({"lib.rs": "mod a; mod b; mod c;", "a.rs": "use crate::{b::B, x};", "b.rs": "fn f() { crate::c::g() }", "c/mod.rs": "mod inner;", "c/inner.rs": "use super::super::a::A;"}, 1),
        "root and a module": ({"lib.rs": "mod a; pub fn router() { a::f() }", "a.rs": "pub fn f() { crate::router() }"}, 1),
        "a folder's own parts": ({"lib.rs": "mod a;", "a/mod.rs": "mod x; mod y; use self::x::X;", "a/x.rs": "use super::y::Y; pub struct X;", "a/y.rs": "use crate::a::x::X; pub struct Y;"}, 0),
        "re-export facade": ({"lib.rs": "mod a; mod b; pub use a::A; pub use b::B;", "a.rs": "pub struct A;", "b.rs": "use crate::A; pub struct B;"}, 0),
        "tests and comments": ({"lib.rs": "mod a; mod b;", "a.rs": "// crate::b\nconst S: &str = \"crate::b::B\"; #[cfg(test)] mod tests { use crate::b::B; }", "b.rs": "use crate::a::A;"}, 0),
    }
    failed = 0
    for name, (files, expected) in cases.items():
        with tempfile.TemporaryDirectory() as d:
            for f, body in files.items():
                p = os.path.join(d, "src", f)
                os.makedirs(os.path.dirname(p), exist_ok=True)
                open(p, "w").write(textwrap.dedent(body))
            import io, contextlib
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                got = check([d], False, quiet=True)
            ok = got == expected
            failed += not ok
            print(f"  self-test {'ok  ' if ok else 'FAIL'} {name}: {got} circle(s), expected {expected}")
            if not ok:
                print(textwrap.indent(buf.getvalue(), "    "))
    return failed


args = sys.argv[1:]
with_tests = "--with-tests" in args
show_edges = "--edges" in args
args = [a for a in args if a not in ("--with-tests", "--edges")]
if "--self-test" in args:
    sys.exit(1 if self_test() else 0)
crates = args or sorted(
    [os.path.join("crates", c) for c in os.listdir("crates") if os.path.isdir(os.path.join("crates", c, "src"))]
    + [c for c in ("bench", "bench/hello-lambda") if os.path.isdir(os.path.join(c, "src"))])
print(f"==> module circles ({'with' if with_tests else 'without'} #[cfg(test)] code)")
if self_test():
    print("the checker's self-test failed", file=sys.stderr)
    sys.exit(1)
found = check(crates, with_tests, show_edges=show_edges)
sys.stdout.flush()
if found:
    print(f"{found} module circle(s): two modules of a crate import each other (see above)", file=sys.stderr)
    sys.exit(1)
print("no module circles")
PY
