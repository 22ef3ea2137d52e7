/* backend_vk: the Vulkan compute backend behind backend.h.
 *
 * Shaders: GLSL in src/model/shaders, compiled to SPIR-V by glslc at build time and embedded
 * (as build/shaders/NAME.inc). One descriptor layout for all of them (push descriptors, six storage
 * buffers: workspace, weight, three float vectors, host-written indices) and a 64-byte push constant.
 *
 * Memory: weights live in device-local chunks (sub-allocated, one VkBuffer per chunk, each weight
 * bound at its own aligned offset), uploaded once through a host-visible staging buffer. Linear
 * weights are F16 by default (F32 with f16 = 0); vectors and the token table stay F32. The
 * workspace (all activations) is one device-local buffer; it only grows, at be_reserve, between
 * passes. Host inputs and outputs go through a host-visible staging arena; the small index arrays
 * (sequence bounds, pooled rows, token ids, masks) through a host-visible index arena.
 *
 * Recording: operations are recorded into one command buffer, each followed by a full memory
 * barrier; be_sync submits it once, waits, and copies the downloads out. A layer norm into a
 * buffer of its own is held back one operation: when the next is a product of its output (the
 * towers' ln1 -> qkv, ln2 -> fc1, post-LN -> projection), the product's shader normalises its
 * rows itself (matmul.comp, ln); otherwise it is recorded as it was. CLIPSEEK_VK_NOFUSE=1 keeps
 * every layer norm a dispatch of its own. An arena that fills up
 * mid-pass is replaced by a bigger one; the old one is kept alive until the pass is done.
 *
 * Device features: 16-bit storage (else F16 weights are read two per uint with unpackHalf2x16),
 * subgroup arithmetic (else shared-memory reductions). Required: Vulkan 1.1, a compute queue and
 * VK_KHR_push_descriptor.
 *
 * Errors are sticky (first one wins) and reported by be_sync; clip.c then falls back to the CPU. */
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <vulkan/vulkan.h>

#include "ops.h"
#include "safetensors.h"

static const uint32_t spv_matmul_f32[] =
#include "matmul_f32.inc"
    ;
static const uint32_t spv_matmul_f16[] =
#include "matmul_f16.inc"
    ;
static const uint32_t spv_matmul_f16p[] =
#include "matmul_f16p.inc"
    ;
static const uint32_t spv_layernorm[] =
#include "layernorm.inc"
    ;
static const uint32_t spv_layernorm_sg[] =
#include "layernorm_sg.inc"
    ;
static const uint32_t spv_attention[] =
#include "attention.inc"
    ;
static const uint32_t spv_attention_sg[] =
#include "attention_sg.inc"
    ;
static const uint32_t spv_rows[] =
#include "rows.inc"
    ;
static const uint32_t spv_im2col[] =
#include "im2col.inc"
    ;

enum { P_MATMUL, P_MATMUL32, P_LAYERNORM, P_ATTENTION, P_ROWS, P_IM2COL, P_COUNT };
enum { MAX_KEYS = 2048, MAX_HD = 256, CHUNK = 64u << 20 };

typedef struct vk_buf {
    VkBuffer buf;
    VkDeviceMemory mem;
    VkDeviceSize size;
    void *map; /* host-visible buffers: mapped for good */
} vk_buf;

typedef struct vk_w {
    be_w h;
    int chunk;
    VkDeviceSize off, bytes;
    int f16;
} vk_w;

/* An arena: a host-visible buffer filled from its start each pass. */
typedef struct arena {
    vk_buf b;
    VkDeviceSize used;
} arena;

typedef struct download {
    float *dst;
    const void *src; /* in the staging arena's mapping (an arena replaced later stays mapped until sync) */
    size_t n;
} download;

typedef struct vk_be {
    be b;
    int f16, f16_storage, subgroup;
    VkInstance inst;
    VkPhysicalDevice pd;
    VkDevice dev;
    VkQueue queue;
    uint32_t qfam;
    VkPhysicalDeviceMemoryProperties memp;
    VkDeviceSize align, max_range;
    PFN_vkCmdPushDescriptorSetKHR push;
    VkDescriptorSetLayout dsl;
    VkPipelineLayout pl;
    VkPipeline pipe[P_COUNT];
    VkCommandPool pool;
    VkCommandBuffer cmd;
    VkFence fence;
    int recording;
    vk_buf *chunks; /* weight memory */
    int nchunks;
    VkDeviceSize chunk_used;
    vk_buf ws;    /* workspace */
    vk_buf dummy; /* bound where a shader reads nothing */
    arena stage, idx;
    vk_buf *retired; /* arenas replaced mid-pass, freed at sync */
    int nretired;
    download *dl;
    int ndl, dlcap;
    /* weight upload: copies recorded into their own command buffer, flushed before a pass */
    arena up;
    VkCommandBuffer upcmd;
    int uploading;
    int failed;
    char why[512];
    VkDeviceSize dev_bytes, limit; /* device-local bytes allocated; a cap (CLIPSEEK_VK_MEMORY_MB), 0 = none */
    int split, ndisp;              /* submit every `split` dispatches (0: once per pass); dispatches recorded so far */
    int nofuse;                    /* CLIPSEEK_VK_NOFUSE: no layer norm inside the products */
    struct {                       /* a layer norm held back (see the top of the file) */
        int on, m, d;
        be_off x, y;
        const be_w *g, *b;
        float eps;
    } pend;
} vk_be;

#define VB(b) ((vk_be *)(b))
#define VW(w) ((const vk_w *)(w))

/* float to IEEE half, rounding to nearest even; overflow gives infinity, NaN stays NaN. */
static uint16_t f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, e = (x >> 23) & 0xffu, m = x & 0x7fffffu;
    if (e == 0xffu) return (uint16_t)(sign | 0x7c00u | (m ? 0x200u : 0));
    int ee = (int)e - 127 + 15;
    if (ee >= 31) return (uint16_t)(sign | 0x7c00u);
    if (ee <= 0) { /* subnormal half, or zero */
        if (ee < -10) return (uint16_t)sign;
        m |= 0x800000u;
        uint32_t shift = (uint32_t)(14 - ee), hm = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (hm & 1u))) hm++;
        return (uint16_t)(sign | hm);
    }
    uint32_t hm = m >> 13, rem = m & 0x1fffu;
    uint32_t h = sign | ((uint32_t)ee << 10) | hm;
    if (rem > 0x1000u || (rem == 0x1000u && (hm & 1u))) h++; /* may carry into the exponent: correct */
    return (uint16_t)h;
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static const char *vk_str(VkResult r) {
    switch (r) {
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "out of host memory";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "out of device memory";
    case VK_ERROR_DEVICE_LOST: return "device lost";
    case VK_ERROR_INITIALIZATION_FAILED: return "initialization failed";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "no compatible Vulkan driver";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "extension not present";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "feature not present";
    case VK_TIMEOUT: return "timed out";
    default: return "Vulkan error";
    }
}

