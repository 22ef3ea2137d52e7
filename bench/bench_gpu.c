/* bench_gpu: the towers on a GPU next to the CPU, in one run, on the same model and inputs.
 *
 *   bench_gpu --model DIR [--device vulkan|vulkan:N] [--dtype f16|f32] [--threads N] [--cpu-reps N] [--gpu-only]
 *   bench_gpu --list        the Vulkan devices, one a line (exit 1 when there is no driver)
 *
 * DIR: a CLIP folder (bench_clip --keep DIR --write-only writes a ViT-B/32-shaped one with random
 * weights: speed does not depend on the values). For each device it times, after one warm-up call
 * each: image batch 1, image batch 32 (per image and images per second), text of 8 and of 77
 * tokens; and reports the upload time (weights to the device) and the device memory in use.
 * It also checks the GPU's batch-32 image embeddings and text embeddings against the CPU's (the
 * smallest cosine). Prints "metric value" lines (gpu_*, cpu_*, ratio_* = cpu / gpu) and '#'
 * lines naming the devices. Exits 1 when the GPU cannot be used (the reason is printed). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/model/backend.h"
#include "../src/model/clip.h"
#include "../src/model/ops.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void die(const char *what, const cs_err *e) {
    fprintf(stderr, "bench_gpu: %s: %s\n", what, e->msg);
    exit(1);
}

typedef struct result {
    double b1, b32, t8, t77, first_ms;
    uint64_t disp_image, disp_text; /* kernels per pass: an image (batch 1), a short text */
    clip_device dev;
} result;

static double time_image(clip_ctx *c, const float *px, int batch, int reps, float *out) {
    cs_err e;
    if (clip_vision_forward(c, px, batch, 1, NULL, out, &e)) die("image", &e);
    double t = now();
    for (int r = 0; r < reps; r++)
        if (clip_vision_forward(c, px, batch, 1, NULL, out, &e)) die("image", &e);
    return (now() - t) / reps * 1e3;
}

static double time_text(clip_ctx *c, int n, int reps, float *out) {
    int32_t ids[77];
    for (int i = 0; i < n; i++) ids[i] = i == n - 1 ? 49407 : 320 + i;
    const int32_t *p = ids;
    size_t len = (size_t)n;
    cs_err e;
    if (clip_text_embed(c, &p, &len, 1, 1, out, &e)) die("text", &e);
    double t = now();
    for (int r = 0; r < reps; r++)
        if (clip_text_embed(c, &p, &len, 1, 1, out, &e)) die("text", &e);
    return (now() - t) / reps * 1e3;
}

/* Runs every metric on one device; emb32 and temb receive the batch-32 and 77-token embeddings. */
static void run(const char *model, const char *device, int f32, int threads, int reps, const float *px, result *r,
                float *emb32, float *temb) {
    clip_params p = clip_default_params();
    p.threads = threads;
    p.device = device;
    p.f32 = f32;
    clip_ctx *c;
    cs_err e;
    if (clip_load(model, &p, &c, &e)) die("load", &e);
    clip_device d;
    clip_get_device(c, &d);
    int asked = 0;
    const char *note = clip_device_note(c, &asked);
    if (strcmp(device, "cpu") && strcmp(d.backend, "vulkan")) {
        fprintf(stderr, "bench_gpu: %s is not usable: %s\n", device, note ? note : "?");
        exit(1);
    }
    int P = clip_get_info(c)->projection_dim;
    float *out = malloc((size_t)32 * P * sizeof *out);
    double t0 = now();
    if (clip_vision_forward(c, px, 1, 1, NULL, out, &e) || clip_texts_embed(c, (const char *[]){"a"}, 1, 1, out, &e))
        die("first pass", &e);
    r->first_ms = (now() - t0) * 1e3;
    /* kernels per pass: what a pass costs in launches and barriers, whatever the device's speed */
    clip_device d0, d1, d2;
    clip_get_device(c, &d0);
    if (clip_vision_forward(c, px, 1, 1, NULL, out, &e)) die("image", &e);
    clip_get_device(c, &d1);
    if (clip_texts_embed(c, (const char *[]){"a photo of a cat"}, 1, 1, out, &e)) die("text", &e);
    clip_get_device(c, &d2);
    r->disp_image = d1.dispatches - d0.dispatches;
    r->disp_text = d2.dispatches - d1.dispatches;
    r->b1 = time_image(c, px, 1, reps * 4, out);
    r->b32 = time_image(c, px, 32, reps, emb32);
    r->t8 = time_text(c, 8, reps * 4, out);
    r->t77 = time_text(c, 77, reps * 4, temb);
    clip_get_device(c, &r->dev);
    if (strcmp(r->dev.backend, d.backend)) { /* fell back during the runs */
        fprintf(stderr, "bench_gpu: %s stopped working: %s\n", device, clip_device_note(c, NULL));
        exit(1);
    }
    free(out);
    clip_free(c);
}

static float min_cosine(const float *a, const float *b, int n, int d) {
    float worst = 2;
    for (int i = 0; i < n; i++) {
        double s = 0, na = 0, nb = 0;
        for (int k = 0; k < d; k++) {
            s += (double)a[i * d + k] * b[i * d + k];
            na += (double)a[i * d + k] * a[i * d + k];
            nb += (double)b[i * d + k] * b[i * d + k];
        }
        float c = (float)(s / (sqrt(na * nb) + 1e-30));
        if (c < worst) worst = c;
    }
    return worst;
}

