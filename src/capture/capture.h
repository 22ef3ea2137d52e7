/* capture: what every capture backend shares: deciding what a clip is, size caps, and the
 * callback through which a backend hands a clip over.
 *
 * A clip is kept as an "image" when its bytes are a PNG, JPEG, WebP, GIF or BMP with a readable
 * header; as "files" when it was read as text/uri-list or x-special/gnome-copied-files; as "text" when it is UTF-8 without NUL
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

/* Chooses which offered type to read, the same way on X11 and Wayland: images (image/png, then other
 * image types classify can read: jpeg, webp, gif, bmp) over text/html; text/uri-list (then
 * x-special/gnome-copied-files) for files; then UTF-8 text types (text/plain;charset=utf-8,
 * UTF8_STRING, text/plain, STRING, TEXT). A browser's "Copy Image" offers text/html + image/png:
 * the image wins, the markup is never stored. `offered` is the owner's types/targets,
 * newline-separated (a trailing "\r" on a line is ignored; NULL counts as nothing offered).
 * Returns the chosen type: a pointer to a static string equal to one of the offered names, or NULL
 * when nothing usable is offered. Does not look at secrecy (see capture_offers_secret_hint). */
const char *capture_pick_type(const char *offered);

/* The password-manager hint (KeePassXC, KDE): returns 1 when `offered` (as above) lists
 * x-kde-passwordManagerHint, else 0. The caller must then read that type's value, before any data,
 * and pass it to capture_hint_is_secret; an owner that will not hand it over counts as secret. */
int capture_offers_secret_hint(const char *offered);

/* 1 when the hint's value says secret ("secret" in any case, surrounding whitespace and NULs
 * ignored), or when value is NULL or empty after that trimming (the hint could not be read or says
 * nothing: fail closed); else 0. */
int capture_hint_is_secret(const unsigned char *value, size_t len);

#endif