/* Keeps the first error; later operations of the pass are skipped. */
static void fail(vk_be *v, const char *what, VkResult r) {
    if (v->failed) return;
    v->failed = 1;
    snprintf(v->why, sizeof v->why, "%s: %s (%d)", what, vk_str(r), (int)r);
}

static int mem_type(vk_be *v, uint32_t bits, VkMemoryPropertyFlags want) {
    for (uint32_t i = 0; i < v->memp.memoryTypeCount; i++)
        if ((bits & (1u << i)) && (v->memp.memoryTypes[i].propertyFlags & want) == want) return (int)i;
    return -1;
}

static VkResult buf_new(vk_be *v, VkDeviceSize size, int host, vk_buf *out) {
    memset(out, 0, sizeof *out);
    VkBufferCreateInfo bi = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    bi.size = size;
    bi.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    bi.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    /* the cap plays a smaller GPU: what fits in 2 GB, and what happens when memory runs out */
    if (!host && v->limit && v->dev_bytes + size > v->limit) return VK_ERROR_OUT_OF_DEVICE_MEMORY;
    VkResult r = vkCreateBuffer(v->dev, &bi, NULL, &out->buf);
    if (r) return r;
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(v->dev, out->buf, &req);
    int t = host ? mem_type(v, req.memoryTypeBits,
                            VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT)
                 : mem_type(v, req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    if (t < 0) {
        vkDestroyBuffer(v->dev, out->buf, NULL);
        out->buf = VK_NULL_HANDLE;
        return VK_ERROR_OUT_OF_DEVICE_MEMORY;
    }
    VkMemoryAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    ai.allocationSize = req.size;
    ai.memoryTypeIndex = (uint32_t)t;
    if ((r = vkAllocateMemory(v->dev, &ai, NULL, &out->mem)) ||
        (r = vkBindBufferMemory(v->dev, out->buf, out->mem, 0)) ||
        (host && (r = vkMapMemory(v->dev, out->mem, 0, VK_WHOLE_SIZE, 0, &out->map)))) {
        if (out->mem) vkFreeMemory(v->dev, out->mem, NULL);
        vkDestroyBuffer(v->dev, out->buf, NULL);
        memset(out, 0, sizeof *out);
        return r;
    }
    out->size = size;
    if (!host) v->dev_bytes += size;
    return VK_SUCCESS;
}

static void buf_free(vk_be *v, vk_buf *b) {
    if (!b->buf) return;
    if (!b->map) v->dev_bytes -= b->size;
    vkDestroyBuffer(v->dev, b->buf, NULL);
    vkFreeMemory(v->dev, b->mem, NULL); /* unmaps */
    memset(b, 0, sizeof *b);
}

static void work_bytes(vk_be *v) { v->b.info.work_bytes = v->ws.size + v->stage.b.size + v->idx.b.size + v->up.b.size; }

/* Room for `bytes` in an arena (aligned for a descriptor offset); grows it, retiring the old
 * buffer until the pass ends. Returns the offset, or -1 on failure (recorded). */
static long long arena_take(vk_be *v, arena *a, VkDeviceSize bytes) {
    VkDeviceSize off = (a->used + v->align - 1) / v->align * v->align;
    if (off + bytes > a->b.size) {
        VkDeviceSize ns = a->b.size ? a->b.size : (1u << 20);
        while (ns < bytes * 2) ns *= 2;
        if (a->b.buf) {
            vk_buf *nr = realloc(v->retired, (size_t)(v->nretired + 1) * sizeof *nr);
            if (!nr) {
                fail(v, "retiring a buffer", VK_ERROR_OUT_OF_HOST_MEMORY);
                return -1;
            }
            v->retired = nr;
            v->retired[v->nretired++] = a->b;
            memset(&a->b, 0, sizeof a->b);
        }
        VkResult r = buf_new(v, ns, 1, &a->b);
        if (r) {
            fail(v, "allocating a staging buffer", r);
            return -1;
        }
        work_bytes(v);
        off = 0;
    }
    a->used = off + bytes;
    return (long long)off;
}

static void barrier(vk_be *v, VkCommandBuffer cb) {
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_HOST_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                       VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_HOST_READ_BIT;
    (void)v;
    vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT | VK_PIPELINE_STAGE_HOST_BIT,
                         VK_PIPELINE_STAGE_ALL_COMMANDS_BIT | VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, NULL, 0, NULL);
}

static int flush_uploads(vk_be *v);

/* The pass's command buffer, begun on first use (weights still on their way are sent first). NULL
 * after a failure. */
static VkCommandBuffer rec(vk_be *v) {
    if (v->failed) return VK_NULL_HANDLE;
    if (!v->recording) {
        if (flush_uploads(v)) return VK_NULL_HANDLE;
        VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
        bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
        VkResult r = vkBeginCommandBuffer(v->cmd, &bi);
        if (r) {
            fail(v, "beginning a command buffer", r);
            return VK_NULL_HANDLE;
        }
        v->recording = 1;
    }
    return v->cmd;
}

static VkResult submit_wait(vk_be *v, VkCommandBuffer cb) {
    VkResult r = vkEndCommandBuffer(cb);
    if (r) return r;
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cb;
    if ((r = vkResetFences(v->dev, 1, &v->fence)) || (r = vkQueueSubmit(v->queue, 1, &si, v->fence))) return r;
    /* Wait until the queue is done with cb, however long that takes. This used to give up after
     * 60 s and call it a lost device; the caller then reset the command buffer (and freed buffers)
     * while the device was still running it. On lavapipe, whose passes take minutes on a loaded
     * CPU, that was the crash in its queue thread: it read the command list we had just freed
     * ("Unsupported command", a SIGSEGV). A hung GPU ends the wait itself: its driver reports the
     * device lost. The wait runs in slices (CLIPSEEK_VK_WAIT_SLICE_MS, default 60 s; tests set
     * 1 ms) only so that a slow pass goes through the same path a test can reach. */
    const char *sl = getenv("CLIPSEEK_VK_WAIT_SLICE_MS");
    uint64_t slice = sl && atoll(sl) > 0 ? (uint64_t)atoll(sl) * 1000000ull : 60ull * 1000 * 1000 * 1000;
    while ((r = vkWaitForFences(v->dev, 1, &v->fence, VK_TRUE, slice)) == VK_TIMEOUT) continue;
    return r;
}

/* Sends the recorded weight copies and waits: weights are in place before a pass reads them. */
static int flush_uploads(vk_be *v) {
    if (!v->uploading) return 0;
    double t = now_ms();
    VkResult r = submit_wait(v, v->upcmd);
    v->uploading = 0;
    v->up.used = 0;
    vkResetCommandBuffer(v->upcmd, 0);
    v->b.info.upload_ms += now_ms() - t;
    if (r) {
        fail(v, "uploading weights", r);
        return -1;
    }
    return 0;
}

/* ---- descriptors and dispatch ---- */

typedef struct bind {
    VkBuffer buf;
    VkDeviceSize off, range;
} bind;

