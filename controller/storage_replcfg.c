#include "storage_replcfg.h"
#include "s3_xml.h"
#include "storage_buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FADO_REPLCFG_MAX_RULES  1000

typedef struct {
    const char  *raw;           /* "<Rule>...</Rule>" in the source text */
    size_t       raw_len;
    char         id[256];
    char         arn[512];
    char         status[16];
    char         dm[16];        /* DeleteMarkerReplication/Status */
    char         del[16];       /* DeleteReplication/Status */
    char         existing[16];  /* ExistingObjectReplication/Status */
    int          priority;
} fado_replcfg_rule_t;

static void
fado_replcfg_sub(const fado_s3_xml_span_t *rule, const char *elem,
    char *out, size_t len)
{
    fado_s3_xml_span_t  s = *rule, in;

    out[0] = '\0';
    if (fado_s3_xml_next(&s, elem, &in) == 1) {
        fado_s3_xml_copy(&in, "Status", out, len);
    }
}

/* Parse the rules of doc; returns the count or -1. */
static int
fado_replcfg_parse(const char *doc, fado_replcfg_rule_t *rules, int max,
    char *role, size_t role_len, char *err, size_t err_len)
{
    fado_s3_xml_span_t  all, in, dst, s_dst, top;
    const char         *start;
    char                prio[32];
    int                 n = 0, r;

    role[0] = '\0';
    if (doc == NULL || *doc == '\0') {
        return 0;
    }
    all.p = doc;
    all.end = doc + strlen(doc);
    top = all;
    if (fado_s3_xml_next(&top, "ReplicationConfiguration", &in) != 1) {
        snprintf(err, err_len, "replication configuration: no "
                 "<ReplicationConfiguration> element");
        return -1;
    }
    all = in;
    /* Role sits at the top level, before the rules */
    {
        fado_s3_xml_span_t  t = all, rv;
        const char         *first_rule = strstr(all.p, "<Rule>");

        if (fado_s3_xml_next(&t, "Role", &rv) == 1
            && (first_rule == NULL || rv.p < first_rule))
        {
            snprintf(role, role_len, "%.*s", (int) (rv.end - rv.p), rv.p);
        }
    }
    for (;;) {
        start = all.p;
        r = fado_s3_xml_next(&all, "Rule", &in);
        if (r < 0) {
            snprintf(err, err_len, "replication configuration: malformed "
                     "<Rule>");
            return -1;
        }
        if (r == 0) {
            return n;
        }
        if (n == max) {
            snprintf(err, err_len, "replication configuration: more than "
                     "%d rules", max);
            return -1;
        }
        start = strstr(start, "<Rule");
        rules[n].raw = start;
        rules[n].raw_len = (size_t) (all.p - start);
        fado_s3_xml_copy(&in, "ID", rules[n].id, sizeof(rules[n].id));
        /* the rule's own Status precedes nested ones in MinIO's output,
         * but read it from outside the nested elements to be sure */
        {
            fado_s3_xml_span_t  s = in, x;
            const char         *p = in.p;
            static const char  *nested[] = {
                "DeleteMarkerReplication", "DeleteReplication",
                "ExistingObjectReplication", "SourceSelectionCriteria",
                "Destination", "Filter"
            };
            size_t              k;

            rules[n].status[0] = '\0';
            while (fado_s3_xml_next(&s, "Status", &x) == 1) {
                int  inside = 0;

                for (k = 0; k < sizeof(nested) / sizeof(nested[0]); k++) {
                    fado_s3_xml_span_t  q = { p, in.end }, y;

                    while (fado_s3_xml_next(&q, nested[k], &y) == 1) {
                        if (x.p >= y.p && x.end <= y.end) {
                            inside = 1;
                        }
                    }
                }
                if (!inside) {
                    snprintf(rules[n].status, sizeof(rules[n].status),
                             "%.*s", (int) (x.end - x.p), x.p);
                    break;
                }
            }
        }
        fado_replcfg_sub(&in, "DeleteMarkerReplication", rules[n].dm,
                         sizeof(rules[n].dm));
        fado_replcfg_sub(&in, "DeleteReplication", rules[n].del,
                         sizeof(rules[n].del));
        fado_replcfg_sub(&in, "ExistingObjectReplication", rules[n].existing,
                         sizeof(rules[n].existing));
        s_dst = in;
        rules[n].arn[0] = '\0';
        if (fado_s3_xml_next(&s_dst, "Destination", &dst) == 1) {
            fado_s3_xml_copy(&dst, "Bucket", rules[n].arn,
                             sizeof(rules[n].arn));
        }
        fado_s3_xml_copy(&in, "Priority", prio, sizeof(prio));
        rules[n].priority = atoi(prio);
        n++;
    }
}

