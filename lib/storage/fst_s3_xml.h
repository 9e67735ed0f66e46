/*
 * fado S3 XML: just enough to read S3 and MinIO responses (ListBucketResult,
 * Error, ReplicationConfiguration...). Elements are found by local name
 * within a span of text; namespaces and attributes are skipped, entities
 * decoded. Not a general XML parser: S3 never sends CDATA, comments inside
 * values or DTDs, and neither do we.
 */

#ifndef FST_S3_XML_H
#define FST_S3_XML_H

#include <stddef.h>

typedef struct {
    const char  *p;     /* cursor: search starts here */
    const char  *end;
} fst_s3_xml_span_t;

/*
 * Find the next element named tag (direct or nested) in span, advance the
 * cursor past it and set *inner to its content. Returns 1 if found, 0 if
 * not, -1 on malformed input (unterminated element).
 */
int fst_s3_xml_next(fst_s3_xml_span_t *span, const char *tag,
    fst_s3_xml_span_t *inner);

/* Decoded text of the first element named tag in span, malloc'd; NULL if
 * absent (or out of memory: *nomem set when given). */
char *fst_s3_xml_text(const fst_s3_xml_span_t *span, const char *tag,
    int *nomem);

/* Copy the decoded text of the first element named tag into buf; "" when
 * absent. Returns 1 found, 0 absent. */
int fst_s3_xml_copy(const fst_s3_xml_span_t *span, const char *tag,
    char *buf, size_t len);

#endif /* FST_S3_XML_H */
