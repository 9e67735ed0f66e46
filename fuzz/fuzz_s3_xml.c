/*
 * libFuzzer target: the S3 XML readers (lib/storage/fst_s3_xml.c) that every
 * MinIO answer goes through: listings, errors, versioning, notification
 * configurations. The input is an exact-size buffer (no NUL after it).
 */

#include "fst_s3_xml.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char  *tags[] = { "Contents", "Key", "Error", "Code", "Message",
                                   "Version", "DeleteMarker", "CommonPrefixes", "Rule" };
    fst_s3_xml_span_t   all, in, sub;
    char                buf[256];
    char               *copy = malloc(size ? size : 1);

    if (copy == NULL) {
        return 0;
    }
    memcpy(copy, data, size);
    for (size_t t = 0; t < sizeof(tags) / sizeof(tags[0]); t++) {
        int  guard = 0;

        all.p = copy;
        all.end = copy + size;
        while (fst_s3_xml_next(&all, tags[t], &in) == 1 && guard++ < 10000) {
            if (in.p < copy || in.end > copy + size || in.p > in.end) {
                abort();
            }
            sub = in;
            (void) fst_s3_xml_copy(&sub, "Key", buf, sizeof(buf));
            free(fst_s3_xml_text(&sub, "VersionId", NULL));
        }
    }
    free(copy);
    return 0;
}
