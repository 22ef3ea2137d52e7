/* fetch: downloads a Hugging Face model repository's files (the one network access clipseek
 * makes, and only when asked).
 *
 * URL layout: {endpoint}/{repo}/resolve/{revision}/{file}, endpoint from HF_ENDPOINT or
 * https://huggingface.co. Files: config.json, vocab.json, merges.txt, model.safetensors (or
 * model.safetensors.index.json and every shard it names), and, when present,
 * preprocessor_config.json, tokenizer_config.json, special_tokens_map.json.
 *
 * Each file is written to <file>.part and renamed when complete and verified, so an interrupted
 * fetch leaves no half file under the real name, and the next fetch resumes the .part with an HTTP
 * Range request. Verification uses the hub's own checksums: the SHA-256 in X-Linked-Etag (large
 * files stored with Git LFS) or the git blob SHA-1 in ETag (small files); a mismatch deletes the
 * .part and fails. At the end the folder is loaded once (headers only) to prove it is usable. */
#ifndef FETCH_H
#define FETCH_H

#include "../common/cs_err.h"

typedef struct fetch_params {
    const char *endpoint; /* NULL: $HF_ENDPOINT, else https://huggingface.co */
    const char *revision; /* NULL: "main" */
    int progress;         /* 1: a progress bar on stderr */
} fetch_params;

/* Downloads repo ("org/name") into dest (created 0700). */
int fetch_repo(const char *repo, const char *dest, const fetch_params *p, cs_err *err);

#endif