static void
fado_replcfg_write_rule(fado_storage_buf_t *b, const fado_storage_rule_t *r)
{
    fado_storage_buf_puts(b, "<Rule><ID>");
    fado_storage_buf_xml_escape(b, r->id);
    fado_storage_buf_printf(b, "</ID><Status>Enabled</Status>"
        "<Priority>%d</Priority>"
        "<DeleteMarkerReplication><Status>Enabled</Status>"
        "</DeleteMarkerReplication>"
        "<DeleteReplication><Status>Enabled</Status></DeleteReplication>"
        "<Filter><Prefix></Prefix></Filter>"
        "<ExistingObjectReplication><Status>Enabled</Status>"
        "</ExistingObjectReplication>"
        "<Destination><Bucket>", r->priority);
    fado_storage_buf_xml_escape(b, r->arn);
    fado_storage_buf_puts(b, "</Bucket></Destination></Rule>");
}

static void
fado_replcfg_open(fado_storage_buf_t *b, const char *role)
{
    fado_storage_buf_puts(b, "<ReplicationConfiguration xmlns=\"http://s3."
                          "amazonaws.com/doc/2006-03-01/\">");
    if (role[0]) {
        /* role is raw (already escaped) text from the source document */
        fado_storage_buf_printf(b, "<Role>%s</Role>", role);
    }
}

static int
fado_replcfg_same(const fado_replcfg_rule_t *r, const fado_storage_rule_t *w)
{
    return strcmp(r->id, w->id) == 0 && strcmp(r->arn, w->arn) == 0
           && r->priority == w->priority && strcmp(r->status, "Enabled") == 0
           && strcmp(r->dm, "Enabled") == 0 && strcmp(r->del, "Enabled") == 0
           && strcmp(r->existing, "Enabled") == 0;
}

int
fado_storage_replcfg_merge(const char *existing,
    const fado_storage_rule_t *rule, char **out, int *changed,
    char *err, size_t err_len)
{
    fado_replcfg_rule_t  *rules;
    fado_storage_buf_t    b;
    char                  role[512];
    int                   n, i, same = 0;

    *out = NULL;
    *changed = 0;
    if (rule->id == NULL || *rule->id == '\0' || rule->arn == NULL
        || *rule->arn == '\0' || rule->priority < 1)
    {
        snprintf(err, err_len, "replication rule: id, arn and a priority "
                 ">= 1 are required (priority %d)", rule->priority);
        return -1;
    }
    rules = calloc(FADO_REPLCFG_MAX_RULES, sizeof(*rules));
    if (rules == NULL) {
        snprintf(err, err_len, "replication configuration: out of memory");
        return -1;
    }
    n = fado_replcfg_parse(existing, rules, FADO_REPLCFG_MAX_RULES, role,
                           sizeof(role), err, err_len);
    if (n < 0) {
        free(rules);
        return -1;
    }
    fado_storage_buf_init(&b);
    fado_replcfg_open(&b, role);
    for (i = 0; i < n; i++) {
        if (strcmp(rules[i].id, rule->id) == 0
            || strcmp(rules[i].arn, rule->arn) == 0)
        {
            same |= fado_replcfg_same(&rules[i], rule);
            continue;
        }
        if (rules[i].priority == rule->priority) {
            snprintf(err, err_len, "replication rule \"%s\": priority %d is "
                     "already used by rule \"%s\"", rule->id, rule->priority,
                     rules[i].id);
            fado_storage_buf_free(&b);
            free(rules);
            return -1;
        }
        fado_storage_buf_append(&b, rules[i].raw, rules[i].raw_len);
    }
    fado_replcfg_write_rule(&b, rule);
    fado_storage_buf_puts(&b, "</ReplicationConfiguration>");
    free(rules);
    *out = fado_storage_buf_steal(&b);
    if (*out == NULL) {
        snprintf(err, err_len, "replication configuration: out of memory");
        return -1;
    }
    *changed = !same;
    return 0;
}

static int
fado_replcfg_remove_rules(const char *existing, const char *arn, const char *id,
    char **out, int *changed, char *err, size_t err_len)
{
    fado_replcfg_rule_t  *rules;
    fado_storage_buf_t    b;
    char                  role[512];
    int                   n, i, kept = 0;

    *out = NULL;
    *changed = 0;
    rules = calloc(FADO_REPLCFG_MAX_RULES, sizeof(*rules));
    if (rules == NULL) {
        snprintf(err, err_len, "replication configuration: out of memory");
        return -1;
    }
    n = fado_replcfg_parse(existing, rules, FADO_REPLCFG_MAX_RULES, role,
                           sizeof(role), err, err_len);
    if (n < 0) {
        free(rules);
        return -1;
    }
    fado_storage_buf_init(&b);
    fado_replcfg_open(&b, role);
    for (i = 0; i < n; i++) {
        if ((arn != NULL && strcmp(rules[i].arn, arn) == 0)
            || (id != NULL && strcmp(rules[i].id, id) == 0))
        {
            *changed = 1;
            continue;
        }
        fado_storage_buf_append(&b, rules[i].raw, rules[i].raw_len);
        kept++;
    }
    fado_storage_buf_puts(&b, "</ReplicationConfiguration>");
    free(rules);
    if (kept == 0) {
        fado_storage_buf_free(&b);
        return 0;
    }
    *out = fado_storage_buf_steal(&b);
    if (*out == NULL) {
        snprintf(err, err_len, "replication configuration: out of memory");
        return -1;
    }
    return 0;
}