static bind bw(vk_be *v, const be_w *w) {
    if (!w) return (bind){v->dummy.buf, 0, v->dummy.size};
    const vk_w *x = VW(w);
    return (bind){v->chunks[x->chunk].buf, x->off, x->bytes};
}

static void flush_ln(vk_be *v);

/* Records one dispatch (after a layer norm held back, if any): bindings 1-5 as common.glsl. */
static void dispatch6(vk_be *v, int p, bind w, bind a, bind b2, bind ix, bind c, const void *pc, size_t pcn,
                      uint32_t gx, uint32_t gy) {
    flush_ln(v);
    VkCommandBuffer cb = rec(v);
    if (!cb) return;
    if (gx > 65535 || gy > 65535) {
        fail(v, "a dispatch larger than 65535 workgroups", VK_ERROR_FEATURE_NOT_PRESENT);
        return;
    }
    VkDescriptorBufferInfo bi[6] = {{v->ws.buf, 0, v->ws.size}, {w.buf, w.off, w.range},    {a.buf, a.off, a.range},
                                    {b2.buf, b2.off, b2.range}, {ix.buf, ix.off, ix.range}, {c.buf, c.off, c.range}};
    VkWriteDescriptorSet wr[6];
    for (int i = 0; i < 6; i++) {
        memset(&wr[i], 0, sizeof wr[i]);
        wr[i].sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET;
        wr[i].dstBinding = (uint32_t)i;
        wr[i].descriptorCount = 1;
        wr[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        wr[i].pBufferInfo = &bi[i];
    }
    vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, v->pipe[p]);
    v->push(cb, VK_PIPELINE_BIND_POINT_COMPUTE, v->pl, 0, 6, wr);
    vkCmdPushConstants(cb, v->pl, VK_SHADER_STAGE_COMPUTE_BIT, 0, (uint32_t)pcn, pc);
    vkCmdDispatch(cb, gx, gy, 1);
    v->b.info.dispatches++;
    barrier(v, cb);
    if (v->split && ++v->ndisp % v->split == 0) { /* CLIPSEEK_VK_SPLIT (be_vk_new) */
        VkResult r = submit_wait(v, cb);
        vkResetCommandBuffer(cb, 0);
        v->recording = 0;
        if (r) fail(v, "running part of a pass", r);
    }
}

/* Copies n ints into the index arena; returns its binding and the int offset 0. */
static bind put_ints(vk_be *v, const int *src, size_t n) {
    long long off = arena_take(v, &v->idx, n * sizeof(int) + 4);
    if (off < 0) return (bind){v->dummy.buf, 0, v->dummy.size};
    memcpy((char *)v->idx.b.map + off, src, n * sizeof(int));
    return (bind){v->idx.b.buf, (VkDeviceSize)off, n * sizeof(int) + 4};
}

static bind nob(vk_be *v) { return (bind){v->dummy.buf, 0, v->dummy.size}; }

static void dispatch(vk_be *v, int p, bind w, bind a, bind b2, bind ix, const void *pc, size_t pcn, uint32_t gx,
                     uint32_t gy) {
    dispatch6(v, p, w, a, b2, ix, nob(v), pc, pcn, gx, gy);
}

/* Records the layer norm held back, if any. */
static void flush_ln(vk_be *v) {
    if (!v->pend.on) return;
    v->pend.on = 0;
    struct {
        uint32_t x, y, d;
        float eps;
    } pc = {(uint32_t)v->pend.x, (uint32_t)v->pend.y, (uint32_t)v->pend.d, v->pend.eps};
    dispatch(v, P_LAYERNORM, nob(v), bw(v, v->pend.g), bw(v, v->pend.b), nob(v), &pc, sizeof pc, (uint32_t)v->pend.m,
             1);
}

/* ---- the operations ---- */

static int vk_reserve(be *b, size_t floats, int maxseq, int hd, int maxrows, int maxk, cs_err *err) {
    vk_be *v = VB(b);
    (void)maxrows;
    (void)maxk;
    if (v->failed) return cs_err_set(err, "%s", v->why);
    if (maxseq > MAX_KEYS || hd > MAX_HD) {
        fail(v, "sequence or head size beyond the shaders' limits", VK_ERROR_FEATURE_NOT_PRESENT);
        return cs_err_set(err, "%d tokens of head size %d: the Vulkan shaders take up to %d and %d", maxseq, hd,
                          MAX_KEYS, MAX_HD);
    }
    if (flush_uploads(v)) return cs_err_set(err, "%s", v->why);
    VkDeviceSize bytes = (VkDeviceSize)floats * sizeof(float);
    if (bytes > v->max_range) {
        fail(v, "workspace beyond the device's storage buffer range", VK_ERROR_OUT_OF_DEVICE_MEMORY);
        return cs_err_set(err, "a %llu MB workspace is beyond this device's %llu MB buffer range",
                          (unsigned long long)(bytes >> 20), (unsigned long long)(v->max_range >> 20));
    }
    if (bytes > v->ws.size) {
        buf_free(v, &v->ws);
        VkResult r = buf_new(v, bytes, 0, &v->ws);
        if (r) {
            fail(v, "allocating the workspace", r);
            return cs_err_set(err, "%s", v->why);
        }
        work_bytes(v);
    }
    v->stage.used = v->idx.used = 0;
    return 0;
}

