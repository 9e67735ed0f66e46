#include "fst_replcfg.h"
#include "fst_buf.h"

#include <expat.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FST_REPLCFG_MAX_RULES  1000

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
} fst_replcfg_parsed_t;

/*
 * The document is read with expat: a real XML parser, so namespace
 * prefixes, attributes, comments, CDATA and entities are what XML says
 * they are, and a rule's raw text is the exact byte span expat reports for
 * the element (kept byte for byte when it is not fado's). A DOCTYPE is
 * refused: S3 never sends one, and it is how entity bombs come in.
 */
typedef struct {
    XML_Parser             parser;
    const char            *doc;
    fst_replcfg_parsed_t  *rules;
    int                    max;
    int                    n;
    int                    depth;
    int                    root_ok;
    char                  *role;
    size_t                 role_len;
    long                   role_start;       /* byte offset of Role's text */
    long                   rule_start;
    int                    in_rule;
    /* element path inside the rule: [3] child, [4] grandchild */
    char                  child[40];
    char                  grand[40];
    char                  text[512];        /* text of the element being read */
    size_t                text_len;
    char                  prio[32];
    char                  err[160];
} fst_replcfg_ctx_t;

static const char *
fst_replcfg_local(const char *name)
{
    const char  *colon = strrchr(name, ':');

    return colon ? colon + 1 : name;
}

static void
fst_replcfg_fail(fst_replcfg_ctx_t *x, const char *msg)
{
    if (x->err[0] == '\0') {
        snprintf(x->err, sizeof(x->err), "%s", msg);
    }
    XML_StopParser(x->parser, XML_FALSE);
}

static void XMLCALL
fst_replcfg_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    fst_replcfg_ctx_t   *x = ud;
    const char          *local = fst_replcfg_local(name);

    (void) attrs;
    x->depth++;
    x->text_len = 0;
    if (x->depth == 1) {
        if (strcmp(local, "ReplicationConfiguration") != 0) {
            fst_replcfg_fail(x, "no <ReplicationConfiguration> element");
            return;
        }
        x->root_ok = 1;
    } else if (x->depth == 2 && strcmp(local, "Rule") == 0) {
        fst_replcfg_parsed_t  *r;

        if (x->n == x->max) {
            fst_replcfg_fail(x, "too many rules");
            return;
        }
        r = &x->rules[x->n];
        memset(r, 0, sizeof(*r));
        x->in_rule = 1;
        x->prio[0] = '\0';
        x->rule_start = (long) XML_GetCurrentByteIndex(x->parser);
    } else if (x->depth == 2 && strcmp(local, "Role") == 0) {
        x->role_start = (long) (XML_GetCurrentByteIndex(x->parser)
                                + XML_GetCurrentByteCount(x->parser));
    } else if (x->in_rule && x->depth == 3) {
        snprintf(x->child, sizeof(x->child), "%s", local);
        x->grand[0] = '\0';
    } else if (x->in_rule && x->depth == 4) {
        snprintf(x->grand, sizeof(x->grand), "%s", local);
    }
}

static void XMLCALL
fst_replcfg_chars(void *ud, const XML_Char *s, int len)
{
    fst_replcfg_ctx_t   *x = ud;
    size_t               room = sizeof(x->text) - 1 - x->text_len;
    size_t               n = len < 0 ? 0 : (size_t) len;

    if (n > room) {
        n = room;       /* longer values than any fado writes: cut */
    }
    memcpy(x->text + x->text_len, s, n);
    x->text_len += n;
}

/* The text just read, into a field of the rule. */
static void
fst_replcfg_take(fst_replcfg_ctx_t *x, char *out, size_t size)
{
    snprintf(out, size, "%.*s", (int) x->text_len, x->text);
}

