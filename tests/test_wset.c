/* wset on a real safetensors file: which weights are read in place from the map and which are
 * copied, and that a weight the backend keeps its own copy of is not resident twice (its mapped
 * pages are gone from this process, checked in /proc/self/pagemap). */
#include <fcntl.h>
#include <stdint.h>

#include "../src/model/wset.h"
#include "testutil.h"

enum { BIG_N = 1024, BIG_K = 1024, SMALL = 256 };

/* model.safetensors with three F32 tensors in this order: a small "bias_a", a 4 MB "big" and a
 * small "bias_b" (the layout of a checkpoint: biases and norms between the large matrices). */
static void write_model(const char *path) {
    size_t sb = SMALL * 4, bb = (size_t)BIG_N * BIG_K * 4;
    char h[512];
    int n = snprintf(h, sizeof h,
                     "{\"bias_a\":{\"dtype\":\"F32\",\"shape\":[%d],\"data_offsets\":[0,%zu]},"
                     "\"big\":{\"dtype\":\"F32\",\"shape\":[%d,%d],\"data_offsets\":[%zu,%zu]},"
                     "\"bias_b\":{\"dtype\":\"F32\",\"shape\":[%d],\"data_offsets\":[%zu,%zu]}}",
                     SMALL, sb, BIG_N, BIG_K, sb, sb + bb, SMALL, sb + bb, 2 * sb + bb);
    while ((8 + n) % 64) h[n++] = ' '; /* the data 64-byte aligned in the file, as writers pad it */
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    uint64_t hl = (uint64_t)n;
    fwrite(&hl, 8, 1, f);
    fwrite(h, 1, (size_t)n, f);
    float *d = malloc(2 * sb + bb);
    for (size_t i = 0; i < (2 * sb + bb) / 4; i++) d[i] = (float)(i % 97) * 0.01f;
    fwrite(d, 1, 2 * sb + bb, f);
    free(d);
    cr_assert_eq(fclose(f), 0);
}

/* Pages of [p, p + bytes) (whole pages only) mapped in this process. */
static size_t present_pages(const void *p, size_t bytes) {
    int fd = open("/proc/self/pagemap", O_RDONLY);
    cr_assert_geq(fd, 0);
    uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE), a = ((uintptr_t)p + pg - 1) & ~(pg - 1),
              b = ((uintptr_t)p + bytes) & ~(pg - 1);
    size_t n = 0;
    for (uintptr_t x = a; x < b; x += pg) {
        uint64_t e = 0;
        cr_assert_eq(pread(fd, &e, 8, (off_t)(x / pg) * 8), 8);
        n += (e >> 63) & 1;
    }
    close(fd);
    return n;
}

Test(wset, small_weights_are_copied_and_a_copied_weight_leaves_the_map) {
    char dir[] = "/tmp/clipseek-wset-XXXXXX", path[200];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    write_model(path);
    st_set *st;
    cs_err e;
    cr_assert_eq(st_open(path, &st, &e), 0, "%s", e.msg);
    wset w = {dir, st, NULL, 0, NULL, 0, 0};
    const float *a = NULL, *big = NULL, *b = NULL;
    cr_assert_eq(ws_add(&w, 1, &a, "bias_a", 1, SMALL, 0, 0, 0), 0);
    cr_assert_eq(ws_add(&w, 1, &big, "big", 2, BIG_N, BIG_K, 0, 0), 0);
    cr_assert_eq(ws_add(&w, 1, &b, "bias_b", 1, SMALL, 0, 0, 0), 0);
    cr_assert_eq(ws_views(&w, 1, &e), 0, "%s", e.msg);
    const st_tensor *tb = st_find(st, "big");
    /* the large matrix is read in place; the small ones are copies, never the map */
    cr_assert_eq((const void *)big, tb->data, "a 4 MB F32 weight should be read in place");
    cr_assert_neq((const void *)a, st_find(st, "bias_a")->data, "a small weight was left in the map");
    cr_assert_neq((const void *)b, st_find(st, "bias_b")->data, "a small weight was left in the map");
    cr_assert_float_eq(b[3], (float)(((size_t)SMALL + BIG_N * BIG_K + 3) % 97) * 0.01f, 1e-6f);

    /* a backend copies the matrix (as packing or q8 conversion do) and the source is dropped */
    size_t bytes = (size_t)BIG_N * BIG_K * 4;
    float *copy = malloc(bytes);
    memcpy(copy, big, bytes);
    cr_assert_gt(present_pages(tb->data, bytes), (size_t)BIG_N * BIG_K * 4 / 4096 / 2);
    ws_drop(&w, &big, bytes);
    big = NULL;
    /* the kernel maps a page-cache folio whole when a neighbour is touched: the dropped pages can
     * come back without this code reading them. Reading them again stands in for that. */
    volatile float sink = 0;
    for (size_t i = 0; i < (size_t)BIG_N * BIG_K; i += 1024) sink += ((const float *)tb->data)[i];
    (void)sink;
    cr_assert_gt(present_pages(tb->data, bytes), 0);
    ws_release(&w, 1);
    cr_assert_eq(present_pages(tb->data, bytes), 0, "the copied weight is still resident in the map");
    cr_assert_float_eq(a[1], 0.01f, 1e-6f, "a copy kept in the wset was released");
    free(copy);
    ws_free(&w);
    st_close(st);
    unlink(path);
    rmdir(dir);
}
