"""`segment` speed on this machine, one run (issue 34): frames per second end to end and the encoder's share, against
`refine` with the same model (the bundled LiteMedSAM refining `segment`'s own coarse masks), peak memory of each
process, and the time to the first mask of a fresh process on a warm machine (imports, weights, OpenVINO's cached
compile). Images: the first N of a processed test split (default BUSI's), copied so every run reads the same files.
Also the floors these numbers sit on: the encoder's work a pass (FLOPs counted by `torch.utils.flop_counter`) and the
rate it ran at, and the start-up a fresh process pays before any work (importing torch, then torchvision — which
`segment_anything` and timm import —, then the whole `segment` module).

    python bench/segment_speed.py [PROCESSED_TEST_IMAGES_DIR] [N]
"""
import json, shutil, subprocess, sys, tempfile, time
from pathlib import Path

SRC = Path(sys.argv[1] if len(sys.argv) > 1 else 'bench_runs/two_datasets/data/processed/BUSI/test/images')
N = int(sys.argv[2]) if len(sys.argv) > 2 else 24
CLI = [sys.executable, '-c', 'import resource, sys; from ultrarefiner.cli import main; r = main(sys.argv[1:]); '   # each process reports its own peak
       'print("PEAK_RSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(r)']


def import_seconds(stmt):
    "Wall seconds of a fresh `python -c STMT` (the interpreter's own start-up included): best of 3."
    ts = []
    for _ in range(3):
        t = time.perf_counter(); subprocess.run([sys.executable, '-W', 'ignore', '-c', stmt], check=True); ts.append(time.perf_counter() - t)
    return min(ts)


def encoder_gflop():
    "GFLOP of one pass of the bundled model's image encoder (LiteMedSAM's TinyViT at its input size)."
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from ultrarefiner.inference.segment import bundled_model
    enc = bundled_model(flip=False).transunet.features.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as fc: enc(torch.zeros(1, 3, enc.img_size, enc.img_size))
    return fc.get_total_flops() / 1e9


def timed(args, cwd):
    "Wall seconds and peak RSS (MiB) of one `ultrarefiner` process."
    t = time.perf_counter(); r = subprocess.run(CLI + args, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    assert r.returncode == 0, r.stderr[-2000:]
    return wall, int(r.stderr.rsplit('PEAK_RSS_KB', 1)[1].split()[0]) / 1024


with tempfile.TemporaryDirectory() as d:
    d = Path(d); (d/'scans').mkdir(); (d/'one').mkdir()
    files = sorted(SRC.glob('*.png'))[:N]
    for f in files: shutil.copy(f, d/'scans'/f.name)
    shutil.copy(files[0], d/'one'/files[0].name)
    timed(['segment', '--image_dir', 'one', '--output_dir', 'warmup'], d)          # fills OpenVINO's cache: a warm machine
    first_wall, _ = timed(['segment', '--image_dir', 'one', '--output_dir', 'first'], d)
    first_in = json.loads((d/'first/segment.json').read_text())['timing']['first_mask_seconds']
    seg_wall, seg_rss = timed(['segment', '--image_dir', 'scans', '--output_dir', 'seg'], d)
    s = json.loads((d/'seg/segment.json').read_text())
    nf_wall, _ = timed(['segment', '--image_dir', 'scans', '--output_dir', 'noflip', '--tta', 'none'], d)
    s1 = json.loads((d/'noflip/segment.json').read_text())
    from ultrarefiner.runtime import cpu_has_native_bf16
    low = {}                                        # the encoder in bf16 (OpenVINO, CPUs with native bf16) and INT8, with and without flip
    for prec in (['bf16'] if cpu_has_native_bf16() else []) + ['int8']:
        if prec == 'int8':                                                          # quantise once (its own cache), as a warm machine has it
            timed(['segment', '--image_dir', 'scans', '--output_dir', 'int8_warmup', '--tta', 'none', '--encoder_precision', 'int8'], d)
        for tta in ('flip', 'none'):
            w, _ = timed(['segment', '--image_dir', 'scans', '--output_dir', f'{prec}_{tta}', '--tta', tta, '--encoder_precision', prec], d)
            low[prec, tta] = (w, json.loads((d/f'{prec}_{tta}/segment.json').read_text())['timing'])
    (d/'coarse').mkdir()
    for f in (d/'seg').glob('*_coarse.png'): shutil.copy(f, d/'coarse'/f.name)
    ref_wall, ref_rss = timed(['refine', '--image_dir', 'scans', '--coarse_dir', 'coarse', '--output_dir', 'ref'], d)
    t = s['timing']; n = s['n']
    print(f"| what ({n} images of {SRC}) | value |\n|---|---:|")
    print(f"| segment, whole process: images/s | {n / seg_wall:.2f} |")
    print(f"| segment, in-process (after imports and weights): images/s | {t['frames_per_second']:.2f} |")
    print(f"| segment: encoder share of the in-process time ({s['encoder_runtime']}, {'with' if s['tta'] == 'flip' else 'no'} flip) | {t['encoder_share']:.0%} |")
    print(f"| segment --tta none (one encoder pass an image): whole process / in-process, images/s | {n / nf_wall:.2f} / {s1['timing']['frames_per_second']:.2f} |")
    for (prec, tta), (w, tb) in low.items():
        print(f"| segment --encoder_precision {prec} --tta {tta}: whole process / in-process, images/s (encoder share) | {n / w:.2f} / {tb['frames_per_second']:.2f} ({tb['encoder_share']:.0%}) |")
    print(f"| refine, same images and model (its own coarse masks in): whole process, images/s | {n / ref_wall:.2f} |")
    print(f"| peak memory (RSS of each process): segment / refine (MiB) | {seg_rss:.0f} / {ref_rss:.0f} |")
    print(f"| time to the first mask, a fresh process on a warm machine: whole process / after imports (s) | {first_wall:.1f} / {first_in:.1f} |")
    gf = encoder_gflop(); per_pass = t['encoder_seconds'] / (n * (2 if s['tta'] == 'flip' else 1))
    print(f"| encoder work: GFLOP a pass / s a pass in segment / GFLOP/s reached | {gf:.1f} / {per_pass:.2f} / {gf / per_pass:.0f} |")
    imp = [import_seconds(x) for x in ('pass', 'import torch', 'import torch, torchvision', 'import ultrarefiner.inference.segment')]
    print(f"| start-up before any work (s): python / + torch / + torchvision / the whole segment module | {' / '.join(f'{x:.1f}' for x in imp)} |")
