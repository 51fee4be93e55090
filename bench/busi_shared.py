"""BUSI, the shared-encoder `lite` pipeline (TinyViTUNet coarse decoder + LiteMedSAM on one cached TinyViT pass):
phase 1 on all 5 folds (out-of-fold coarse masks), phase 2 and phase 3 on fold 0, each evaluated on the test split
(129 images) with and without iterative refinement and test-time flip; Dice in the 256 letterbox frame and at each
image's own size. Prints the ablation table, each fold's phase-1 validation Dice, the wall time of each phase, and the
speed ratios (shared pipeline vs TransUNet + LiteMedSAM; phase-1 step on cached vs recomputed features).

Usage (bench/busi_shared.sh runs it after preparing BUSI):
    .venv/bin/python bench/busi_shared.py OUT [P1_EPOCHS] [P2_EPOCHS] [P3_EPOCHS]
The encoder cache lives in $ULTRAREFINER_CACHE (default ~/.cache/ultrarefiner): built once, reused by every phase and run.
"""
import json, os, sys, time
from pathlib import Path
import numpy as np
import torch
from ultrarefiner.io import save_checkpoint
from ultrarefiner.data.splits import split_names
from ultrarefiner.models.sam import build_sam
from ultrarefiner.models.refiner import SAMRefiner
from ultrarefiner.models.export import use_runtime
from ultrarefiner.models.lite import FeatureBank, FeatureCache, LiteUltraRefiner, TinyViTFeatures, TinyViTUNet, native_dice, frame_dice, save_lite_pipeline
from ultrarefiner.training.lite import evaluate_bank, fit_coarse, fit_joint, fit_refiner, predict_coarse, refine_bank

torch.set_num_threads(int(os.environ.get('THREADS', os.cpu_count() or 2)))
out = Path(sys.argv[1]); E1, E2, E3 = (int(a) for a in (sys.argv[2:5] + ['16', '8', '2'][len(sys.argv[2:5]):]))
E1_OTHER = int(os.environ.get('P1_OTHER', E1))          # epochs of folds 1-4 (they supply out-of-fold masks only)
root = out/'data'/'processed'/'BUSI'
cache_root = Path(os.environ.get('ULTRAREFINER_CACHE', Path.home()/'.cache'/'ultrarefiner'))/'features'
log = lambda s: print(s, flush=True)
T = {}; rows = []; t_all = time.time()
LOSS = os.environ.get('P1_LOSS', 'bce_dice')                 # phase-1 loss of the coarse decoder
LP = dict(use_point=False, use_neg_point=False, use_box=True, use_mask=True, box_mode='hard', component='largest', multimask=False)

def timed(name):
    class _T:
        def __enter__(s): s.t = time.time(); log(f"== {name}")
        def __exit__(s, *a): T[name] = round(time.time() - s.t, 1); log(f"== {name}: {T[name]} s")
    return _T()

sam = build_sam('lite')
features = TinyViTFeatures(sam.image_encoder).eval()
# the encoder runtime of the feature cache (ENCODER_RUNTIME, e.g. openvino; ENCODER_PRECISION fp32 / bf16): fp32 exports
# share the cache with eager PyTorch (they agree to 3e-6); bf16 features are cached apart
print('TinyViT features on', use_runtime(features, os.environ.get('ENCODER_RUNTIME', 'auto'), os.environ.get('ENCODER_PRECISION', 'fp32')),
      flush=True)
cache = FeatureCache(cache_root, features)
with timed('encode (TinyViT, once; cached)'), torch.no_grad():
    train_all = FeatureBank.build(root, split_names(root, 'train'), cache, log=log)
    test = FeatureBank.build(root, split_names(root, 'test'), cache, log=log)
    test_flip = FeatureBank.build(root, split_names(root, 'test'), cache, flip=True, log=log)
    FLIP_TRAIN = os.environ.get('FLIP_TRAIN', '1') == '1'          # flip augmentation in phase 1: the mirrored images' features
    train_flip = FeatureBank.build(root, split_names(root, 'train'), cache, flip=True, log=log) if FLIP_TRAIN else None
    log(f"  {cache.misses} images encoded, {cache.hits} read from {cache.folder()}")

def row(name, coarse_model, refiner=None, rounds=1, flip=False, flip_refine=False, **prompts):
    "One table row: coarse + refined Dice on the test split (frame and native)."
    pipe = LiteUltraRefiner(refiner.sam if refiner else sam, coarse=coarse_model, **dict(LP, **prompts))
    if refiner is not None: pipe.refiner = refiner
    e = evaluate_bank(pipe, test, test_flip if flip else None, rounds=rounds, flip_refine=flip_refine)
    r = dict(name=name, coarse=e['coarse']['native'], refined=e['refined']['native'],
             coarse_frame=e['coarse']['frame'], refined_frame=e['refined']['frame'])
    rows.append(r)
    log(f"  {name:60s} coarse {r['coarse']:.4f} refined {r['refined']:.4f} (Δ {r['refined'] - r['coarse']:+.4f}) "
        f"| frame {r['coarse_frame']:.4f} → {r['refined_frame']:.4f}")
    return r

