#!/usr/bin/env python
"""`make docs`: build the documentation site offline into _docs/ (Quarto, which nbdev_docs needs, is unavailable here).

1. Copies the notebooks, adds a `show_doc` cell after every exported public function/class (nbdev's API reference),
   drops `#| hide` cells and directive lines, and executes them with nbclient (so figures are real outputs).
   Phase templates are shown as code (they are executed per fold by `run-folds`).
2. Writes a "Demo results" page from the demo's runs/ and checkpoints/ (summary, examples, training curves).
3. Builds the site with mkdocs-material + mkdocs-jupyter (no web fonts, file:// friendly URLs).
nbdev's Quarto configuration (nbs/_quarto.yml) is kept for users who have Quarto: `nbdev_docs` works there.
"""
import ast, json, os, re, shutil, subprocess, sys, time
from pathlib import Path
import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / '_docs_build'
OUT = ROOT / '_docs'
DIRECTIVE = re.compile(r'^\s*#\|\s*(\w+)(.*)$')


def directives(src):
    return {m.group(1): m.group(2).strip() for l in src.splitlines() if (m := DIRECTIVE.match(l))}


def public_names(src):
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return []
    return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and not n.name.startswith('_')]


def site_links(src, nb_path):
    "Markdown links written for GitHub (README-relative `nbs/…`, `….ipynb`, `BENCHMARKS.md`) → the site's pages."
    rel = nb_path.parent.relative_to(ROOT / 'nbs') if (ROOT / 'nbs') in nb_path.parents else Path('.')
    up = '../' * len(rel.parts)
    src = src.replace('](nbs/', '](')                                 # the README is the index page, one level up
    src = re.sub(r'\]\((?:\.\./)*BENCHMARKS\.md\)', f']({up}benchmarks.html)', src)
    return re.sub(r'\]\((?!https?:)([^)#\s]+)\.ipynb(#[^)]*)?\)', lambda m: f']({m.group(1)}.html{m.group(2) or ""})', src)


def prepare(nb_path, execute=True):
    nb = nbformat.read(nb_path, as_version=4)
    cells = []
    has_api = any('default_exp' in directives(c.source) for c in nb.cells if c.cell_type == 'code')
    if has_api:
        cells.append(nbformat.v4.new_code_cell('from nbdev.showdoc import show_doc', metadata={'ur_hide': True}))
    for c in nb.cells:
        d = directives(c.source) if c.cell_type == 'code' else {}
        if c.cell_type == 'code' and ('hide' in d or 'default_exp' in d):
            if 'eval' in d and d['eval'].startswith('false') or 'default_exp' in d: continue
            c.metadata['ur_hide'] = True
        if c.cell_type == 'code':
            c.source = '\n'.join(l for l in c.source.splitlines() if not DIRECTIVE.match(l))
        else:                                               # links between pages → the site's pages
            c.source = site_links(c.source, nb_path)
        if 'export' in d:                                   # the API page shows signatures and docstrings, not source dumps
            c.metadata['ur_hide_input'] = True
        cells.append(c)
        if 'export' in d:
            for n in public_names(c.source):
                cells.append(nbformat.v4.new_code_cell(f'show_doc({n})', metadata={'ur_hide_input': True}))
    nb.cells = cells
    for i, c in enumerate(nb.cells): c.setdefault('id', f'ur-{i}')          # nbformat 4.5 cell ids
    if execute:
        from ultrarefiner.orchestrate import kernel_manager                         # IPC sockets: no TCP-without-encryption warning
        NotebookClient(nb, timeout=600, kernel_name='python3', resources={'metadata': {'path': str(nb_path.parent)}},
                       allow_errors=False, **kernel_manager()).execute()
    for c in nb.cells:
        if c.metadata.get('ur_hide_input'):
            c.metadata.setdefault('jupyter', {})['source_hidden'] = True
            c.metadata['tags'] = c.metadata.get('tags', []) + ['hide_code', 'remove_input']
        for o in c.get('outputs', []):                      # Quarto-only link attributes in show_doc's markdown
            if c.metadata.get('ur_hide_input') and o.get('output_type') == 'execute_result':   # no empty 'Out[n]:' prompt
                o['output_type'] = 'display_data'; o.pop('execution_count', None)
            md = o.get('data', {}).get('text/markdown')
            if md: o['data']['text/markdown'] = re.sub(r'\{target="_blank"[^}]*\}', '', md)
    nb.cells = [c for c in nb.cells if not c.metadata.get('ur_hide')]
    return nb