static be_w *vk_prepare(be *b, const void *data, int dtype, int n, int k, int kind, cs_err *err) {
    vk_be *v = VB(b);
    if (v->failed) {
        cs_err_set(err, "%s", v->why);
        return NULL;
    }
    vk_w *w = calloc(1, sizeof *w);
    if (!w) {
        cs_errc(err, CS_ENOMEM, "out of memory");
        return NULL;
    }
    double t0 = now_ms();
    size_t numel = (size_t)n * k;
    w->h.n = n;
    w->h.k = k;
    w->h.copied = 1;
    w->f16 = v->f16 && (kind == BE_W_LINEAR || kind == BE_W_LINEAR_FEW);
    w->bytes = numel * (w->f16 ? 2 : 4);
    VkDeviceSize alloc = (w->bytes + 3) & ~(VkDeviceSize)3; /* F16 read as uints may touch one half past */
    if (alloc > v->max_range) {
        free(w);
        fail(v, "a weight beyond the device's storage buffer range", VK_ERROR_OUT_OF_DEVICE_MEMORY);
        cs_err_set(err, "%s", v->why);
        return NULL;
    }
    /* place it in the current chunk, or a new one */
    VkDeviceSize off = (v->chunk_used + v->align - 1) / v->align * v->align;
    if (!v->nchunks || off + alloc > v->chunks[v->nchunks - 1].size) {
        VkDeviceSize cs = alloc > CHUNK ? alloc : CHUNK;
        if (v->limit && cs > alloc && v->dev_bytes + cs > v->limit) /* a capped device: what is left */
            cs = v->limit > v->dev_bytes + alloc ? v->limit - v->dev_bytes : alloc;
        vk_buf *nc = realloc(v->chunks, (size_t)(v->nchunks + 1) * sizeof *nc);
        if (!nc) {
            free(w);
            cs_errc(err, CS_ENOMEM, "out of memory");
            return NULL;
        }
        v->chunks = nc;
        VkResult r = buf_new(v, cs, 0, &v->chunks[v->nchunks]);
        if (r) {
            free(w);
            fail(v, "allocating weight memory", r);
            cs_err_set(err, "%s", v->why);
            return NULL;
        }
        v->nchunks++;
        v->b.info.weight_bytes += cs;
        off = 0;
    }
    w->chunk = v->nchunks - 1;
    w->off = off;
    v->chunk_used = off + alloc;
    /* convert into the upload arena, then record the copy */
    if (v->up.used + alloc > v->up.b.size && flush_uploads(v)) {
        free(w);
        cs_err_set(err, "%s", v->why);
        return NULL;
    }
    long long so = arena_take(v, &v->up, alloc);
    if (so < 0) {
        free(w);
        cs_err_set(err, "%s", v->why);
        return NULL;
    }
    unsigned char *dst = (unsigned char *)v->up.b.map + so;
    const unsigned char *src = data;
    for (size_t i = 0; i < numel; i++) {
        float f;
        if (dtype == BE_F32)
            memcpy(&f, src + i * 4, 4);
        else {
            uint16_t u;
            memcpy(&u, src + i * 2, 2);
            f = dtype == BE_F16 ? st_f16_to_f32(u) : st_bf16_to_f32(u);
        }
        if (w->f16) {
            uint16_t h = f32_to_f16(f);
            memcpy(dst + i * 2, &h, 2);
        } else
            memcpy(dst + i * 4, &f, 4);
    }
    if (alloc > w->bytes) memset(dst + w->bytes, 0, (size_t)(alloc - w->bytes));
    if (!v->uploading) {
        VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
        bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
        VkResult r = vkBeginCommandBuffer(v->upcmd, &bi);
        if (r) {
            free(w);
            fail(v, "beginning an upload", r);
            cs_err_set(err, "%s", v->why);
            return NULL;
        }
        v->uploading = 1;
    }
    VkBufferCopy cp = {(VkDeviceSize)so, off, alloc};
    vkCmdCopyBuffer(v->upcmd, v->up.b.buf, v->chunks[w->chunk].buf, 1, &cp);
    w->bytes = alloc;
    v->b.info.upload_ms += now_ms() - t0;
    return &w->h;
}

/* Weight memory is freed with the backend (chunks are not reused piecemeal). */
static void vk_wfree(be *b, be_w *w) {
    (void)b;
    free(w);
}

static void vk_write(be *b, be_off dst, const float *src, size_t n) {
    vk_be *v = VB(b);
    flush_ln(v);
    VkCommandBuffer cb = rec(v);
    if (!cb) return;
    long long off = arena_take(v, &v->stage, n * sizeof *src);
    if (off < 0) return;
    memcpy((char *)v->stage.b.map + off, src, n * sizeof *src);
    VkBufferCopy cp = {(VkDeviceSize)off, dst * sizeof(float), n * sizeof *src};
    vkCmdCopyBuffer(cb, v->stage.b.buf, v->ws.buf, 1, &cp);
    barrier(v, cb);
}

static void vk_read(be *b, be_off src, float *dst, size_t n) {
    vk_be *v = VB(b);
    flush_ln(v);
    VkCommandBuffer cb = rec(v);
    if (!cb) return;
    if (v->ndl == v->dlcap) {
        int nc = v->dlcap ? v->dlcap * 2 : 8;
        download *nd = realloc(v->dl, (size_t)nc * sizeof *nd);
        if (!nd) {
            fail(v, "a download", VK_ERROR_OUT_OF_HOST_MEMORY);
            return;
        }
        v->dl = nd;
        v->dlcap = nc;
    }
    long long off = arena_take(v, &v->stage, n * sizeof *dst);
    if (off < 0) return;
    VkBufferCopy cp = {src * sizeof(float), (VkDeviceSize)off, n * sizeof *dst};
    vkCmdCopyBuffer(cb, v->ws.buf, v->stage.b.buf, 1, &cp);
    barrier(v, cb);
    v->dl[v->ndl++] = (download){dst, (const char *)v->stage.b.map + off, n};
}

static int vk_sync(be *b, cs_err *err) {
    vk_be *v = VB(b);
    flush_ln(v);
    if (!v->failed && v->recording) {
        VkResult r = submit_wait(v, v->cmd);
        if (r)
            fail(v, "running a pass", r);
        else
            for (int i = 0; i < v->ndl; i++) memcpy(v->dl[i].dst, v->dl[i].src, v->dl[i].n * sizeof(float));
    }
    if (v->recording) vkResetCommandBuffer(v->cmd, 0);
    v->recording = 0;
    v->ndl = 0;
    for (int i = 0; i < v->nretired; i++) buf_free(v, &v->retired[i]);
    v->nretired = 0;
    v->stage.used = v->idx.used = 0;
    work_bytes(v);
    if (v->failed) return cs_err_set(err, "%s", v->why);
    return 0;
}

static void vk_linear(be *b, be_off x, const be_w *w, const be_w *bias, int act, be_off y, int resid, int m, int c0,
                      int c1) {
    vk_be *v = VB(b);
    if (c1 <= 0) {
        c0 = 0;
        c1 = w->n;
    }
    /* the layer norm held back produced x: normalise inside the product, reading its input, unless
     * the product writes over that input (other tiles still read it) */
    const size_t yend = (size_t)y + (size_t)(m - 1) * (size_t)w->n + (size_t)c1,
                 lend = (size_t)v->pend.x + (size_t)v->pend.m * (size_t)v->pend.d;
    int ln = v->pend.on && v->pend.y == x && v->pend.m == m && v->pend.d == w->k && (yend <= v->pend.x || y >= lend);
    bind g = nob(v), gb = nob(v);
    be_off src = x;
    float eps = 0.0f;
    if (ln) {
        g = bw(v, v->pend.g);
        gb = bw(v, v->pend.b);
        src = v->pend.x;
        eps = v->pend.eps;
        v->pend.on = 0;
    }
    struct {
        uint32_t x, y, m, k, c0, c1, ldy, act, resid, bias, ln, h;
        float eps;
    } pc = {(uint32_t)src, (uint32_t)y,     (uint32_t)m,  (uint32_t)w->k, (uint32_t)c0, (uint32_t)c1, (uint32_t)w->n,
            (uint32_t)act, (uint32_t)resid, bias != NULL, (uint32_t)ln,   (uint32_t)x,  eps};
    /* the pipeline follows the weight's storage: F16 (16-bit storage or packed) or F32 */
    dispatch6(v, VW(w)->f16 ? P_MATMUL : P_MATMUL32, bw(v, w), bw(v, bias), g, nob(v), gb, &pc, sizeof pc,
              (uint32_t)((c1 - c0 + 63) / 64), (uint32_t)((m + 63) / 64));
}