static void XMLCALL
fst_replcfg_end(void *ud, const XML_Char *name)
{
    fst_replcfg_ctx_t     *x = ud;
    const char            *local = fst_replcfg_local(name);
    fst_replcfg_parsed_t  *r = &x->rules[x->n < x->max ? x->n : x->max - 1];

    if (x->in_rule && x->depth == 3 && x->grand[0] == '\0') {
        if (strcmp(local, "ID") == 0) {
            fst_replcfg_take(x, r->id, sizeof(r->id));
        } else if (strcmp(local, "Status") == 0) {
            fst_replcfg_take(x, r->status, sizeof(r->status));
        } else if (strcmp(local, "Priority") == 0) {
            fst_replcfg_take(x, x->prio, sizeof(x->prio));
        }
    } else if (x->in_rule && x->depth == 4) {
        if (strcmp(local, "Status") == 0) {
            if (strcmp(x->child, "DeleteMarkerReplication") == 0) {
                fst_replcfg_take(x, r->dm, sizeof(r->dm));
            } else if (strcmp(x->child, "DeleteReplication") == 0) {
                fst_replcfg_take(x, r->del, sizeof(r->del));
            } else if (strcmp(x->child, "ExistingObjectReplication") == 0) {
                fst_replcfg_take(x, r->existing, sizeof(r->existing));
            }
        } else if (strcmp(local, "Bucket") == 0 && strcmp(x->child, "Destination") == 0) {
            fst_replcfg_take(x, r->arn, sizeof(r->arn));
        }
    } else if (x->in_rule && x->depth == 2) {
        long  end = (long) (XML_GetCurrentByteIndex(x->parser)
                            + XML_GetCurrentByteCount(x->parser));

        if (end <= x->rule_start) {
            fst_replcfg_fail(x, "a <Rule> element ends before it starts");
            return;
        }
        r->raw = x->doc + x->rule_start;
        r->raw_len = (size_t) (end - x->rule_start);
        r->priority = atoi(x->prio);
        x->in_rule = 0;
        x->n++;
    } else if (x->depth == 2 && strcmp(local, "Role") == 0) {
        long  end = (long) XML_GetCurrentByteIndex(x->parser);

        /* Role's text as written (escaped): it is written back as is. */
        if (end > x->role_start && (size_t) (end - x->role_start) < x->role_len) {
            snprintf(x->role, x->role_len, "%.*s", (int) (end - x->role_start),
                     x->doc + x->role_start);
        }
    }
    if (x->depth == 3) {
        x->child[0] = '\0';
    } else if (x->depth == 4) {
        x->grand[0] = '\0';
    }
    x->text_len = 0;
    x->depth--;
}

static void XMLCALL
fst_replcfg_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
    const XML_Char *pubid, int has_internal_subset)
{
    (void) name;
    (void) sysid;
    (void) pubid;
    (void) has_internal_subset;
    fst_replcfg_fail(ud, "a DOCTYPE is not accepted");
}

/* Parse the rules of doc; returns the count or -1. */
static int
fst_replcfg_parse(const char *doc, fst_replcfg_parsed_t *rules, int max,
    char *role, size_t role_len, char *err, size_t err_len)
{
    fst_replcfg_ctx_t   x;
    size_t              len;
    enum                XML_Status     st;

    role[0] = '\0';
    if (doc == NULL || *doc == '\0') {
        return 0;
    }
    len = strlen(doc);
    if (len > INT32_MAX) {
        snprintf(err, err_len, "replication configuration: too large");
        return -1;
    }
    memset(&x, 0, sizeof(x));
    x.doc = doc;
    x.rules = rules;
    x.max = max;
    x.role = role;
    x.role_len = role_len;
    x.parser = XML_ParserCreate("UTF-8");
    if (x.parser == NULL) {
        snprintf(err, err_len, "replication configuration: out of memory");
        return -1;
    }
    XML_SetUserData(x.parser, &x);
    XML_SetElementHandler(x.parser, fst_replcfg_start, fst_replcfg_end);
    XML_SetCharacterDataHandler(x.parser, fst_replcfg_chars);
    XML_SetStartDoctypeDeclHandler(x.parser, fst_replcfg_doctype);
    st = XML_Parse(x.parser, doc, (int) len, XML_TRUE);
    if (st != XML_STATUS_OK || x.err[0] != '\0' || !x.root_ok) {
        snprintf(err, err_len, "replication configuration: %s (line %lu)",
                 x.err[0] ? x.err : !x.root_ok && st == XML_STATUS_OK
                 ? "no <ReplicationConfiguration> element"
                 : XML_ErrorString(XML_GetErrorCode(x.parser)),
                 (unsigned long) XML_GetCurrentLineNumber(x.parser));
        XML_ParserFree(x.parser);
        return -1;
    }
    XML_ParserFree(x.parser);
    return x.n;
}