WIDGETS_CDN = 'https://unpkg.com/@jupyter-widgets/html-manager@*/dist/embed-amd.js'


def npm_package(spec, pattern):
    """A package tarball from the npm registry (`npm pack`), cached under ~/.cache/ultrarefiner/npm; None without npm."""
    cache = Path(os.environ.get('XDG_CACHE_HOME', Path.home() / '.cache')) / 'ultrarefiner' / 'npm'
    found = sorted(cache.glob(pattern))
    if not found:
        cache.mkdir(parents=True, exist_ok=True)
        try:
            r = subprocess.run(['npm', 'pack', spec, '--pack-destination', str(cache)], capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as e:
            print(f'docs: npm pack {spec} failed ({e})'); return None
        found = sorted(cache.glob(pattern))
        if r.returncode or not found: print(f'docs: npm pack {spec} failed: {r.stderr.strip()[-300:]}'); return None
    return found[-1]


def offline_search_shim(docs):
    """mkdocs-material's offline search needs the iframe-worker shim; its plugin would load it from unpkg. Serve it
    from the site instead (npm registry, cached), so search works from file:// with no network."""
    tgz = npm_package('iframe-worker@1', 'iframe-worker-1.*.tgz')
    if tgz is None: return []
    import tarfile
    dest = docs / 'assets' / 'iframe-worker'; dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tgz) as t: (dest / 'shim.js').write_bytes(t.extractfile('package/shim/index.js').read())
    return ['assets/iframe-worker/shim.js']


def _unpack(tgz, members, dest):
    "Files of an npm tarball (`package/…` paths, or a prefix ending in /) copied flat into `dest`."
    import tarfile
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tgz) as t:
        for m in t.getmembers():
            if m.isfile() and any(m.name == w or (w.endswith('/') and m.name.startswith(w)) for w in members) \
                    and not m.name.endswith('.map'):
                (dest / Path(m.name).name).write_bytes(t.extractfile(m).read())


WIDGET_MODULES = {'jupyter-matplotlib': ('jupyter-matplotlib@0.12', 'jupyter-matplotlib-0.12.*.tgz')}   # ipympl's canvas


def offline_widgets(site):
    """Widgets render from their saved state with no network: requirejs, the html manager's AMD bundle and every
    third-party widget module a page uses (ipympl's `jupyter-matplotlib`) come from the npm registry (cached), are
    copied into the site, and each page loads them by relative paths instead of from a CDN."""
    pages = [p for p in site.rglob('*.html') if WIDGETS_CDN in p.read_text(encoding='utf-8')]
    if not pages: return
    tgz = npm_package('@jupyter-widgets/html-manager@1', 'jupyter-widgets-html-manager-1.*.tgz')
    req = npm_package('requirejs@2', 'requirejs-2.*.tgz')
    if tgz is None or req is None: print('docs: widgets stay on the CDN (npm pack failed)'); return
    dest = site / 'assets' / 'widgets'
    _unpack(tgz, ['package/dist/'], dest); _unpack(req, ['package/require.js'], dest)
    mods = {}
    for name, (spec, pattern) in WIDGET_MODULES.items():
        if any(f'"_view_module": "{name}"' in p.read_text(encoding='utf-8') for p in pages):
            t = npm_package(spec, pattern)
            if t is None: print(f'docs: {name} stays on the CDN (npm pack failed)'); continue
            _unpack(t, ['package/dist/index.js'], dest / name); mods[name] = dest / name / 'index'
    for p in pages:
        rel = lambda f: os.path.relpath(f, p.parent).replace(os.sep, '/')
        # the html manager's module folders point at the bundle too, so the fonts its CSS names resolve there
        paths = {'@jupyter-widgets': rel(dest), '@jupyter-widgets/html-manager/dist': rel(dest), **{n: rel(f) for n, f in mods.items()}}
        paths = ', '.join(f"'{n}': '{v}'" for n, v in paths.items())
        loader = (f'<script src="{rel(dest / "require.js")}"></script>\n'
                  f'<script>requirejs.config({{paths: {{{paths}}}}});</script>\n')
        html = p.read_text(encoding='utf-8').replace(WIDGETS_CDN, rel(dest / 'embed-amd.js'))
        html = html.replace('<script>\n(function() {\n  function addWidgetsRenderer()', loader + '<script>\n(function() {\n  function addWidgetsRenderer()', 1)
        p.write_text(html, encoding='utf-8')
    print(f'docs: widgets load from {dest.relative_to(site)} ({len(pages)} page(s); modules: {", ".join(mods) or "core only"})')