static void vk_layernorm(be *b, be_off x, const be_w *g, const be_w *bias, be_off y, int m, int d, float eps) {
    vk_be *v = VB(b);
    flush_ln(v);
    v->pend.x = x;
    v->pend.y = y;
    v->pend.g = g;
    v->pend.b = bias;
    v->pend.m = m;
    v->pend.d = d;
    v->pend.eps = eps;
    v->pend.on = 1;
    if (x == y || v->nofuse) flush_ln(v); /* in place: a product reading it could not normalise its own rows */
}

/* Query rows r: keys from meta[3r], meta[3r+1] of them, query position meta[3r+2]. */
static void attend(vk_be *v, be_off q, int ldq, be_off k, be_off vv, int ld, be_off o, int ldo, const int *meta,
                   int rows, int heads, int hd, int causal, const int *keymask, int mask_rows) {
    size_t n = (size_t)rows * 3 + (keymask ? (size_t)mask_rows : 0);
    int *all = malloc(n * sizeof *all);
    if (!all) {
        fail(v, "attention indices", VK_ERROR_OUT_OF_HOST_MEMORY);
        return;
    }
    memcpy(all, meta, (size_t)rows * 3 * sizeof *all);
    if (keymask) memcpy(all + (size_t)rows * 3, keymask, (size_t)mask_rows * sizeof *all);
    bind ix = put_ints(v, all, n);
    free(all);
    struct {
        uint32_t q, ldq, k, v, ld, o, ldo, hd, causal, meta, mask, hasmask;
        float scale;
    } pc = {(uint32_t)q,
            (uint32_t)ldq,
            (uint32_t)k,
            (uint32_t)vv,
            (uint32_t)ld,
            (uint32_t)o,
            (uint32_t)ldo,
            (uint32_t)hd,
            (uint32_t)causal,
            0,
            (uint32_t)rows * 3,
            keymask != NULL,
            1.0f / sqrtf((float)hd)};
    dispatch(v, P_ATTENTION, nob(v), nob(v), nob(v), ix, &pc, sizeof pc, (uint32_t)rows, (uint32_t)heads);
}

static void vk_attention(be *b, be_off qkv, int H, be_off out, const int *seq_off, const int *seq_len, int nseq,
                         int heads, int causal, const int *keymask) {
    vk_be *v = VB(b);
    int T = seq_off[nseq - 1] + seq_len[nseq - 1];
    int *meta = malloc((size_t)T * 3 * sizeof *meta);
    if (!meta) {
        fail(v, "attention indices", VK_ERROR_OUT_OF_HOST_MEMORY);
        return;
    }
    for (int s = 0; s < nseq; s++)
        for (int i = 0; i < seq_len[s]; i++) {
            int *m = meta + (size_t)(seq_off[s] + i) * 3;
            m[0] = seq_off[s];
            m[1] = seq_len[s];
            m[2] = i;
        }
    attend(v, qkv, 3 * H, qkv + H, qkv + 2 * H, 3 * H, out, H, meta, T, heads, H / heads, causal, keymask, T);
    free(meta);
}

static void vk_take_rows(be *b, be_off a, int ld, const int *seq_off, const int *pool, int nseq) {
    vk_be *v = VB(b);
    int *src = malloc((size_t)nseq * sizeof *src);
    if (!src) {
        fail(v, "row indices", VK_ERROR_OUT_OF_HOST_MEMORY);
        return;
    }
    for (int s = 0; s < nseq; s++) src[s] = seq_off[s] + pool[s];
    bind ix = put_ints(v, src, (size_t)nseq);
    free(src);
    struct {
        uint32_t mode, a, ld, rows, idx, tmp, np;
    } pc = {0, (uint32_t)a, (uint32_t)ld, (uint32_t)nseq, 0, 0, 0};
    dispatch(v, P_ROWS, nob(v), nob(v), nob(v), ix, &pc, sizeof pc, 1, 1);
}

/* The pooled last layer's attention: K and V for every row, then Q for the pooled rows only. */
static void vk_attention_pooled(be *b, const be_w *qkv_w, const be_w *qkv_b, be_off h, be_off qkv, be_off att, int T,
                                int H, const int *seq_off, const int *seq_len, const int *pool, int nseq, int heads,
                                int causal, const int *keymask) {
    vk_be *v = VB(b);
    vk_linear(b, h, qkv_w, qkv_b, OPS_ACT_NONE, qkv, 0, T, H, 3 * H);
    vk_take_rows(b, h, H, seq_off, pool, nseq);
    vk_linear(b, h, qkv_w, qkv_b, OPS_ACT_NONE, qkv, 0, nseq, 0, H);
    int *meta = malloc((size_t)nseq * 3 * sizeof *meta);
    if (!meta) {
        fail(v, "attention indices", VK_ERROR_OUT_OF_HOST_MEMORY);
        return;
    }
    for (int s = 0; s < nseq; s++) {
        meta[3 * s] = seq_off[s];
        meta[3 * s + 1] = seq_len[s];
        meta[3 * s + 2] = pool[s];
    }
    int T2 = seq_off[nseq - 1] + seq_len[nseq - 1];
    attend(v, qkv, 3 * H, qkv + H, qkv + 2 * H, 3 * H, att, H, meta, nseq, heads, H / heads, causal, keymask, T2);
    free(meta);
}

static void vk_embed_tokens(be *b, be_off x, const be_w *table, const be_w *pos, const int32_t *const *ids,
                            const int *lens, int batch, int H) {
    vk_be *v = VB(b);
    int T = 0;
    for (int s = 0; s < batch; s++) T += lens[s];
    int *ix = malloc((size_t)T * 2 * sizeof *ix);
    if (!ix) {
        fail(v, "token indices", VK_ERROR_OUT_OF_HOST_MEMORY);
        return;
    }
    for (int s = 0, o = 0; s < batch; s++)
        for (int i = 0; i < lens[s]; i++, o++) {
            ix[2 * o] = ids[s][i];
            ix[2 * o + 1] = i;
        }
    bind bi = put_ints(v, ix, (size_t)T * 2);
    free(ix);
    struct {
        uint32_t mode, a, ld, rows, idx, tmp, np;
    } pc = {1, (uint32_t)x, (uint32_t)H, (uint32_t)T, 0, 0, 0};
    dispatch(v, P_ROWS, bw(v, table), bw(v, pos), nob(v), bi, &pc, sizeof pc, (uint32_t)T, 1);
}

static void vk_patch_embed(be *b, be_off x, be_off pixels, be_off cols, be_off tmp, int batch, int S, int p, int H,
                           const be_w *patch_w, const be_w *class_emb, const be_w *pos) {
    vk_be *v = VB(b);
    int g = S / p, np = g * g;
    uint32_t total = (uint32_t)((size_t)batch * np * 3 * p * p);
    struct {
        uint32_t pix, cols, S, p, g, total;
    } pc = {(uint32_t)pixels, (uint32_t)cols, (uint32_t)S, (uint32_t)p, (uint32_t)g, total};
    uint32_t groups = (total + 255) / 256;
    dispatch(v, P_IM2COL, nob(v), nob(v), nob(v), nob(v), &pc, sizeof pc, groups > 65535 ? 65535 : groups, 1);
    vk_linear(b, cols, patch_w, NULL, OPS_ACT_NONE, tmp, 0, batch * np, 0, 0);
    struct {
        uint32_t mode, a, ld, rows, idx, tmp, np;
    } pa = {2, (uint32_t)x, (uint32_t)H, 0, 0, (uint32_t)tmp, (uint32_t)np};
    dispatch(v, P_ROWS, nob(v), bw(v, pos), bw(v, class_emb), nob(v), &pa, sizeof pa, (uint32_t)(batch * (np + 1)), 1);
}

