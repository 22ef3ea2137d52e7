#!/usr/bin/env python3
"""hf_gpu.py: Hugging Face transformers' CLIPModel in fp16 on the CUDA GPU, the metrics bench_gpu
prints (hf_* lines), on a ViT-B/32-shaped model with random weights (speed does not depend on the
values). Exits 3 when torch, transformers or a CUDA device is missing."""
import sys
import time

try:
    import torch
    from transformers import CLIPConfig, CLIPModel
except ImportError as e:
    print(f"# transformers fp16: not available ({e})")
    sys.exit(3)
if not torch.cuda.is_available():
    print("# transformers fp16: torch has no CUDA device")
    sys.exit(3)


def timed(fn, reps):
    fn()
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t) / reps * 1e3


model = CLIPModel(CLIPConfig()).half().cuda().eval()  # defaults: ViT-B/32, text 512 x 12
px1 = torch.randn(1, 3, 224, 224, device="cuda", dtype=torch.float16)
px32 = torch.randn(32, 3, 224, 224, device="cuda", dtype=torch.float16)
ids8 = torch.tensor([[320 + i for i in range(7)] + [49407]], device="cuda")
ids77 = torch.tensor([[320 + i for i in range(76)] + [49407]], device="cuda")
with torch.inference_mode():
    b1 = timed(lambda: model.get_image_features(pixel_values=px1), 40)
    b32 = timed(lambda: model.get_image_features(pixel_values=px32), 10)
    t8 = timed(lambda: model.get_text_features(input_ids=ids8), 40)
    t77 = timed(lambda: model.get_text_features(input_ids=ids77), 40)
print(f"# transformers {__import__('transformers').__version__}, torch {torch.__version__}, {torch.cuda.get_device_name()}, fp16")
print(f"hf_image_b1_ms {b1:.3f}")
print(f"hf_image_b32_ms_per_image {b32 / 32:.3f}")
print(f"hf_image_b32_images_per_s {32e3 / b32:.1f}")
print(f"hf_text_8tok_ms {t8:.3f}")
print(f"hf_text_77tok_ms {t77:.3f}")
