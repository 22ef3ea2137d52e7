/* capture: what every capture backend shares: deciding what a clip is, size caps, and the
 * callback through which a backend hands a clip over.
 *
 * A clip is kept as an "image" when its bytes are a PNG, JPEG, WebP, GIF or BMP with a readable
 * header; as "files" when the owner offered text/uri-list; as "text" when it is UTF-8 without NUL
 * bytes. Anything else is refused with a reason (never stored half-understood). */
#ifndef CAPTURE_H
#define CAPTURE_H

#include <stddef.h>

#include "../common/cs_err.h"

typedef struct capture_caps {
    size_t max_image; /* bytes; default 50 MB (CLIPSEEK_MAX_IMAGE_BYTES) */
    size_t max_text;  /* bytes; default 5 MB (CLIPSEEK_MAX_TEXT_BYTES) */
} capture_caps;

/* Defaults, overridden by the environment variables named above. */
capture_caps capture_default_caps(void);

typedef struct capture_kind {
    const char *kind; /* "image", "text", "files" (static strings) */
    const char *mime; /* the stored type, e.g. "image/png", "text/plain;charset=utf-8" */
    int width, height;
    const char *subkind, *lang; /* text: textkind_classify's answer (NULL = prose) */
} capture_kind;

/* Classifies data. type_hint (may be NULL) is the type the source declared: "image/..." must
 * really be an image, "text/uri-list" makes a files entry. Returns 0 or -1 with a reason. */
int capture_classify(const unsigned char *data, size_t len, const char *type_hint, const capture_caps *caps,
                     capture_kind *out, cs_err *err);

/* One clip as a backend delivers it. All pointers are borrowed for the duration of the call. */
typedef struct capture_clip {
    const unsigned char *data;
    size_t len;
    const char *type;    /* the target/type it was read as */
    const char *offered; /* every type offered, newline-separated */
    const char *source;  /* owner application when known, else NULL */
} capture_clip;

typedef void (*capture_fn)(const capture_clip *clip, void *arg);

#endif