static void vk_destroy(be *b) {
    vk_be *v = VB(b);
    if (v->dev) {
        vkDeviceWaitIdle(v->dev);
        for (int i = 0; i < v->nchunks; i++) buf_free(v, &v->chunks[i]);
        for (int i = 0; i < v->nretired; i++) buf_free(v, &v->retired[i]);
        buf_free(v, &v->ws);
        buf_free(v, &v->dummy);
        buf_free(v, &v->stage.b);
        buf_free(v, &v->idx.b);
        buf_free(v, &v->up.b);
        for (int i = 0; i < P_COUNT; i++)
            if (v->pipe[i]) vkDestroyPipeline(v->dev, v->pipe[i], NULL);
        if (v->pl) vkDestroyPipelineLayout(v->dev, v->pl, NULL);
        if (v->dsl) vkDestroyDescriptorSetLayout(v->dev, v->dsl, NULL);
        if (v->fence) vkDestroyFence(v->dev, v->fence, NULL);
        if (v->pool) vkDestroyCommandPool(v->dev, v->pool, NULL);
        vkDestroyDevice(v->dev, NULL);
    }
    free(v->chunks);
    free(v->retired);
    free(v->dl);
    free(v);
}

static const be_vtbl vk_vtbl = {
    vk_destroy,   vk_reserve,   vk_prepare,          vk_wfree,     vk_write,        vk_read,        vk_sync, vk_linear,
    vk_layernorm, vk_attention, vk_attention_pooled, vk_take_rows, vk_embed_tokens, vk_patch_embed, NULL,
    NULL, /* fit_threads: the device's own threads */
};

/* ---- creation ---- */

/* One instance for the process, created on first use and kept: creating one loads every installed
 * driver (0.1-0.3 s), and unloading lavapipe's leaks 128 bytes in its teardown (Mesa 22.3), which
 * AddressSanitizer reports; kept, the drivers stay loaded and their memory reachable. A failed
 * creation (no driver) is tried again next time. */
static pthread_mutex_t g_inst_lock = PTHREAD_MUTEX_INITIALIZER;
static VkInstance g_inst;

static VkResult instance_create(VkInstance *out) {
    VkApplicationInfo ai = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO};
    ai.pApplicationName = "clipseek";
    ai.apiVersion = VK_API_VERSION_1_1;
    VkInstanceCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    ci.pApplicationInfo = &ai;
    VkResult r = vkCreateInstance(&ci, NULL, out);
    if (r) *out = VK_NULL_HANDLE;
    return r;
}

static VkResult instance_new(VkInstance *out) {
    pthread_mutex_lock(&g_inst_lock);
    VkResult r = g_inst ? VK_SUCCESS : instance_create(&g_inst);
    *out = g_inst;
    pthread_mutex_unlock(&g_inst_lock);
    return r;
}

static const char *type_name(VkPhysicalDeviceType t) {
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU implementation";
    default: return "other";
    }
}

static void driver_str(VkPhysicalDevice pd, char *buf, size_t n) {
    VkPhysicalDeviceDriverProperties dp = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
    p2.pNext = &dp;
    vkGetPhysicalDeviceProperties2(pd, &p2);
    uint32_t a = p2.properties.apiVersion;
    snprintf(buf, n, "%.50s %.40s, Vulkan %u.%u.%u", dp.driverName[0] ? dp.driverName : "driver", dp.driverInfo,
             VK_API_VERSION_MAJOR(a), VK_API_VERSION_MINOR(a), VK_API_VERSION_PATCH(a));
}

int be_vk_built(void) { return 1; }

/* The first 16 physical devices, in the loader's order (what vulkan:N counts). */
static uint32_t devices(VkInstance inst, VkPhysicalDevice pds[16]) {
    uint32_t cnt = 0;
    vkEnumeratePhysicalDevices(inst, &cnt, NULL);
    if (cnt > 16) cnt = 16;
    if (cnt && vkEnumeratePhysicalDevices(inst, &cnt, pds) < 0) cnt = 0;
    return cnt;
}

int be_vk_list(char *buf, size_t n, cs_err *err) {
    VkInstance inst;
    VkResult r = instance_new(&inst);
    if (r) return cs_err_set(err, "no Vulkan driver (vkCreateInstance: %s)", vk_str(r));
    VkPhysicalDevice pds[16];
    uint32_t cnt = devices(inst, pds);
    size_t at = 0;
    if (n) buf[0] = 0;
    for (uint32_t i = 0; i < cnt && at < n; i++) {
        VkPhysicalDeviceProperties p;
        vkGetPhysicalDeviceProperties(pds[i], &p);
        VkPhysicalDeviceMemoryProperties mp;
        vkGetPhysicalDeviceMemoryProperties(pds[i], &mp);
        uint64_t local = 0;
        for (uint32_t h = 0; h < mp.memoryHeapCount; h++)
            if (mp.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) local += mp.memoryHeaps[h].size;
        char drv[128];
        driver_str(pds[i], drv, sizeof drv);
        at += (size_t)snprintf(buf + at, n - at, "vulkan:%u  %s (%s, %llu MB device memory; %s)\n", i, p.deviceName,
                               type_name(p.deviceType), (unsigned long long)(local >> 20), drv);
    }
    return (int)cnt;
}

/* "auto": a discrete GPU, then an integrated one; never a CPU implementation (lavapipe). -1: none. */
static int choose_gpu(const VkPhysicalDevice *pds, uint32_t cnt) {
    for (int want = 0; want < 2; want++)
        for (uint32_t i = 0; i < cnt; i++) {
            VkPhysicalDeviceProperties p;
            vkGetPhysicalDeviceProperties(pds[i], &p);
            if (p.deviceType == (want ? VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU : VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU))
                return (int)i;
        }
    return -1;
}

/* What "auto" found: the instance's result, the device count and the chosen GPU (-1: none). */
typedef struct probe_ans {
    int32_t r;
    uint32_t cnt;
    int32_t pick;
} probe_ans;

/* Looks for a GPU in a short-lived child process (fork, create an instance, enumerate, write the
 * answer to a pipe, _exit). Why a child: creating an instance loads every installed driver
 * (Mesa's lavapipe, radeon, intel: about 50 MB resident, 43 of them the LLVM that lavapipe
 * links), and the process keeps them: this file keeps its instance (above), and even a destroyed
 * instance leaves libLLVM mapped (checked in /proc/PID/maps after vkDestroyInstance, Mesa 22.3:
 * the drivers go, LLVM stays). A daemon that then computes on the CPU would carry them for good
 * (docs/performance.md, "Daemon memory"). The child is a copy of this process with one thread; it calls only the loader and
 * the drivers, which glibc's fork makes safe (malloc and the dynamic loader's locks are reset in
 * the child). The answer is cached for the process: drivers and devices do not change under a
 * running program. A child that dies or hangs (a broken driver, 20 s) counts as no GPU. */