# Reference: LiteMedSAM with the ground-truth box (what a perfect box gives).
with torch.no_grad():
    ref0 = SAMRefiner(sam, **dict(LP, use_mask=False)).eval()
    gt = test.mask.float()
    rl = refine_bank(ref0, test, gt)
    rows.append(dict(name='reference: LiteMedSAM, ground-truth box', coarse=1.0, refined=float(np.mean(native_dice(rl, test, list(range(len(test))), 0.0))),
                     coarse_frame=1.0, refined_frame=float(np.mean(frame_dice(rl, test.mask, 0.0)))))
    log(f"  ground-truth box: {rows[-1]['refined']:.4f}")

# ---- phase 1: every fold, out-of-fold coarse masks
fold_val, models, oof = {}, {}, {}
REUSE = os.environ.get('REUSE_P1') == '1' and (out/'checkpoints'/'lite_coarse'/'oof.pt').exists()
if REUSE:                                        # phase 1 of an earlier run of this script (to vary phases 2 and 3 only)
    from ultrarefiner.io import load_checkpoint
    for k in range(5):
        st = load_checkpoint(out/'checkpoints'/'lite_coarse'/f'fold_{k}'/'best.pth')
        models[k] = TinyViTUNet(**{kk: tuple(v) if isinstance(v, list) else v for kk, v in st['config'].items()})
        models[k].load_state_dict(st['model']); models[k].eval(); fold_val[k] = max(x['val_dice'] for x in st['history'])
    oof = torch.load(out/'checkpoints'/'lite_coarse'/'oof.pt', weights_only=True)
    log(f"phase 1 reused from {out/'checkpoints'/'lite_coarse'} (REUSE_P1=1)")
with timed('phase 1 (5 folds, cached features)'):
    for k in ([] if REUSE else range(5)):
        tr, va = train_all.subset(split_names(root, 'train', k)), train_all.subset(split_names(root, 'val', k))
        log(f"-- fold {k}: {len(tr)} train / {len(va)} val, {E1 if k == 0 else E1_OTHER} epochs")
        m, h = fit_coarse(tr, va, epochs=E1 if k == 0 else E1_OTHER, log=log, loss_name=LOSS,
                          flip_train=train_flip.subset(tr.names) if FLIP_TRAIN else None)
        models[k] = m; fold_val[k] = max(x['val_dice'] for x in h)
        save_checkpoint({'model': m.state_dict(), 'config': m.config, 'history': h}, out/'checkpoints'/'lite_coarse'/f'fold_{k}'/'best.pth')
        for n, p in zip(va.names, predict_coarse(m, va)): oof[n] = p.half()
if not REUSE: save_checkpoint(oof, out/'checkpoints'/'lite_coarse'/'oof.pt')
log(f"phase-1 validation Dice per fold: {fold_val}")
m0 = models[0]
tr0, va0 = train_all.subset(split_names(root, 'train', 0)), train_all.subset(split_names(root, 'val', 0))
with timed('evaluate zero-shot rows'):
    row('TinyViTUNet coarse, zero-shot LiteMedSAM (box + mask, 1 round)', m0)
    row('TinyViTUNet coarse, zero-shot LiteMedSAM, 3 rounds', m0, rounds=3)
    row('TinyViTUNet coarse + flip, zero-shot LiteMedSAM', m0, flip=True)
    row('TinyViTUNet coarse, zero-shot LiteMedSAM, box only', m0, use_mask=False)
    row('TinyViTUNet coarse, zero-shot LiteMedSAM, box + mask ×3', m0, mask_scale=3.0)

# ---- phase 2: fold 0, trained on out-of-fold coarse masks
with timed('phase 2 (fold 0, cached embeddings)'):
    sam2 = build_sam('lite')
    ref2, h2 = fit_refiner(sam2, tr0, torch.stack([oof[n] for n in tr0.names]), va0, torch.stack([oof[n] for n in va0.names]),
                           epochs=E2, lr=float(os.environ.get('P2_LR', 1e-4)), perturb=float(os.environ.get('P2_PERTURB', 0.5)),
                           train_part=os.environ.get('P2_PART', 'decoder'), self_refine=float(os.environ.get('P2_SELF', 0.0)),
                           log=log, **LP)
    p2 = LiteUltraRefiner(sam2, coarse=m0, **LP); p2.refiner = ref2
    save_lite_pipeline(p2, out/'checkpoints'/'lite_phase2'/'fold_0'/'best.pth', history=h2)
with timed('evaluate phase-2 rows'):
    for rr in (1, 2, 3): row(f'after phase 2, {rr} round{"s" if rr > 1 else ""}', m0, ref2, rounds=rr)
    row('after phase 2, flip, 1 round', m0, ref2, flip=True)
    row('after phase 2, flip of the coarse model and the refiner, 1 round', m0, ref2, flip=True, flip_refine=True)

