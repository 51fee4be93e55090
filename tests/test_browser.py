"""Real browser: JupyterLab on localhost, the prompt explorer run in headless Chromium, the box-threshold slider moved
(the box is one of LiteMedSAM's prompts, so the refined mask changes), output changed; then a click on the ipympl canvas
places a positive point and the refined mask is recomputed with it."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from browser import ARTIFACTS, browser, free_port, need_chromium, wait_http

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def lab(tmp_path):
    need_chromium()
    work = tmp_path / 'lab'
    work.mkdir()
    shutil.copy(ROOT / 'nbs/explore/prompt_explorer.ipynb', work)         # a copy: autosave never touches nbs/
    port = free_port()
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / 'cfg'), JUPYTER_DATA_DIR=str(tmp_path / 'data'),
               JUPYTER_RUNTIME_DIR=str(tmp_path / 'rt'), MPLBACKEND='module://matplotlib_inline.backend_inline')
    env.pop('JUPYTER_PATH', None)
    log = open(tmp_path / 'lab.log', 'w')
    proc = subprocess.Popen([str(Path(sys.executable).parent / 'jupyter'), 'lab', '--no-browser', f'--port={port}',
                             '--ip=127.0.0.1', '--allow-root', '--IdentityProvider.token=', '--ServerApp.password=',
                             f'--ServerApp.root_dir={work}', '--ServerApp.open_browser=False',
                             '--LabApp.news_url=', '--LabServerApp.extensions_in_dev_mode=False'],
                            cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_http(f'http://127.0.0.1:{port}/lab', timeout=120, proc=proc)
        yield f'http://127.0.0.1:{port}', tmp_path
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.mark.slow
def test_prompt_explorer_in_jupyterlab(lab):
    from playwright.sync_api import sync_playwright
    url, tmp = lab
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = browser(p)
        page = b.new_page(viewport={'width': 1400, 'height': 1000})
        try:
            page.goto(f'{url}/lab/tree/prompt_explorer.ipynb', timeout=120_000)
            page.wait_for_selector('.jp-Notebook', timeout=120_000)
            try:                                       # JupyterLab may ask which kernel to start: take the default
                page.get_by_role('button', name='Select', exact=True).click(timeout=15_000)
            except Exception:
                pass
            page.wait_for_selector('.jp-Notebook-ExecutionIndicator[data-status="idle"]', timeout=120_000)
            page.get_by_role('menuitem', name='Run', exact=True).click()
            page.get_by_role('menuitem', name='Run All Cells', exact=True).click()
            img = page.locator('.widget-image').first
            img.wait_for(timeout=180_000)
            page.wait_for_function("() => { const i = document.querySelector('.widget-image'); return i && i.naturalWidth > 0; }",
                                   timeout=60_000)
            before = img.get_attribute('src')
            metrics_before = page.locator('.widget-html-content').first.inner_text()
            slider = page.locator('.widget-hslider', has_text='box thr').first
            handle = slider.locator('.noUi-handle').first
            handle.scroll_into_view_if_needed()
            box = handle.bounding_box()
            page.mouse.move(box['x'] + box['width'] / 2, box['y'] + box['height'] / 2)
            page.mouse.down()
            page.mouse.move(box['x'] - 120, box['y'] + box['height'] / 2, steps=8)
            page.mouse.up()
            page.wait_for_function("(b) => { const i = document.querySelector('.widget-image'); return i && i.src !== b; }",
                                   arg=before, timeout=60_000)
            after = img.get_attribute('src')
            assert after != before
            assert 'Dice coarse' in metrics_before                  # live metrics are rendered
            readout = slider.locator('.widget-readout').first.inner_text()
            assert float(readout) < 0.5, readout                     # the box threshold really moved from 0.5
            # a click on the ipympl canvas places a positive point; the refined mask (figure and metrics) changes
            canvas = page.locator('.jupyter-matplotlib-canvas-div canvas').last
            canvas.wait_for(timeout=60_000)
            canvas.scroll_into_view_if_needed()
            cb = canvas.bounding_box()
            before = img.get_attribute('src'); metrics_before = page.locator('.widget-html-content').first.inner_text()
            assert 'my clicks' not in metrics_before
            canvas.hover(position={'x': cb['width'] * 0.2, 'y': cb['height'] * 0.25})
            canvas.click(position={'x': cb['width'] * 0.2, 'y': cb['height'] * 0.25})
            page.screenshot(path=str(ARTIFACTS / 'prompt_explorer_click.png'), full_page=False)
            page.wait_for_function("(b) => { const i = document.querySelector('.widget-image'); return i && i.src !== b; }",
                                   arg=before, timeout=60_000)
            page.wait_for_function("() => [...document.querySelectorAll('.widget-html-content')].some(e => e.innerText.includes('my clicks'))",
                                   timeout=60_000)
            assert img.get_attribute('src') != before                # the refined mask was recomputed with the click
            page.locator('.jp-OutputArea-output').filter(has=page.locator('.widget-image')).first.scroll_into_view_if_needed()
            for name in ('No', 'Dismiss'):              # JupyterLab's "get notified about news?" toast: not in the picture
                try: page.locator('.jp-toast-button, .Toastify__toast button', has_text=name).first.click(timeout=2_000)
                except Exception: pass
            page.locator('.Toastify__toast').first.wait_for(state='detached', timeout=5_000) if page.locator('.Toastify__toast').count() else None
            page.screenshot(path=str(ARTIFACTS / 'prompt_explorer.png'), full_page=False)
            shutil.copy(ARTIFACTS / 'prompt_explorer.png', ROOT / 'nbs/images/prompt_explorer.png')   # the guide shows it
        except Exception:
            page.screenshot(path=str(ARTIFACTS / 'prompt_explorer_failure.png'))
            print((tmp / 'lab.log').read_text()[-3000:])
            raise
        finally:
            b.close()
