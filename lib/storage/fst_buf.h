/*
 * fado storage: a growable byte buffer shared by the S3 signer, client and
 * XML writers. A failed allocation latches: later appends are no-ops and
 * fado_storage_buf_ok() reports the failure once, where it is checked.
 */

#ifndef FADO_STORAGE_BUF_H
#define FADO_STORAGE_BUF_H

#include <stddef.h>

typedef struct {
    char    *data;      /* always NUL-terminated when ok */
    size_t   len;
    size_t   cap;
    int      failed;
} fado_storage_buf_t;

void fado_storage_buf_init(fado_storage_buf_t *b);
void fado_storage_buf_free(fado_storage_buf_t *b);
void fado_storage_buf_append(fado_storage_buf_t *b, const void *p, size_t n);
void fado_storage_buf_puts(fado_storage_buf_t *b, const char *s);
void fado_storage_buf_printf(fado_storage_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Append s with XML special characters escaped. */
void fado_storage_buf_xml_escape(fado_storage_buf_t *b, const char *s);
int  fado_storage_buf_ok(const fado_storage_buf_t *b);
/* Hand the data over to the caller (who frees it); NULL if it failed. */
char *fado_storage_buf_steal(fado_storage_buf_t *b);

#endif /* FADO_STORAGE_BUF_H */
