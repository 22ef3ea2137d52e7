#!/usr/bin/env python3
"""Checks that no file in src/ includes itself through others (an include cycle), and prints the
include graph between modules (src/<module>/), as Mermaid with --mermaid.

Exit status 1 if a cycle is found. Usage: scripts/include_graph.py [--mermaid]"""
import glob
import os
import re
import sys

INC = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def graph():
    g = {}
    for path in glob.glob('src/*/*.[ch]'):
        deps = set()
        for inc in INC.findall(open(path, encoding='utf-8', errors='replace').read()):
            target = os.path.normpath(os.path.join(os.path.dirname(path), inc))
            if os.path.exists(target) and target.startswith('src/'):
                deps.add(target)
        g[path] = deps
    return g


def cycles(g):
    state, stack, found = {}, [], []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for d in sorted(g.get(n, ())):
            if state.get(d) == 1:
                found.append(stack[stack.index(d):] + [d])
            elif not state.get(d):
                visit(d)
        stack.pop()
        state[n] = 2

    for n in sorted(g):
        if not state.get(n):
            visit(n)
    return found


def module(path):
    return path.split('/')[1]


def main():
    g = graph()
    found = cycles(g)
    for c in found:
        print('include cycle: ' + ' -> '.join(c))
    mods = {}
    for f, deps in g.items():
        for d in deps:
            if module(d) != module(f):
                mods.setdefault(module(f), set()).add(module(d))
    if '--mermaid' in sys.argv:
        print('graph LR')
        for m in sorted(mods):
            for d in sorted(mods[m]):
                print(f'  {m} --> {d}')
    else:
        for m in sorted(mods):
            print(f'{m}: {" ".join(sorted(mods[m]))}')
    print(f'# {len(g)} files, {len(found)} include cycles between files')
    return 1 if found else 0


sys.exit(main())
