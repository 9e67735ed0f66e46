#include "fst_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
fst_buf_init(fst_buf_t *b)
{
    memset(b, 0, sizeof(*b));
}

void
fst_buf_free(fst_buf_t *b)
{
    free(b->data);
    fst_buf_init(b);
}

static int
fst_buf_reserve(fst_buf_t *b, size_t extra)
{
    size_t  need, cap;
    char   *p;

    if (b->failed) {
        return -1;
    }
    if (extra > (size_t) -1 - b->len - 1) {
        b->failed = 1;
        return -1;
    }
    need = b->len + extra + 1;
    if (need <= b->cap) {
        return 0;
    }
    cap = b->cap ? b->cap : 256;
    while (cap < need) {
        cap = cap > ((size_t) -1) / 2 ? need : cap * 2;
    }
    p = realloc(b->data, cap);
    if (p == NULL) {
        b->failed = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void
fst_buf_append(fst_buf_t *b, const void *p, size_t n)
{
    if (fst_buf_reserve(b, n) != 0) {
        return;
    }
    if (n) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
    b->data[b->len] = '\0';
}

void
fst_buf_puts(fst_buf_t *b, const char *s)
{
    fst_buf_append(b, s, strlen(s));
}

void
fst_buf_printf(fst_buf_t *b, const char *fmt, ...)
{
    va_list  ap;
    int      n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if (fst_buf_reserve(b, (size_t) n) != 0) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t) n;
}

void
fst_buf_xml_escape(fst_buf_t *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<':  fst_buf_puts(b, "&lt;"); break;
        case '>':  fst_buf_puts(b, "&gt;"); break;
        case '&':  fst_buf_puts(b, "&amp;"); break;
        case '"':  fst_buf_puts(b, "&quot;"); break;
        case '\'': fst_buf_puts(b, "&apos;"); break;
        default:   fst_buf_append(b, s, 1); break;
        }
    }
}

int
fst_buf_ok(const fst_buf_t *b)
{
    return !b->failed;
}

char *
fst_buf_steal(fst_buf_t *b)
{
    char  *p;

    if (b->failed) {
        fst_buf_free(b);
        return NULL;
    }
    if (b->data == NULL) {
        fst_buf_append(b, "", 0);
        if (b->failed) {
            return NULL;
        }
    }
    p = b->data;
    fst_buf_init(b);
    return p;
}
