/*
 * libFuzzer target: the bucket replication configuration MinIO returns,
 * read by lib/storage/fst_replcfg.c (expat) and merged with fado's rule.
 * A merged document must parse again and hold the rule.
 */

#include "fst_replcfg.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fst_replcfg_rule_t   rule = { "fado-eu-1", "arn:minio:replication::fuzz:bucket", 3 };
    char                *doc, *out = NULL, *again = NULL, err[256];
    int                  changed;

    if (size > 256 * 1024) {
        return 0;
    }
    doc = malloc(size + 1);
    if (doc == NULL) {
        return 0;
    }
    memcpy(doc, data, size);
    doc[size] = '\0';
    if (fst_replcfg_merge(doc, &rule, &out, &changed, err, sizeof(err)) == 0) {
        if (!fst_replcfg_has(out, rule.arn)) {
            abort();
        }
        if (fst_replcfg_merge(out, &rule, &again, &changed, err, sizeof(err)) != 0
            || changed)
        {
            abort();    /* merging twice must change nothing */
        }
        free(again);
        free(out);
        out = NULL;
    }
    if (fst_replcfg_remove(doc, rule.arn, &out, &changed, err, sizeof(err)) == 0) {
        free(out);
    }
    (void) fst_replcfg_has(doc, "arn:x");
    free(doc);
    return 0;
}