static void
fst_replcfg_write_rule(fst_buf_t *b, const fst_replcfg_rule_t *r)
{
    fst_buf_puts(b, "<Rule><ID>");
    fst_buf_xml_escape(b, r->id);
    fst_buf_printf(b, "</ID><Status>Enabled</Status>"
        "<Priority>%d</Priority>"
        "<DeleteMarkerReplication><Status>Enabled</Status>"
        "</DeleteMarkerReplication>"
        "<DeleteReplication><Status>Enabled</Status></DeleteReplication>"
        "<Filter><Prefix></Prefix></Filter>"
        "<ExistingObjectReplication><Status>Enabled</Status>"
        "</ExistingObjectReplication>"
        "<Destination><Bucket>", r->priority);
    fst_buf_xml_escape(b, r->arn);
    fst_buf_puts(b, "</Bucket></Destination></Rule>");
}

static void
fst_replcfg_open(fst_buf_t *b, const char *role)
{
    fst_buf_puts(b, "<ReplicationConfiguration xmlns=\"http://s3."
                          "amazonaws.com/doc/2006-03-01/\">");
    if (role[0]) {
        /* role is raw (already escaped) text from the source document */
        fst_buf_printf(b, "<Role>%s</Role>", role);
    }
}

static int
fst_replcfg_same(const fst_replcfg_parsed_t *r, const fst_replcfg_rule_t *w)
{
    return strcmp(r->id, w->id) == 0 && strcmp(r->arn, w->arn) == 0
           && r->priority == w->priority && strcmp(r->status, "Enabled") == 0
           && strcmp(r->dm, "Enabled") == 0 && strcmp(r->del, "Enabled") == 0
           && strcmp(r->existing, "Enabled") == 0;
}

int
fst_replcfg_merge(const char *existing,
    const fst_replcfg_rule_t *rule, char **out, int *changed,
    char *err, size_t err_len)
{
    fst_replcfg_parsed_t  *rules;
    fst_buf_t              b;
    char                   role[512];
    int                    n, i, same = 0;

    *out = NULL;
    *changed = 0;
    if (rule->id == NULL || *rule->id == '\0' || rule->arn == NULL
        || *rule->arn == '\0' || rule->priority < 1)
    {
        snprintf(err, err_len, "replication rule: id, arn and a priority "
                 ">= 1 are required (priority %d)", rule->priority);
        return -1;
    }
    rules = calloc(FST_REPLCFG_MAX_RULES, sizeof(*rules));
    if (rules == NULL) {
        snprintf(err, err_len, "replication configuration: out of memory");
        return -1;
    }
    n = fst_replcfg_parse(existing, rules, FST_REPLCFG_MAX_RULES, role,
                           sizeof(role), err, err_len);
    if (n < 0) {
        free(rules);
        return -1;
    }
    fst_buf_init(&b);
    fst_replcfg_open(&b, role);
    for (i = 0; i < n; i++) {
        if (strcmp(rules[i].id, rule->id) == 0
            || strcmp(rules[i].arn, rule->arn) == 0)
        {
            same |= fst_replcfg_same(&rules[i], rule);
            continue;
        }
        if (rules[i].priority == rule->priority) {
            snprintf(err, err_len, "replication rule \"%s\": priority %d is "
                     "already used by rule \"%s\"", rule->id, rule->priority,
                     rules[i].id);
            fst_buf_free(&b);
            free(rules);
            return -1;
        }
        fst_buf_append(&b, rules[i].raw, rules[i].raw_len);
    }
    fst_replcfg_write_rule(&b, rule);
    fst_buf_puts(&b, "</ReplicationConfiguration>");
    free(rules);
    *out = fst_buf_steal(&b);
    if (*out == NULL) {
        snprintf(err, err_len, "replication configuration: out of memory");
        return -1;
    }
    *changed = !same;
    return 0;
}

