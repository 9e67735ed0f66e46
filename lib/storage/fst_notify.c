#include "fst_notify.h"
#include "fst_s3_xml.h"
#include "fst_buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const fst_notify_events[] = {
    "s3:ObjectCreated:*", "s3:ObjectRemoved:*", "s3:Replication:*", NULL
};

static const char *const fst_notify_kinds[] = {
    "QueueConfiguration", "TopicConfiguration", "CloudFunctionConfiguration"
};

/* Is this <QueueConfiguration> body fado's (by Id or by destination)? */
static int
fst_notify_is_ours(const fst_s3_xml_span_t *body, const char *arn)
{
    char  id[128], queue[512];

    fst_s3_xml_copy(body, "Id", id, sizeof(id));
    fst_s3_xml_copy(body, "Queue", queue, sizeof(queue));
    return strcmp(id, FST_NOTIFY_ID) == 0
           || (arn && strcmp(queue, arn) == 0);
}

static int
fst_notify_equivalent(const fst_s3_xml_span_t *body, const char *arn)
{
    fst_s3_xml_span_t   s = *body, ev;
    char                queue[512], e[64];
    size_t              n = 0, i;
    int                 found;

    fst_s3_xml_copy(body, "Queue", queue, sizeof(queue));
    if (strcmp(queue, arn) != 0) {
        return 0;
    }
    {
        fst_s3_xml_span_t  f = *body, fin;

        /* a filter narrows the events: not what fado asked for */
        if (fst_s3_xml_next(&f, "Filter", &fin) == 1 && fin.end > fin.p
            && strstr(fin.p, "<FilterRule") != NULL
            && strstr(fin.p, "<FilterRule") < fin.end)
        {
            return 0;
        }
    }
    while (fst_s3_xml_next(&s, "Event", &ev) == 1) {
        snprintf(e, sizeof(e), "%.*s", (int) (ev.end - ev.p), ev.p);
        found = 0;
        for (i = 0; fst_notify_events[i]; i++) {
            found |= strcmp(e, fst_notify_events[i]) == 0;
        }
        if (!found) {
            return 0;
        }
        n++;
    }
    for (i = 0; fst_notify_events[i]; i++) {
    }
    return n == i;
}

/* Copy every configuration but fado's into b; *ours tells if it was seen,
 * *same if it was equivalent to what we would write for arn. */
static int
fst_notify_filter(const char *existing, const char *arn,
    fst_buf_t *b, int *ours, int *same, char *err, size_t err_len)
{
    fst_s3_xml_span_t   all, top, in;
    const char         *start;
    size_t              k;
    int                 r;

    *ours = 0;
    *same = 0;
    if (existing == NULL || *existing == '\0') {
        return 0;
    }
    top.p = existing;
    top.end = existing + strlen(existing);
    if (fst_s3_xml_next(&top, "NotificationConfiguration", &all) != 1) {
        snprintf(err, err_len, "notification configuration: no "
                 "<NotificationConfiguration> element");
        return -1;
    }
    for (k = 0; k < sizeof(fst_notify_kinds) / sizeof(fst_notify_kinds[0]);
         k++)
    {
        fst_s3_xml_span_t  s = all;

        for (;;) {
            start = s.p;
            r = fst_s3_xml_next(&s, fst_notify_kinds[k], &in);
            if (r < 0) {
                snprintf(err, err_len, "notification configuration: "
                         "malformed <%s>", fst_notify_kinds[k]);
                return -1;
            }
            if (r == 0) {
                break;
            }
            start = strstr(start, fst_notify_kinds[k]) - 1;   /* the '<' */
            if (k == 0 && fst_notify_is_ours(&in, arn)) {
                *ours = 1;
                *same = arn && fst_notify_equivalent(&in, arn);
                continue;
            }
            fst_buf_append(b, start, (size_t) (s.p - start));
        }
    }
    return 0;
}

static void
fst_notify_open(fst_buf_t *b)
{
    fst_buf_puts(b, "<NotificationConfiguration xmlns=\"http://s3."
                          "amazonaws.com/doc/2006-03-01/\">");
}