int main(int argc, char **argv) {
    const char *model = NULL, *device = "vulkan";
    int f32 = 0, threads = 0, cpu_reps = 3, gpu_only = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "--device") && i + 1 < argc) device = argv[++i];
        else if (!strcmp(argv[i], "--dtype") && i + 1 < argc) f32 = !strcmp(argv[++i], "f32");
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--cpu-reps") && i + 1 < argc) cpu_reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--gpu-only")) gpu_only = 1;
        else if (!strcmp(argv[i], "--list")) {
            char buf[4096];
            cs_err e;
            int n = be_vk_list(buf, sizeof buf, &e);
            if (n < 0) { printf("no Vulkan driver: %s\n", e.msg); return 1; }
            if (n == 0) { printf("no Vulkan devices\n"); return 1; }
            fputs(buf, stdout);
            return 0;
        }
        else {
            fprintf(stderr, "usage: bench_gpu --model DIR [--device vulkan|vulkan:N] [--dtype f16|f32] [--threads N] "
                            "[--cpu-reps N]\n");
            return 2;
        }
    }
    if (!model) { fprintf(stderr, "bench_gpu: --model DIR is required\n"); return 2; }
    clip_params p = clip_default_params();
    p.device = "cpu";
    clip_ctx *c;
    cs_err e;
    if (clip_load(model, &p, &c, &e)) die("load", &e);
    int S = clip_get_info(c)->image_size, P = clip_get_info(c)->projection_dim;
    clip_free(c);
    size_t per = (size_t)3 * S * S;
    float *px = malloc(per * 32 * sizeof *px), *g32 = malloc((size_t)32 * P * 4), *c32 = malloc((size_t)32 * P * 4);
    float *gt = malloc((size_t)P * 4), *ct = malloc((size_t)P * 4);
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < per * 32; i++) {
        rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27;
        px[i] = (float)((rng * 2685821657736338717ull) >> 40) / (float)(1 << 23) - 1.0f;
    }
    result g, cpu;
    run(model, device, f32, threads, 10, px, &g, g32, gt);
    printf("# gpu: %s; driver %s; %s weights\n", g.dev.device, g.dev.driver, g.dev.precision);
    if (gpu_only) { /* the GPU's numbers alone (a memory-capped run, a second precision) */
        printf("gpu_image_b1_ms %.3f\ngpu_image_b32_ms_per_image %.3f\ngpu_text_8tok_ms %.3f\ngpu_text_77tok_ms %.3f\n"
               "gpu_device_mb %.1f\ngpu_dispatches_image_pass %llu\ngpu_dispatches_text_pass %llu\n", g.b1, g.b32 / 32, g.t8,
               g.t77, (g.dev.weight_bytes + g.dev.work_bytes) / 1048576.0, (unsigned long long)g.disp_image,
               (unsigned long long)g.disp_text);
        return 0;
    }
    run(model, "cpu", 0, threads, cpu_reps, px, &cpu, c32, ct);
    printf("# cpu: %s, %d threads\n", cpu.dev.device, cpu.dev.threads);
    printf("gpu_image_b1_ms %.3f\n", g.b1);
    printf("gpu_image_b32_ms_per_image %.3f\n", g.b32 / 32);
    printf("gpu_image_b32_images_per_s %.1f\n", 32e3 / g.b32);
    printf("gpu_text_8tok_ms %.3f\n", g.t8);
    printf("gpu_text_77tok_ms %.3f\n", g.t77);
    printf("gpu_upload_ms %.1f\n", g.dev.upload_ms);
    printf("gpu_first_pass_ms %.1f\n", g.first_ms);
    printf("gpu_weight_mb %.1f\n", g.dev.weight_bytes / 1048576.0);
    printf("gpu_work_mb %.1f\n", g.dev.work_bytes / 1048576.0);
    printf("gpu_device_mb %.1f\n", (g.dev.weight_bytes + g.dev.work_bytes) / 1048576.0);
    printf("gpu_dispatches_image_pass %llu\n", (unsigned long long)g.disp_image);
    printf("gpu_dispatches_text_pass %llu\n", (unsigned long long)g.disp_text);
    printf("cpu_image_b1_ms %.3f\n", cpu.b1);
    printf("cpu_image_b32_ms_per_image %.3f\n", cpu.b32 / 32);
    printf("cpu_image_b32_images_per_s %.1f\n", 32e3 / cpu.b32);
    printf("cpu_text_8tok_ms %.3f\n", cpu.t8);
    printf("cpu_text_77tok_ms %.3f\n", cpu.t77);
    printf("ratio_image_b1 %.2f\n", cpu.b1 / g.b1);
    printf("ratio_image_b32 %.2f\n", cpu.b32 / g.b32);
    printf("ratio_text_8tok %.2f\n", cpu.t8 / g.t8);
    printf("ratio_text_77tok %.2f\n", cpu.t77 / g.t77);
    printf("check_image_b32_min_cosine %.6f\n", min_cosine(g32, c32, 32, P));
    printf("check_text_77tok_cosine %.6f\n", min_cosine(gt, ct, 1, P));
    free(px); free(g32); free(c32); free(gt); free(ct);
    return 0;
}
