#include "fst_s3_xml.h"

#include <stdlib.h>
#include <string.h>

/* Is [p, p+n) a start tag for tag (possibly prefixed "ns:")? */
static int
fst_s3_xml_is_tag(const char *p, const char *end, const char *tag,
    const char **after)
{
    size_t       n = strlen(tag);
    const char  *colon, *q;

    q = p;
    while (q < end && *q != '>' && *q != ' ' && *q != '/' && *q != '\t'
           && *q != '\n' && *q != '\r')
    {
        q++;
    }
    colon = memchr(p, ':', (size_t) (q - p));
    if (colon) {
        p = colon + 1;
    }
    if ((size_t) (q - p) != n || memcmp(p, tag, n) != 0) {
        return 0;
    }
    *after = q;
    return 1;
}

int
fst_s3_xml_next(fst_s3_xml_span_t *span, const char *tag,
    fst_s3_xml_span_t *inner)
{
    const char  *p = span->p, *after, *gt, *c, *body;
    int          depth;

    while (p < span->end) {
        p = memchr(p, '<', (size_t) (span->end - p));
        if (p == NULL) {
            return 0;
        }
        p++;
        if (p >= span->end) {
            return -1;
        }
        if (*p == '/' || *p == '?' || *p == '!') {
            continue;
        }
        if (!fst_s3_xml_is_tag(p, span->end, tag, &after)) {
            continue;
        }
        gt = memchr(after, '>', (size_t) (span->end - after));
        if (gt == NULL) {
            return -1;
        }
        if (gt[-1] == '/') {            /* <Tag/> */
            inner->p = inner->end = gt + 1;
            span->p = gt + 1;
            return 1;
        }
        /* find the matching close tag, counting nested same-named tags */
        body = gt + 1;
        depth = 1;
        c = body;
        while (c < span->end) {
            c = memchr(c, '<', (size_t) (span->end - c));
            if (c == NULL || c + 1 >= span->end) {
                return -1;
            }
            if (c[1] == '/') {
                if (fst_s3_xml_is_tag(c + 2, span->end, tag, &after)
                    && --depth == 0)
                {
                    gt = memchr(after, '>', (size_t) (span->end - after));
                    if (gt == NULL) {
                        return -1;
                    }
                    inner->p = body;
                    inner->end = c;
                    span->p = gt + 1;
                    return 1;
                }
            } else if (fst_s3_xml_is_tag(c + 1, span->end, tag, &after)) {
                const char *g = memchr(after, '>', (size_t) (span->end - after));
                if (g == NULL) {
                    return -1;
                }
                if (g[-1] != '/') {
                    depth++;
                }
            }
            c++;
        }
        return -1;
    }
    return 0;
}

static size_t
fst_s3_xml_decode(const char *p, const char *end, char *out)
{
    static const struct { const char *ent; char c; } ents[] = {
        { "&lt;", '<' }, { "&gt;", '>' }, { "&amp;", '&' },
        { "&quot;", '"' }, { "&apos;", '\'' },
    };
    size_t  n = 0, i, l;

    while (p < end) {
        if (*p == '&') {
            for (i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
                l = strlen(ents[i].ent);
                if ((size_t) (end - p) >= l && memcmp(p, ents[i].ent, l) == 0) {
                    break;
                }
            }
            if (i < sizeof(ents) / sizeof(ents[0])) {
                out[n++] = ents[i].c;
                p += strlen(ents[i].ent);
                continue;
            }
            if ((size_t) (end - p) > 3 && p[1] == '#') {
                /* numeric reference: ASCII only is what S3 emits (&#13;) */
                char          *e;
                unsigned long  v = p[2] == 'x' ? strtoul(p + 3, &e, 16)
                                               : strtoul(p + 2, &e, 10);
                if (e < end && *e == ';' && v > 0 && v < 128) {
                    out[n++] = (char) v;
                    p = e + 1;
                    continue;
                }
            }
        }
        out[n++] = *p++;
    }
    out[n] = '\0';
    return n;
}

char *
fst_s3_xml_text(const fst_s3_xml_span_t *span, const char *tag, int *nomem)
{
    fst_s3_xml_span_t   s = *span, in;
    char               *out;

    if (nomem) {
        *nomem = 0;
    }
    if (fst_s3_xml_next(&s, tag, &in) != 1) {
        return NULL;
    }
    out = malloc((size_t) (in.end - in.p) + 1);
    if (out == NULL) {
        if (nomem) {
            *nomem = 1;
        }
        return NULL;
    }
    fst_s3_xml_decode(in.p, in.end, out);
    return out;
}

int
fst_s3_xml_copy(const fst_s3_xml_span_t *span, const char *tag,
    char *buf, size_t len)
{
    char  *t = fst_s3_xml_text(span, tag, NULL);

    if (len) {
        buf[0] = '\0';
    }
    if (t == NULL) {
        return 0;
    }
    if (len) {
        strncpy(buf, t, len - 1);
        buf[len - 1] = '\0';
    }
    free(t);
    return 1;
}