static int
fst_replcfg_remove_rules(const char *existing, const char *arn, const char *id,
    char **out, int *changed, char *err, size_t err_len)
{
    fst_replcfg_parsed_t  *rules;
    fst_buf_t              b;
    char                   role[512];
    int                    n, i, kept = 0;

    *out = NULL;
    *changed = 0;
    rules = calloc(FST_REPLCFG_MAX_RULES, sizeof(*rules));
    if (rules == NULL) {
        snprintf(err, err_len, "replication configuration: out of memory");
        return -1;
    }
    n = fst_replcfg_parse(existing, rules, FST_REPLCFG_MAX_RULES, role,
                           sizeof(role), err, err_len);
    if (n < 0) {
        free(rules);
        return -1;
    }
    fst_buf_init(&b);
    fst_replcfg_open(&b, role);
    for (i = 0; i < n; i++) {
        if ((arn != NULL && strcmp(rules[i].arn, arn) == 0)
            || (id != NULL && strcmp(rules[i].id, id) == 0))
        {
            *changed = 1;
            continue;
        }
        fst_buf_append(&b, rules[i].raw, rules[i].raw_len);
        kept++;
    }
    fst_buf_puts(&b, "</ReplicationConfiguration>");
    free(rules);
    if (kept == 0) {
        fst_buf_free(&b);
        return 0;
    }
    *out = fst_buf_steal(&b);
    if (*out == NULL) {
        snprintf(err, err_len, "replication configuration: out of memory");
        return -1;
    }
    return 0;
}

int
fst_replcfg_remove(const char *existing, const char *arn,
    char **out, int *changed, char *err, size_t err_len)
{
    return fst_replcfg_remove_rules(existing, arn, NULL, out, changed, err, err_len);
}

int
fst_replcfg_remove_id(const char *existing, const char *id,
    char **out, int *changed, char *err, size_t err_len)
{
    return fst_replcfg_remove_rules(existing, NULL, id, out, changed, err, err_len);
}

int
fst_replcfg_has(const char *existing, const char *arn)
{
    fst_replcfg_parsed_t  *rules;
    char                   role[512], err[128];
    int                    n, i, found = 0;

    rules = calloc(FST_REPLCFG_MAX_RULES, sizeof(*rules));
    if (rules == NULL) {
        return 0;
    }
    n = fst_replcfg_parse(existing, rules, FST_REPLCFG_MAX_RULES, role,
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
fst_replcfg_list(const char *existing,
    fst_replcfg_rule_info_t *out, int max, char *err, size_t err_len)
{
    fst_replcfg_parsed_t  *rules;
    char                   role[512];
    int                    n, i;

    rules = calloc(FST_REPLCFG_MAX_RULES, sizeof(*rules));
    if (rules == NULL) {
        snprintf(err, err_len, "replication configuration: out of memory");
        return -1;
    }
    n = fst_replcfg_parse(existing, rules, FST_REPLCFG_MAX_RULES, role,
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
fst_replcfg_taken(const fst_replcfg_rule_info_t *rules, int n,
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
fst_replcfg_priority(const char *existing, const char *id,
    const char *arn, int wanted, int *priority, char *err, size_t err_len)
{
    fst_replcfg_rule_info_t   *rules;
    int                        n, i, own = 0, p = 0;

    rules = calloc(FST_REPLCFG_MAX_RULES, sizeof(*rules));
    if (rules == NULL) {
        snprintf(err, err_len, "replication configuration: out of memory");
        return -1;
    }
    n = fst_replcfg_list(existing, rules, FST_REPLCFG_MAX_RULES,
                                  err, err_len);
    if (n < 0) {
        free(rules);
        return -1;
    }
    if (n > FST_REPLCFG_MAX_RULES) {
        n = FST_REPLCFG_MAX_RULES;
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
    if (own >= 1 && !fst_replcfg_taken(rules, n, id, arn, own)) {
        p = own;
    } else if (wanted >= 1 && !fst_replcfg_taken(rules, n, id, arn, wanted)) {
        p = wanted;
    } else {
        for (p = 1; fst_replcfg_taken(rules, n, id, arn, p); p++) {
            /* at most n priorities are taken */
        }
    }
    free(rules);
    *priority = p;
    return 0;
}
