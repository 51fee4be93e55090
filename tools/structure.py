"""Structure numbers of a checkout (`python tools/structure.py .`): largest module, largest exported cell, cross-module
private imports, and how many places re-type a project-wide default as a literal (instead of reading its one home)."""
import ast, json, sys, glob
from collections import Counter
from pathlib import Path
root = Path(sys.argv[1]); pkg = root/'ultrarefiner'
mods = {f: len(f.read_text().splitlines()) for f in pkg.rglob('*.py') if not f.name.startswith('_')}
name = lambda f: str(f.relative_to(pkg))
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
        if isinstance(n, ast.ImportFrom) and n.module and (n.level >= 1 or n.module.startswith('ultrarefiner.')):
            priv += [(name(f), n.module, a.name) for a in n.names if a.name.startswith('_')]
# a default re-typed: a parameter (or template parameter) of these names given a literal instead of the constant's name
DEFAULTS = {'preset': 'preset', 'folds': 'folds', 'n_folds': 'folds', 'test_frac': 'test_frac', 'split_seed': 'split seed'}
typed = Counter(); where = {}
sources = [(name(f), f.read_text()) for f in mods]
for t in sorted([*(pkg/'templates').glob('*.ipynb'), *(root/'nbs'/'phases').glob('*.ipynb')]):
    sources.append((f'templates/{t.name}', '\n'.join(''.join(c['source']) for c in json.load(open(t))['cells'] if c['cell_type'] == 'code')))
for fname, src in sources:
    for n in ast.walk(ast.parse(src)):
        pairs = []
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = n.args; pos = a.posonlyargs + a.args
            pairs = list(zip(pos[len(pos) - len(a.defaults):], a.defaults)) + [(k, d) for k, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None]
            pairs = [(p.arg, d) for p, d in pairs]
        elif isinstance(n, ast.Assign) and fname.startswith('templates/'):
            pairs = [(t.id, n.value) for t in n.targets if isinstance(t, ast.Name)]
        for p, d in pairs:
            if p in DEFAULTS and isinstance(d, ast.Constant) and d.value is not None and not isinstance(d.value, bool):
                typed[DEFAULTS[p]] += 1; where.setdefault(DEFAULTS[p], set()).add(fname)
print(f"modules: {len(mods)}; largest {name(big[0])} {big[1]} lines; >400 lines: {sorted((name(f), n) for f, n in mods.items() if n > 400)}")
print(f"largest exported cells: {cells[:4]}; cells > 80 lines: {sum(1 for c in cells if c[0] > 80)}")
print(f"cross-module private imports: {len(priv)} {sorted(set(p[2] for p in priv))}")
print(f"defaults re-typed as literals: {dict(typed) or 0} {({k: sorted(v) for k, v in where.items()})}")