static pthread_mutex_t g_probe_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_probed;
static probe_ans g_probe;

static void probe_child(int fd) {
    probe_ans a = {0, 0, -1};
    VkInstance inst;
    a.r = instance_create(&inst);
    if (!a.r) {
        VkPhysicalDevice pds[16];
        a.cnt = devices(inst, pds);
        a.pick = choose_gpu(pds, a.cnt);
    }
    ssize_t w = write(fd, &a, sizeof a);
    _exit(w == (ssize_t)sizeof a ? 0 : 1); /* no atexit handlers, no driver teardown */
}

static int probe_gpu(probe_ans *out, cs_err *err) {
    pthread_mutex_lock(&g_probe_lock);
    if (g_probed) {
        *out = g_probe;
        pthread_mutex_unlock(&g_probe_lock);
        return 0;
    }
    int fd[2];
    if (pipe2(fd, O_CLOEXEC)) {
        pthread_mutex_unlock(&g_probe_lock);
        return cs_err_sys(err, errno, "looking for a GPU: pipe");
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        probe_child(fd[1]);
    }
    int e = errno;
    close(fd[1]);
    if (pid < 0) {
        close(fd[0]);
        pthread_mutex_unlock(&g_probe_lock);
        return cs_err_sys(err, e, "looking for a GPU: fork");
    }
    probe_ans a = {0, 0, -1};
    size_t got = 0;
    struct pollfd pf = {fd[0], POLLIN, 0};
    double until = now_ms() + 20000;
    while (got < sizeof a) {
        int left = (int)(until - now_ms());
        int pr = left > 0 ? poll(&pf, 1, left) : 0;
        if (pr < 0 && errno == EINTR) continue;
        if (pr <= 0) break;
        ssize_t n = read(fd[0], (char *)&a + got, sizeof a - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(fd[0]);
    if (got < sizeof a) kill(pid, SIGKILL); /* hung or half-written: it is ours, by pid */
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
    if (got < sizeof a) {
        pthread_mutex_unlock(&g_probe_lock);
        return cs_err_set(err, "looking for a GPU: the probe process %s",
                          got ? "wrote half an answer" : "died or hung");
    }
    g_probe = a;
    g_probed = 1;
    *out = a;
    pthread_mutex_unlock(&g_probe_lock);
    return 0;
}

static VkResult pipeline(vk_be *v, const uint32_t *code, size_t bytes, VkPipeline *out) {
    VkShaderModuleCreateInfo si = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    si.codeSize = bytes;
    si.pCode = code;
    VkShaderModule sm;
    VkResult r = vkCreateShaderModule(v->dev, &si, NULL, &sm);
    if (r) return r;
    VkComputePipelineCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
    ci.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
    ci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    ci.stage.module = sm;
    ci.stage.pName = "main";
    ci.layout = v->pl;
    r = vkCreateComputePipelines(v->dev, VK_NULL_HANDLE, 1, &ci, NULL, out);
    vkDestroyShaderModule(v->dev, sm, NULL);
    return r;
}

static int has_ext(VkPhysicalDevice pd, const char *name) {
    uint32_t n = 0;
    vkEnumerateDeviceExtensionProperties(pd, NULL, &n, NULL);
    VkExtensionProperties *e = calloc(n ? n : 1, sizeof *e);
    if (!e) return 0;
    vkEnumerateDeviceExtensionProperties(pd, NULL, &n, e);
    int found = 0;
    for (uint32_t i = 0; i < n && !found; i++) found = !strcmp(e[i].extensionName, name);
    free(e);
    return found;
}

static void no_gpu(uint32_t cnt, cs_err *err) {
    cs_err_set(err,
               cnt ? "no GPU among the %u Vulkan devices (a CPU implementation is used only when named, vulkan:N)"
                   : "no Vulkan device (%u found)",
               cnt);
}

#define TRY(call, what)                                                                                                \
    do {                                                                                                               \
        VkResult r_ = (call);                                                                                          \
        if (r_) {                                                                                                      \
            cs_err_set(err, "%s: %s", what, vk_str(r_));                                                               \
            vk_destroy(&v->b);                                                                                         \
            return NULL;                                                                                               \
        }                                                                                                              \
    } while (0)

be *be_vk_new(int dev, int f16, int *found, cs_err *err) {
    *found = 0;
    vk_be *v = calloc(1, sizeof *v);
    if (!v) {
        cs_errc(err, CS_ENOMEM, "out of memory");
        return NULL;
    }
    v->b.v = &vk_vtbl;
    v->b.info.name = "vulkan";
    if (dev < 0) { /* "auto": the drivers enter this process only when a GPU will be used */
        probe_ans a = {0, 0, -1};
        if (probe_gpu(&a, err)) {
            vk_destroy(&v->b);
            return NULL;
        }
        if (a.r || a.pick < 0) {
            if (a.r)
                cs_err_set(err, "no Vulkan driver (vkCreateInstance: %s)", vk_str((VkResult)a.r));
            else
                no_gpu(a.cnt, err);
            vk_destroy(&v->b);
            return NULL;
        }
    }
    VkResult r = instance_new(&v->inst);
    if (r) {
        v->inst = VK_NULL_HANDLE;
        cs_err_set(err, "no Vulkan driver (vkCreateInstance: %s)", vk_str(r));
        vk_destroy(&v->b);
        return NULL;
    }
    VkPhysicalDevice pds[16];
    uint32_t cnt = devices(v->inst, pds);
    int pick = -1;
    if (dev >= 0) {
        if ((uint32_t)dev >= cnt) {
            cs_err_set(err, "no Vulkan device %d (%u found)", dev, cnt);
            vk_destroy(&v->b);
            return NULL;
        }
        pick = dev;
    } else /* the probe's choice, made again here (the same loader and drivers give the same order) */
        pick = choose_gpu(pds, cnt);
    if (pick < 0) {
        no_gpu(cnt, err);
        vk_destroy(&v->b);
        return NULL;
    }
    *found = 1;
    v->pd = pds[pick];
    VkPhysicalDeviceProperties props;
    vkGetPhysicalDeviceProperties(v->pd, &props);
    snprintf(v->b.info.device, sizeof v->b.info.device, "%.80s (%s, vulkan:%d)", props.deviceName,
             type_name(props.deviceType), pick);
    driver_str(v->pd, v->b.info.driver, sizeof v->b.info.driver);
    if (props.apiVersion < VK_API_VERSION_1_1) {
        cs_err_set(err, "%s supports Vulkan %u.%u; 1.1 is needed", props.deviceName,
                   VK_API_VERSION_MAJOR(props.apiVersion), VK_API_VERSION_MINOR(props.apiVersion));
        vk_destroy(&v->b);
        return NULL;
    }
    if (!has_ext(v->pd, VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME)) {
        cs_err_set(err, "%s lacks %s", props.deviceName, VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME);
        vk_destroy(&v->b);
        return NULL;
    }
    v->align = props.limits.minStorageBufferOffsetAlignment;
    if (v->align < 16) v->align = 16;
    v->max_range = props.limits.maxStorageBufferRange;
    vkGetPhysicalDeviceMemoryProperties(v->pd, &v->memp);
    /* features: 16-bit storage, subgroup arithmetic in compute shaders */
    VkPhysicalDevice16BitStorageFeatures s16 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
    VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    f2.pNext = &s16;
    vkGetPhysicalDeviceFeatures2(v->pd, &f2);
    VkPhysicalDeviceSubgroupProperties sg = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
    p2.pNext = &sg;
    vkGetPhysicalDeviceProperties2(v->pd, &p2);
    const char *env16 = getenv("CLIPSEEK_VK_NO16"),
               *envsg = getenv("CLIPSEEK_VK_NOSUBGROUP"); /* tests: the fallbacks */
    v->f16 = f16;
    v->f16_storage = f16 && s16.storageBuffer16BitAccess && !(env16 && *env16 == '1');
    v->subgroup = (sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                  (sg.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT) && !(envsg && *envsg == '1');
    v->b.info.precision = f16 ? "F16" : "F32";
    /* One submission per pass on every device, lavapipe included: its crash on long passes was
     * ours (submit_wait). CLIPSEEK_VK_SPLIT=N submits in parts of N dispatches (diagnosis). */
    const char *sp = getenv("CLIPSEEK_VK_SPLIT");
    v->split = sp && *sp ? atoi(sp) : 0;
    const char *nf = getenv("CLIPSEEK_VK_NOFUSE");
    v->nofuse = nf && *nf == '1';
    if (v->split < 0) v->split = 0;
    const char *lim = getenv("CLIPSEEK_VK_MEMORY_MB");
    if (lim && atoll(lim) > 0) v->limit = (VkDeviceSize)atoll(lim) << 20;
    /* queue */
    uint32_t nq = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(v->pd, &nq, NULL);
    VkQueueFamilyProperties qf[32];
    if (nq > 32) nq = 32;
    vkGetPhysicalDeviceQueueFamilyProperties(v->pd, &nq, qf);
    int fam = -1;
    for (uint32_t i = 0; i < nq && fam < 0; i++)
        if (qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) fam = (int)i;
    if (fam < 0) {
        cs_err_set(err, "%s has no compute queue", props.deviceName);
        vk_destroy(&v->b);
        return NULL;
    }
    v->qfam = (uint32_t)fam;
    float prio = 1.0f;
    VkDeviceQueueCreateInfo qi = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    qi.queueFamilyIndex = v->qfam;
    qi.queueCount = 1;
    qi.pQueuePriorities = &prio;
    VkPhysicalDevice16BitStorageFeatures en16 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
    en16.storageBuffer16BitAccess = v->f16_storage ? VK_TRUE : VK_FALSE;
    const char *exts[] = {VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME};
    VkDeviceCreateInfo di = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    di.pNext = &en16;
    di.queueCreateInfoCount = 1;
    di.pQueueCreateInfos = &qi;
    di.enabledExtensionCount = 1;
    di.ppEnabledExtensionNames = exts;
    TRY(vkCreateDevice(v->pd, &di, NULL, &v->dev), "creating the device");
    vkGetDeviceQueue(v->dev, v->qfam, 0, &v->queue);
    v->push = (PFN_vkCmdPushDescriptorSetKHR)vkGetDeviceProcAddr(v->dev, "vkCmdPushDescriptorSetKHR");
    if (!v->push) TRY(VK_ERROR_EXTENSION_NOT_PRESENT, "vkCmdPushDescriptorSetKHR");
    VkDescriptorSetLayoutBinding lb[6];
    for (int i = 0; i < 6; i++)
        lb[i] = (VkDescriptorSetLayoutBinding){(uint32_t)i, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1,
                                               VK_SHADER_STAGE_COMPUTE_BIT, NULL};
    VkDescriptorSetLayoutCreateInfo dl = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
    dl.flags = VK_DESCRIPTOR_SET_LAYOUT_CREATE_PUSH_DESCRIPTOR_BIT_KHR;
    dl.bindingCount = 6;
    dl.pBindings = lb;
    TRY(vkCreateDescriptorSetLayout(v->dev, &dl, NULL, &v->dsl), "descriptor layout");
    VkPushConstantRange pr = {VK_SHADER_STAGE_COMPUTE_BIT, 0, 64};
    VkPipelineLayoutCreateInfo pli = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
    pli.setLayoutCount = 1;
    pli.pSetLayouts = &v->dsl;
    pli.pushConstantRangeCount = 1;
    pli.pPushConstantRanges = &pr;
    TRY(vkCreatePipelineLayout(v->dev, &pli, NULL, &v->pl), "pipeline layout");
#define PIPE(i, a) TRY(pipeline(v, a, sizeof a, &v->pipe[i]), "creating a compute pipeline")
    if (!f16)
        PIPE(P_MATMUL, spv_matmul_f32);
    else if (v->f16_storage)
        PIPE(P_MATMUL, spv_matmul_f16);
    else
        PIPE(P_MATMUL, spv_matmul_f16p);
    PIPE(P_MATMUL32, spv_matmul_f32); /* F32 weights (with --dtype f32, the same as P_MATMUL) */
    if (v->subgroup) {
        PIPE(P_LAYERNORM, spv_layernorm_sg);
        PIPE(P_ATTENTION, spv_attention_sg);
    } else {
        PIPE(P_LAYERNORM, spv_layernorm);
        PIPE(P_ATTENTION, spv_attention);
    }
    PIPE(P_ROWS, spv_rows);
    PIPE(P_IM2COL, spv_im2col);
#undef PIPE
    VkCommandPoolCreateInfo cpi = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    cpi.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    cpi.queueFamilyIndex = v->qfam;
    TRY(vkCreateCommandPool(v->dev, &cpi, NULL, &v->pool), "command pool");
    VkCommandBuffer cbs[2];
    VkCommandBufferAllocateInfo cai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    cai.commandPool = v->pool;
    cai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    cai.commandBufferCount = 2;
    TRY(vkAllocateCommandBuffers(v->dev, &cai, cbs), "command buffers");
    v->cmd = cbs[0];
    v->upcmd = cbs[1];
    VkFenceCreateInfo fi = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    TRY(vkCreateFence(v->dev, &fi, NULL, &v->fence), "fence");
    TRY(buf_new(v, 256, 0, &v->dummy), "a small buffer");
    /* the upload arena: big enough for the largest weights of a ViT-B at once */
    TRY(buf_new(v, 64u << 20, 1, &v->up.b), "the upload buffer");
    work_bytes(v);
    return &v->b;
}
