#!/usr/bin/env python
"""Render nbs/index.ipynb to README.md (nbdev_readme needs Quarto, which is unavailable here)."""
import re, sys
from pathlib import Path
import nbformat
root = Path(__file__).resolve().parent.parent
nb = nbformat.read(root/'nbs'/'index.ipynb', as_version=4)
out = []
for c in nb.cells:
    src = c.source
    if c.cell_type == 'markdown': out.append(src)
    elif c.cell_type == 'code' and not re.match(r'\s*#\|\s*(hide|export)', src):
        out.append('```python\n' + src + '\n```')
text = '\n\n'.join(s.strip('\n') for s in out if s.strip()) + '\n'
text = '<!-- Generated from nbs/index.ipynb by tools/readme.py (`make readme`); edit the notebook, not this file. -->\n\n' + text
(root/'README.md').write_text(text)
