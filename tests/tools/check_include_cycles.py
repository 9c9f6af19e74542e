#!/usr/bin/env python3
"""Fails when the C sources include each other in a circle.

A module is a header and the source file of the same name in the same folder
(worker/delivery.h with worker/delivery.c); one module depends on another when
any of its files has `#include "<the other's header>"` (or, as a unit test
does, `#include "<the other's .c>"`). Only quoted includes count. A quoted
include is looked up the way the build finds it: beside the including file,
then in the top folder of its program (api/, worker/ or ctl/), then in the
folders of shared/ (store/, broker/, model/, util/); the C of tests/ (unit
tests, fuzzers, tools) is compiled with the programs' folders and shared/'s on
its include path and is looked up there. A header found nowhere (a
system or generated header) is left out. Any circle in that graph is printed,
one per line with one path around it, and the exit status is 1 unless it is
one of KNOWN_CYCLES; a known circle that is gone fails too, so that the list
stays true. Headers including each other in a circle (a cycle between files)
show as a circle of modules as well.

Usage: check_include_cycles.py [REPOSITORY_ROOT]
"""
import os
import re
import sys

PROGRAM_DIRS = ("api", "worker", "ctl")
SHARED_DIRS = ("shared/store", "shared/broker", "shared/model", "shared/util")
SOURCE_DIRS = PROGRAM_DIRS + ("shared",)
# The tests' C: not a program's module, but a test that includes a module's
# header or .c must not close a circle either.
TEST_DIRS = ("tests/unit", "tests/tools", "tests/fuzz")
# Circles tolerated for a while, each as its sorted modules with a comment
# giving the reason; none today.
KNOWN_CYCLES = []

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)


def source_files(root):
    for top in SOURCE_DIRS + TEST_DIRS:
        for folder, _, names in os.walk(os.path.join(root, top)):
            for name in sorted(names):
                if name.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(folder, name), root)


def module_of(path):
    return os.path.splitext(path)[0]


def resolve(root, including, header):
    top = including.split(os.sep)[0]
    if top in PROGRAM_DIRS:
        folders = (os.path.dirname(including), top) + SHARED_DIRS
    elif top == "shared":
        folders = (os.path.dirname(including),) + SHARED_DIRS
    else:
        folders = (os.path.dirname(including),) + PROGRAM_DIRS + SHARED_DIRS
    for folder in folders:
        candidate = os.path.normpath(os.path.join(folder, header))
        if os.path.isfile(os.path.join(root, candidate)):
            return candidate
    return None  # a system or generated header: not ours


def module_graph(root):
    graph = {}
    for path in source_files(root):
        with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
            text = f.read()
        deps = graph.setdefault(module_of(path), set())
        for header in INCLUDE.findall(text):
            target = resolve(root, path, header)
            if target is not None and module_of(target) != module_of(path):
                deps.add(module_of(target))
                graph.setdefault(module_of(target), set())
    return graph


def cycles(graph):
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
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
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def one_cycle(graph, component):
    """A path through `component` from its first module back to it, for the message."""
    members = set(component)
    start = component[0]
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
    return component


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.getcwd()
    graph = module_graph(root)
    found = cycles(graph)
    new = [c for c in found if c not in KNOWN_CYCLES]
    gone = [c for c in KNOWN_CYCLES if c not in found]
    for component in new:
        print("include cycle: " + " <-> ".join(component) +
              " (" + " -> ".join(one_cycle(graph, component)) + ")")
    for component in gone:
        print("known cycle no longer found, remove it from KNOWN_CYCLES: " + " <-> ".join(component))
    edges = sum(len(deps) for deps in graph.values())
    print(f"{len(graph)} modules, {edges} include edges, {len(found)} cycles "
          f"({len(found) - len(new)} known)")
    return 1 if new or gone else 0


if __name__ == "__main__":
    sys.exit(main())
