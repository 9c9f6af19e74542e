#!/usr/bin/env python3
"""Fails when the C modules of the tree include each other in a cycle.

A module is a .c file and the .h of the same name beside it (api/router.c and
api/router.h are one module; a <name>_private.h belongs to <name>), so that a module including its own header is no
cycle, while router.c including auth.h and auth.c including router.h is one:
neither can then be read, tested or replaced without the other. Only
`#include "..."` lines count; a header is found beside the including file
first, then in the folders given with --include-dir, the way the compiler's
-I list finds it. A header that is found nowhere (a generated file, a system
header written with quotes) is left out.

Usage: check_include_cycles.py [--include-dir DIR]... [--allow M1,M2,...]... ROOT_DIR...
Prints every cycle, one line each, and exits 1 if there is any, except a
group of modules named exactly by an --allow (a known cycle waiting for its
refactoring); an --allow that matches no cycle fails too, so that it is
removed once the cycle is gone.
"""
import argparse
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)


def sources(roots):
    for root in roots:
        for folder, _, names in os.walk(root):
            for name in sorted(names):
                if name.endswith((".c", ".h")):
                    yield os.path.normpath(os.path.join(folder, name))


def module_of(path):
    stem = os.path.splitext(path)[0]
    # A module's private header (shared/wc_store_private.h) is part of the
    # module it opens up to its own files.
    return stem[: -len("_private")] if stem.endswith("_private") else stem


def resolve(header, including_file, include_dirs):
    for folder in [os.path.dirname(including_file)] + include_dirs:
        candidate = os.path.normpath(os.path.join(folder, header))
        if os.path.isfile(candidate):
            return candidate
    return None


def module_graph(roots, include_dirs):
    graph = {}
    for path in sources(roots):
        node = graph.setdefault(module_of(path), set())
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        for header in INCLUDE.findall(text):
            target = resolve(header, path, include_dirs)
            if target is not None and module_of(target) != module_of(path):
                node.add(module_of(target))
                graph.setdefault(module_of(target), set())
    return graph


def strongly_connected(graph):
    """Tarjan's algorithm, iterative: the groups of modules that reach each other."""
    index, low, on_stack, stack, groups = {}, {}, set(), [], []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return groups


def one_cycle(graph, group):
    """A path through `group` from its first module back to it, for the message."""
    members = set(group)
    start = group[0]
    previous = {start: None}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(graph[node]):
            if child == start:
                path = [node]
                while previous[path[-1]] is not None:
                    path.append(previous[path[-1]])
                return list(reversed(path)) + [start]
            if child in members and child not in previous:
                previous[child] = node
                queue.append(child)
    return group


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--include-dir", action="append", default=[])
    parser.add_argument("--allow", action="append", default=[])
    parser.add_argument("roots", nargs="+")
    args = parser.parse_args()
    include_dirs = [os.path.normpath(d) for d in args.include_dir]
    allowed = {frozenset(os.path.normpath(m) for m in a.split(",")) for a in args.allow}
    graph = module_graph(args.roots, include_dirs)
    groups = strongly_connected(graph)
    failed = False
    for group in groups:
        known = frozenset(group) in allowed
        failed = failed or not known
        print(("allowed " if known else "") + "include cycle among " + ", ".join(group) +
              ": " + " -> ".join(one_cycle(graph, group)))
    for stale in allowed - {frozenset(g) for g in groups}:
        print("--allow " + ",".join(sorted(stale)) + " names no cycle any more: remove it")
        failed = True
    print(f"{len(graph)} modules, {len(groups)} include cycles")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