int
fado_storage_replcfg_remove(const char *existing, const char *arn,
    char **out, int *changed, char *err, size_t err_len)
{
    return fado_replcfg_remove_rules(existing, arn, NULL, out, changed, err, err_len);
}

int
fado_storage_replcfg_remove_id(const char *existing, const char *id,
    char **out, int *changed, char *err, size_t err_len)
{
    return fado_replcfg_remove_rules(existing, NULL, id, out, changed, err, err_len);
}

int
fado_storage_replcfg_has(const char *existing, const char *arn)
{
    fado_replcfg_rule_t  *rules;
    char                  role[512], err[128];
    int                   n, i, found = 0;

    rules = calloc(FADO_REPLCFG_MAX_RULES, sizeof(*rules));
    if (rules == NULL) {
        return 0;
    }
    n = fado_replcfg_parse(existing, rules, FADO_REPLCFG_MAX_RULES, role,
                           sizeof(role), err, sizeof(err));
    for (i = 0; i < n; i++) {
        if (strcmp(rules[i].arn, arn) == 0
            && strcmp(rules[i].status, "Enabled") == 0)
        {
            found = 1;
        }
    }
    free(rules);
    return found;
}

int
fado_storage_replcfg_list(const char *existing,
    fado_storage_rule_info_t *out, int max, char *err, size_t err_len)
{
    fado_replcfg_rule_t  *rules;
    char                  role[512];
    int                   n, i;

    rules = calloc(FADO_REPLCFG_MAX_RULES, sizeof(*rules));
    if (rules == NULL) {
        snprintf(err, err_len, "replication configuration: out of memory");
        return -1;
    }
    n = fado_replcfg_parse(existing, rules, FADO_REPLCFG_MAX_RULES, role,
                           sizeof(role), err, err_len);
    for (i = 0; i < n && i < max; i++) {
        snprintf(out[i].id, sizeof(out[i].id), "%s", rules[i].id);
        snprintf(out[i].arn, sizeof(out[i].arn), "%s", rules[i].arn);
        out[i].priority = rules[i].priority;
        out[i].enabled = strcmp(rules[i].status, "Enabled") == 0;
    }
    free(rules);
    return n;
}

/* Whether a rule other than (id, arn) holds priority q. */
static int
fado_replcfg_taken(const fado_storage_rule_info_t *rules, int n,
    const char *id, const char *arn, int q)
{
    for (int k = 0; k < n; k++) {
        if (strcmp(rules[k].id, id) != 0 && strcmp(rules[k].arn, arn) != 0
            && rules[k].priority == q)
        {
            return 1;
        }
    }
    return 0;
}

int
fado_storage_replcfg_priority(const char *existing, const char *id,
    const char *arn, int wanted, int *priority, char *err, size_t err_len)
{
    fado_storage_rule_info_t  *rules;
    int                        n, i, own = 0, p = 0;

    rules = calloc(FADO_REPLCFG_MAX_RULES, sizeof(*rules));
    if (rules == NULL) {
        snprintf(err, err_len, "replication configuration: out of memory");
        return -1;
    }
    n = fado_storage_replcfg_list(existing, rules, FADO_REPLCFG_MAX_RULES,
                                  err, err_len);
    if (n < 0) {
        free(rules);
        return -1;
    }
    if (n > FADO_REPLCFG_MAX_RULES) {
        n = FADO_REPLCFG_MAX_RULES;
    }
    /* The rule's own priority: of the rule with its ID, else of one with
     * its destination (the merge replaces both). */
    for (i = 0; i < n && own == 0; i++) {
        if (strcmp(rules[i].id, id) == 0) {
            own = rules[i].priority;
        }
    }
    for (i = 0; i < n && own == 0; i++) {
        if (strcmp(rules[i].arn, arn) == 0) {
            own = rules[i].priority;
        }
    }
    if (own >= 1 && !fado_replcfg_taken(rules, n, id, arn, own)) {
        p = own;
    } else if (wanted >= 1 && !fado_replcfg_taken(rules, n, id, arn, wanted)) {
        p = wanted;
    } else {
        for (p = 1; fado_replcfg_taken(rules, n, id, arn, p); p++) {
            /* at most n priorities are taken */
        }
    }
    free(rules);
    *priority = p;
    return 0;
}
