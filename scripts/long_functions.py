#!/usr/bin/env python3
"""Lists the C functions in src/ longer than N lines (default 80), longest first.

A function is a definition that starts at column 0 (the code's style: `type name(args) {` on one
or more lines) and ends at the first `}` at column 0. Usage: scripts/long_functions.py [N] [--all]
(--all: list every function, for the median)."""
import glob
import re
import statistics
import sys

START = re.compile(r'^(?!static\s+const\b)[A-Za-z_][\w\s\*]*?\b(\w+)\s*\([^;]*$')


def functions(path):
    lines = open(path, encoding='utf-8', errors='replace').read().split('\n')
    i = 0
    while i < len(lines):
        m = START.match(lines[i])
        if m and not lines[i].startswith(('typedef', 'struct', 'enum', 'union', '#')):
            j = i
            while j < len(lines) and not lines[j].rstrip().endswith('{') and ';' not in lines[j]:
                j += 1
            if j < len(lines) and lines[j].rstrip().endswith('{') and ';' not in lines[j]:
                k = j + 1
                while k < len(lines) and lines[k] != '}':
                    k += 1
                yield m.group(1), i + 1, k - i + 1
                i = k
        i += 1


def main():
    args = [a for a in sys.argv[1:] if not a.startswith('--')]
    limit = int(args[0]) if args else 80
    found = []
    for path in sorted(glob.glob('src/*/*.c')):
        for name, line, n in functions(path):
            found.append((n, f'{path}:{line}', name))
    found.sort(reverse=True)
    for n, where, name in found:
        if n > limit or '--all' in sys.argv:
            print(f'{n:5d}  {where}  {name}')
    print(f'# {len(found)} functions, median {statistics.median(n for n, _, _ in found):.0f} lines, '
          f'{sum(1 for n, _, _ in found if n > limit)} over {limit}')


main()