# Readable at laptop size: long code lines wrap inside the column, wide tables scroll inside it (not the page), and the
# navigation / table of contents show whole names instead of cutting them with an ellipsis.
EXTRA_CSS = """
.md-grid { max-width: 1440px; }
.md-typeset pre > code { white-space: pre-wrap; overflow-wrap: anywhere; }
.md-typeset table:not([class]) { display: block; max-width: 100%; overflow-x: auto; font-size: .68rem; }
.md-typeset table:not([class]) td, .md-typeset table:not([class]) th { padding: .4em .8em; }
.md-nav__link .md-ellipsis, .md-nav__link { white-space: normal; overflow: visible; text-overflow: clip; }
.jp-OutputArea-output pre { white-space: pre-wrap; overflow-wrap: anywhere; }
"""


def demo_page(docs):
    ev = ROOT / 'runs/eval/PHANTOM'
    lines = ['# Demo results', '']
    if not (ev / 'summary.md').exists():
        return lines + ['*Run `make demo` first, then `make docs`, to fill this page.*']
    import json
    s = json.loads((ev / 'summary.json').read_text())          # describe the run that is on disk, not the Makefile's defaults
    lines += [f"Produced by `make demo` (this copy: the `{s['preset']}` preset, phases 1–3 and evaluation on folds {s['folds']}, "
              f"{s['n_test']} test phantoms; the Makefile's defaults are 80 phantoms, 3 folds, `lite`).", '']
    lines += [(ev / 'summary.md').read_text().replace('# ', '## ', 1), '']
    if (ev / 'examples.png').exists():
        shutil.copy(ev / 'examples.png', docs / 'demo_examples.png')
        lines += ['## Test examples (fold 0): ground truth, coarse, refined', '', '![test examples](demo_examples.png)', '']
    import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
    from ultrarefiner.viz.figures import steady_ylim           # markers and whole epochs: a one-epoch phase shows its point
    fig, axs = plt.subplots(1, 3, figsize=(15, 4))
    for ax, kind, key, title in ((axs[0], 'transunet', 'dice', 'phase 1: val Dice'),
                                 (axs[1], 'sam_finetuned', 'refined_dice', 'phase 2: val Dice (refined; dashed: coarse)'),
                                 (axs[2], 'ultra_refiner', 'refined_dice', 'phase 3: val Dice (refined; dashed: coarse)')):
        for f in sorted((ROOT / 'checkpoints' / kind / 'PHANTOM').glob('fold_*/metrics.json')):
            h = json.loads(f.read_text())['history']
            l, = ax.plot([r['epoch'] for r in h], [r[key] for r in h], marker='o', ms=4, label=f.parent.name)
            if 'coarse_dice' in h[0]: ax.plot([r['epoch'] for r in h], [r['coarse_dice'] for r in h], ls='--', marker='o', ms=3, mfc='none', c=l.get_color(), alpha=0.6)
        ax.set_title(title, fontsize=10); ax.set_xlabel('epoch'); ax.set_ylim(0, 1); steady_ylim(ax, 1.0); ax.legend(fontsize=7)
    fig.tight_layout(); fig.savefig(docs / 'demo_curves.png', dpi=80); plt.close(fig)
    lines += ['## Training curves', '', '![training curves](demo_curves.png)', '']
    for kind, name in (('transunet', 'phase 1'), ('sam_finetuned', 'phase 2'), ('ultra_refiner', 'phase 3')):
        png = ROOT / 'checkpoints' / kind / 'PHANTOM' / 'fold_0' / 'progress.png'
        if png.exists():                                    # nnU-Net-style progress.png of each phase's fold 0
            shutil.copy(png, docs / f'progress_{kind}.png')
            lines += [f'### {name}, fold 0: `checkpoints/{kind}/PHANTOM/fold_0/progress.png`', '', f'![{name} progress](progress_{kind}.png)', '']
    return lines


