#!/usr/bin/env python3
"""tools/checksrc.py - reject banned calls in the library (src/), STYLE.md section 8.

Comments and string literals are blanked first (keeping line numbers), so prose such as
"abort() releases every waiter" does not trip the check. A line may opt out with a
trailing `checksrc:allow` comment when a reviewer agreed."""
import re
import sys
from pathlib import Path

RULES = [
    (re.compile(r'(?<![\w.>])(malloc|calloc|realloc|free)\s*\('), 'raw allocation (use fl_malloc/fl_free)',
     lambda p: p.name != 'base_alloc.c'),
    (re.compile(r'(?<![\w])(printf|puts|putchar|perror|vprintf)\s*\(|fprintf\s*\(\s*(stderr|stdout)'),
     'printing from the library', lambda p: True),
    (re.compile(r'(?<![\w])(exit|abort|_Exit|quick_exit)\s*\('), 'exit/abort in the library', lambda p: True),
    (re.compile(r'(?<![\w])(strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|atof|gets)\s*\('),
     'unsafe string function', lambda p: True),
]


def blank(text):
    """Replace comments and string/char literals with spaces, keeping newlines."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith('/*', i):
            j = text.find('*/', i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r'[^\n]', ' ', text[i:j]))
            i = j
        elif text.startswith('//', i):
            j = text.find('\n', i)
            j = n if j < 0 else j
            out.append(' ' * (j - i))
            i = j
        elif c in '"\'':
            j = i + 1
            while j < n and text[j] != c and text[j] != '\n':
                j += 2 if text[j] == '\\' else 1
            j = min(j + 1, n)
            out.append(c + ' ' * max(0, j - i - 2) + (c if j - i >= 2 else ''))
            i = j
        else:
            out.append(c)
            i += 1
    return ''.join(out)


def main():
    root = Path(__file__).resolve().parent.parent
    files = sorted(p for p in (root / 'src').rglob('*') if p.suffix in ('.c', '.h'))
    if not files:  # a wrong root would otherwise pass having checked nothing
        print(f'checksrc: FAILED (no .c/.h files under {root / "src"})')
        return 1
    bad = 0
    for p in files:
        raw = p.read_text(errors='replace').split('\n')
        code = blank('\n'.join(raw)).split('\n')
        for rx, what, applies in RULES:
            if not applies(p):
                continue
            for ln, line in enumerate(code, 1):
                if rx.search(line) and 'checksrc:allow' not in raw[ln - 1]:
                    print(f'checksrc: {p.relative_to(root)}:{ln}: {what}: {raw[ln - 1].strip()}')
                    bad += 1
    if bad:
        print(f'checksrc: FAILED ({bad} problems)')
        return 1
    print(f'checksrc: ok ({len(files)} files)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
