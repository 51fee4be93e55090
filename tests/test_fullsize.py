"""The full-size pipeline (R50-ViT-B_16 at 224 + SAM vit_b at 1024) runs forward at batch 1 on the CPU."""
import time
import pytest
import torch
from ultrarefiner.models.refiner import build_ultrarefiner


@pytest.mark.slow
def test_full_pipeline_forward_cpu():
    torch.manual_seed(0)
    m = build_ultrarefiner('full').eval()
    assert m.transunet.config.name == 'R50-ViT-B_16' and m.refiner.img_size == 1024
    assert m.refiner.sam.image_encoder.blocks[0].attn.qkv.in_features == 768          # vit_b
    x = torch.rand(1, 1, 224, 224)
    t = time.perf_counter()
    with torch.no_grad():
        out = m(x)
    print(f"full pipeline forward, batch 1, CPU: {time.perf_counter() - t:.1f}s")
    assert out['coarse_logits'].shape == (1, 2, 224, 224)
    assert out['refined_logits'].shape == (1, 1, 224, 224)
    assert out['low_res'].shape == (1, 1, 256, 256) and out['prompts'].mask.shape == (1, 1, 256, 256)
    assert torch.isfinite(out['refined_logits']).all() and torch.isfinite(out['iou']).all()
    pts = out['prompts'].points
    assert ((pts >= -1) & (pts <= 1024)).all()                                       # in SAM's 1024 frame
