/*
 * fado storage: a growable byte buffer shared by the S3 signer, client and
 * XML writers. A failed allocation latches: later appends are no-ops and
 * fst_buf_ok() reports the failure once, where it is checked.
 */

#ifndef FST_BUF_H
#define FST_BUF_H

#include <stddef.h>

typedef struct {
    char    *data;      /* always NUL-terminated when ok */
    size_t   len;
    size_t   cap;
    int      failed;
} fst_buf_t;

void fst_buf_init(fst_buf_t *b);
void fst_buf_free(fst_buf_t *b);
void fst_buf_append(fst_buf_t *b, const void *p, size_t n);
void fst_buf_puts(fst_buf_t *b, const char *s);
void fst_buf_printf(fst_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Append s with XML special characters escaped. */
void fst_buf_xml_escape(fst_buf_t *b, const char *s);
int  fst_buf_ok(const fst_buf_t *b);
/* Hand the data over to the caller (who frees it); NULL if it failed. */
char *fst_buf_steal(fst_buf_t *b);

#endif /* FST_BUF_H */