def main():
    t0 = time.time()
    os.environ['MPLBACKEND'] = 'module://matplotlib_inline.backend_inline'   # kernels must display figures inline
    shutil.rmtree(BUILD, ignore_errors=True)
    docs = BUILD / 'docs'; docs.mkdir(parents=True)
    nav = []
    api = sorted(p for p in (ROOT / 'nbs').glob('[0-9][0-9]*_*.ipynb'))
    guide = [ROOT / 'nbs/guide' / f'{n}.ipynb' for n in ('training', 'presets', 'results', 'design')] + [ROOT / 'nbs/architecture.ipynb']
    groups = [('Home', [ROOT / 'nbs/index.ipynb'], True), ('Guide', guide, True), ('API', api, True),
              ('Phase templates', sorted((ROOT / 'ultrarefiner/templates').glob('*.ipynb')), False),
              ('Explore', sorted((ROOT / 'nbs/explore').glob('*.ipynb')), True)]
    for title, files, execute in groups:
        entries = []
        for f in files:
            rel = Path('phases') / f.name if f.parent.name == 'templates' else f.relative_to(ROOT / 'nbs')   # templates: package data
            print(f'docs: {rel} ({"executing" if execute else "as code"})', flush=True)
            nb = prepare(f, execute)
            dest = docs / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, dest)
            entries.append({f.stem.replace('_', ' ') if title != 'Home' else 'UltraRefiner': str(rel)})
        nav.append({title: entries} if title != 'Home' else entries[0])
    if (ROOT / 'nbs/images').is_dir(): shutil.copytree(ROOT / 'nbs/images', docs / 'images')   # screenshots the pages show
    (docs / 'demo.md').write_text('\n'.join(demo_page(docs)))
    nav.append({'Demo results': 'demo.md'})
    (docs / 'benchmarks.md').write_text((ROOT / 'BENCHMARKS.md').read_text())   # every number with its command
    nav.append({'Benchmarks': 'benchmarks.md'})
    (docs / 'extra.css').write_text(EXTRA_CSS)
    cfg = {'site_name': 'UltraRefiner', 'use_directory_urls': False, 'docs_dir': 'docs', 'site_dir': str(OUT), 'extra_css': ['extra.css'],
           'theme': {'name': 'material', 'font': False, 'features': ['navigation.sections', 'toc.integrate']},   # the page's TOC in the left column: a wider article
           'plugins': [{'search': {}}, {'offline': {}}, {'mkdocs-jupyter': {'include_source': True, 'execute': False,
                                                           'remove_tag_config': {'remove_input_tags': ['remove_input']}}}],
           'markdown_extensions': ['tables', 'admonition'], 'nav': nav,
           'extra': {'polyfills': offline_search_shim(docs)}}
    (BUILD / 'mkdocs.yml').write_text(json.dumps(cfg, indent=1))
    shutil.rmtree(OUT, ignore_errors=True)
    subprocess.run([str(Path(sys.executable).parent / 'mkdocs'), 'build', '-q', '-f', str(BUILD / 'mkdocs.yml')],
                   cwd=BUILD, check=True)
    offline_widgets(OUT)
    print(f'docs: built {OUT}/index.html in {time.time() - t0:.0f}s')


if __name__ == '__main__':
    main()
