"""Structure numbers of a checkout (`python tools/structure.py .`): largest module, largest exported cell, cross-module private imports."""
import ast, json, sys, glob, os
from pathlib import Path
root = Path(sys.argv[1])
mods = {f: len(f.read_text().splitlines()) for f in (root/'ultrarefiner').glob('*.py') if not f.name.startswith('_')}
big = max(mods.items(), key=lambda kv: kv[1])
cells = []
for nb in glob.glob(str(root/'nbs'/'*.ipynb')):
    for c in json.load(open(nb))['cells']:
        s = ''.join(c['source'])
        if c['cell_type'] == 'code' and s.startswith('#| export'): cells.append((len(s.splitlines()), Path(nb).name, s.splitlines()[1][:60]))
cells.sort(reverse=True)
priv = []
for f in mods:
    for n in ast.walk(ast.parse(f.read_text())):
        if isinstance(n, ast.ImportFrom) and n.module and (n.level == 1 or n.module.startswith('ultrarefiner.')):
            priv += [(f.stem, n.module, a.name) for a in n.names if a.name.startswith('_')]
print(f"modules: {len(mods)}; largest {big[0].name} {big[1]} lines; >400 lines: {sorted((f.name, n) for f, n in mods.items() if n > 400)}")
print(f"largest exported cells: {cells[:4]}; cells > 80 lines: {sum(1 for c in cells if c[0] > 80)}")
print(f"cross-module private imports: {len(priv)} {sorted(set(p[2] for p in priv))}")