int
fst_notify_merge(const char *existing, const char *arn,
    char **out, int *changed, char *err, size_t err_len)
{
    fst_buf_t           b;
    int                 ours, same, i;

    *out = NULL;
    *changed = 0;
    if (arn == NULL || strncmp(arn, "arn:", 4) != 0) {
        snprintf(err, err_len, "notification target \"%s\": not an ARN "
                 "(arn:minio:sqs::<ID>:webhook)", arn ? arn : "");
        return -1;
    }
    fst_buf_init(&b);
    fst_notify_open(&b);
    if (fst_notify_filter(existing, arn, &b, &ours, &same, err, err_len)
        != 0)
    {
        fst_buf_free(&b);
        return -1;
    }
    fst_buf_puts(&b, "<QueueConfiguration><Id>" FST_NOTIFY_ID
                          "</Id><Queue>");
    fst_buf_xml_escape(&b, arn);
    fst_buf_puts(&b, "</Queue>");
    for (i = 0; fst_notify_events[i]; i++) {
        fst_buf_printf(&b, "<Event>%s</Event>",
                                fst_notify_events[i]);
    }
    fst_buf_puts(&b, "</QueueConfiguration>"
                          "</NotificationConfiguration>");
    *out = fst_buf_steal(&b);
    if (*out == NULL) {
        snprintf(err, err_len, "notification configuration: out of memory");
        return -1;
    }
    *changed = !same;
    return 0;
}

int
fst_notify_remove(const char *existing, char **out, int *changed,
    char *err, size_t err_len)
{
    fst_buf_t           b;
    int                 ours, same;

    *out = NULL;
    *changed = 0;
    fst_buf_init(&b);
    fst_notify_open(&b);
    if (fst_notify_filter(existing, NULL, &b, &ours, &same, err, err_len)
        != 0)
    {
        fst_buf_free(&b);
        return -1;
    }
    fst_buf_puts(&b, "</NotificationConfiguration>");
    *out = fst_buf_steal(&b);
    if (*out == NULL) {
        snprintf(err, err_len, "notification configuration: out of memory");
        return -1;
    }
    *changed = ours;
    return 0;
}

static int
fst_notify_apply(fst_s3_client_t *c, const char *bucket, const char *arn,
    char *err, size_t err_len)
{
    char  *cur = NULL, *next = NULL;
    int    changed = 0, rc = -1;

    if (fst_s3_bucket_config_get(c, bucket, "notification", &cur, err,
                                  err_len) != 0)
    {
        return -1;
    }
    if ((arn ? fst_notify_merge(cur, arn, &next, &changed, err,
                                         err_len)
             : fst_notify_remove(cur, &next, &changed, err,
                                          err_len)) != 0)
    {
        goto done;
    }
    if (changed && fst_s3_bucket_config_put(c, bucket, "notification", next,
                                             err, err_len) != 0)
    {
        if (arn && strcmp(fst_s3_last_code(c), "InvalidArgument") == 0) {
            char  tmp[512];

            snprintf(tmp, sizeof(tmp), "%s", err);
            snprintf(err, err_len, "bucket \"%s\": MinIO at %s has no "
                     "notification target %s (configure its webhook, see "
                     "docs/storage.md): %s", bucket,
                     fst_s3_client_endpoint(c), arn, tmp);
        }
        goto done;
    }
    rc = 0;
done:
    free(cur);
    free(next);
    return rc;
}

int
fst_notify_set(fst_s3_client_t *c, const char *bucket,
    const char *arn, char *err, size_t err_len)
{
    if (arn == NULL || *arn == '\0') {
        snprintf(err, err_len, "bucket \"%s\": notification target ARN is "
                 "required", bucket);
        return -1;
    }
    return fst_notify_apply(c, bucket, arn, err, err_len);
}

int
fst_notify_clear(fst_s3_client_t *c, const char *bucket,
    char *err, size_t err_len)
{
    return fst_notify_apply(c, bucket, NULL, err, err_len);
}