# ---- phase 3: fold 0, both decoders on the cache
with timed('phase 3 (fold 0, cached features)'):
    import copy
    pipe3 = LiteUltraRefiner(sam2, coarse=copy.deepcopy(m0), **LP); pipe3.refiner = ref2
    pipe3, h3 = fit_joint(pipe3, tr0, va0, epochs=E3, coarse_lr=float(os.environ.get('P3_COARSE_LR', 1e-4)),
                          sam_lr=float(os.environ.get('P3_SAM_LR', 1e-5)), log=log)
    save_lite_pipeline(pipe3, out/'checkpoints'/'lite_phase3'/'fold_0'/'best.pth', history=h3)
with timed('evaluate phase-3 rows'):
    for rr in (1, 2): row(f'after phase 3, {rr} round{"s" if rr > 1 else ""}', pipe3.coarse, pipe3.refiner, rounds=rr)
    row('after phase 3, flip, 1 round', pipe3.coarse, pipe3.refiner, flip=True)
    row('after phase 3, flip, 2 rounds', pipe3.coarse, pipe3.refiner, rounds=2, flip=True)
    row('after phase 3, flip of the coarse model and the refiner, 1 round', pipe3.coarse, pipe3.refiner, flip=True, flip_refine=True)

# ---- ablation: the local head (no global context), fold 0 only
if os.environ.get('ABLATE_LOCAL', '1') == '1' and not REUSE:
    with timed('ablation: local head (levels=0), fold 0'):
        ml, _ = fit_coarse(tr0, va0, epochs=E1, levels=0, log=log, loss_name=LOSS,
                           flip_train=train_flip.subset(tr0.names) if FLIP_TRAIN else None)
        row('local head (levels=0) coarse, zero-shot LiteMedSAM', ml)

# ---- speed, one run: shared pipeline vs TransUNet (small, 128) + LiteMedSAM; cached vs recomputed phase-1 step
with timed('speed'):
    from ultrarefiner.models.transunet import build_transunet
    from ultrarefiner.models.refiner import UltraRefiner
    from ultrarefiner.losses import ce_dice_loss
    x = torch.rand(4, 3, 256, 256); fr = torch.full((4, 2), 256)
    shared = LiteUltraRefiner(sam, coarse=m0, **LP).eval()
    old = UltraRefiner(build_transunet('small', img_size=128), SAMRefiner(sam, **LP)).eval()
    def best(f, n=3):
        ts = []
        for _ in range(n): t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
        return min(ts)
    with torch.no_grad():
        t_shared = best(lambda: shared(x, frame=fr))
        t_old = best(lambda: old(torch.rand(4, 1, 128, 128), image_sam=x))
    dec = TinyViTUNet(); opt = torch.optim.AdamW(dec.parameters(), 1e-3); y = torch.zeros(4, 256, 256, dtype=torch.long)
    def step(feats):
        loss = ce_dice_loss(dec(*feats), y); opt.zero_grad(); loss.backward(); opt.step()
    t_cached = best(lambda: step(train_all.feats(list(range(4)))))
    def recomputed():
        with torch.no_grad(): f = shared.features(x)
        step(f)
    t_recomp = best(recomputed)
    speed = dict(shared_pipeline_s=t_shared / 4, transunet_lite_pipeline_s=t_old / 4, pipeline_ratio=t_old / t_shared,
                 p1_step_cached_s=t_cached / 4, p1_step_recomputed_s=t_recomp / 4, p1_ratio=t_recomp / t_cached)
    log(f"  speed (per image, batch 4, best of 3): {json.dumps({k: round(v, 4) for k, v in speed.items()})}")

T['total'] = round(time.time() - t_all, 1)
json.dump(dict(rows=rows, fold_val=fold_val, times=T, speed=speed, epochs=[E1, E1_OTHER, E2, E3],
               settings={k: os.environ.get(k) for k in ('REUSE_P1', 'P1_OTHER', 'P1_LOSS', 'FLIP_TRAIN', 'P2_LR', 'P2_PERTURB', 'P2_PART', 'P2_SELF', 'P3_COARSE_LR', 'P3_SAM_LR')}), open(out/'table.json', 'w'), indent=1)
print('\n| row (BUSI fold 0, test split, 129 images) | coarse Dice | refined Dice | Δ | coarse / refined, 256 frame |\n|---|---:|---:|---:|---:|')
for r in rows: print(f"| {r['name']} | {r['coarse']:.4f} | {r['refined']:.4f} | {r['refined'] - r['coarse']:+.4f} | {r['coarse_frame']:.4f} / {r['refined_frame']:.4f} |")
print('\nphase-1 validation Dice per fold: ' + ', '.join(f"fold {k}: {v:.4f}" for k, v in fold_val.items()))
print('wall time per phase (s): ' + ', '.join(f"{k}: {v}" for k, v in T.items()))
print(f"speed: shared pipeline {speed['shared_pipeline_s']:.3f} s/image vs TransUNet + LiteMedSAM {speed['transunet_lite_pipeline_s']:.3f} "
      f"→ {speed['pipeline_ratio']:.2f}×; phase-1 step cached {speed['p1_step_cached_s']:.3f} vs recomputed {speed['p1_step_recomputed_s']:.3f} s/image → {speed['p1_ratio']:.1f}×")
