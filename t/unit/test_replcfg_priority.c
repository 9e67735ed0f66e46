/*
 * The priority converge gives its rule (fst_replcfg.c): whatever the
 * bucket's configuration already holds, the merged document keeps every
 * priority unique and rewrites no other rule. This is the repair for a
 * cluster coming back after the rules of a bucket were renumbered
 * ("priority 1 is already used by rule fado-eu-1").
 */

#include "tap.h"

#include <stdlib.h>
#include <string.h>

#include "fst_replcfg.h"

#define ARN_EU  "arn:minio:replication::eu:b"
#define ARN_US  "arn:minio:replication::us:b"
#define ARN_AS  "arn:minio:replication::asia:b"

static char *
rule(const char *id, int prio, const char *arn)
{
    static char  buf[4][512];
    static int   slot;
    char        *b = buf[slot++ % 4];

    snprintf(b, 512, "<Rule><ID>%s</ID><Status>Enabled</Status><Priority>%d</Priority>"
             "<DeleteMarkerReplication><Status>Enabled</Status></DeleteMarkerReplication>"
             "<DeleteReplication><Status>Enabled</Status></DeleteReplication>"
             "<Filter><Prefix></Prefix></Filter>"
             "<ExistingObjectReplication><Status>Enabled</Status></ExistingObjectReplication>"
             "<Destination><Bucket>%s</Bucket></Destination></Rule>", id, prio, arn);
    return b;
}

static char *
doc(const char *a, const char *b)
{
    static char  d[2048];

    snprintf(d, sizeof(d), "<ReplicationConfiguration xmlns=\"http://s3.amazonaws.com/"
             "doc/2006-03-01/\">%s%s</ReplicationConfiguration>", a ? a : "", b ? b : "");
    return d;
}

static int
prio(const char *existing, const char *id, const char *arn, int wanted)
{
    char  err[256];
    int   p = -1;

    if (fst_replcfg_priority(existing, id, arn, wanted, &p, err, sizeof(err)) != 0) {
        diag("error: %s", err);
        return -1;
    }
    return p;
}

int
main(void)
{
    fst_replcfg_rule_info_t   rules[4];
    char                      err[256], *out = NULL, *d;
    fst_replcfg_rule_t        r;
    int                       n, changed;

    is_int(prio(NULL, "fado-eu-1", ARN_EU, 1), 1, "no configuration: the wanted priority");
    is_int(prio("", "fado-eu-1", ARN_EU, 0), 1, "no configuration, nothing wanted: 1");

    /* The case: after asia-1 left, eu-1's rule was renumbered to 1;
     * asia-1 comes back and is asked to take 1 again. */
    d = doc(rule("fado-eu-1", 1, ARN_EU), NULL);
    is_int(prio(d, "fado-asia-1", ARN_AS, 1), 2,
           "wanted priority held by another of our rules: the lowest free one");
    is_int(prio(d, "fado-eu-1", ARN_EU, 2), 1,
           "a rule already there keeps its priority (nothing to rewrite)");

    /* Priorities swapped behind our back: each keeps its own. */
    d = doc(rule("fado-eu-1", 2, ARN_EU), rule("fado-us-1", 1, ARN_US));
    is_int(prio(d, "fado-eu-1", ARN_EU, 1), 2, "swapped: eu-1 keeps 2");
    is_int(prio(d, "fado-us-1", ARN_US, 2), 1, "swapped: us-1 keeps 1");

    /* A rule with our ID towards an old target: same ID, its priority. */
    d = doc(rule("fado-us-1", 3, "arn:minio:replication::old:b"), rule("fado-eu-1", 1, ARN_EU));
    is_int(prio(d, "fado-us-1", ARN_US, 1), 3, "our ID with a stale ARN: its priority is adopted");

    /* A rule we do not own holding the wanted priority. */
    d = doc(rule("operator", 1, "arn:minio:replication::x:y"), rule("fado-eu-1", 2, ARN_EU));
    is_int(prio(d, "fado-us-1", ARN_US, 1), 3, "operator's rule keeps 1, eu-1 keeps 2: us-1 gets 3");
    is_int(prio(d, "fado-us-1", ARN_US, 5), 5, "a free wanted priority is taken as asked");

    /* A rule of ours whose priority another rule took: it moves. */
    d = doc(rule("operator", 1, "arn:minio:replication::x:y"), rule("fado-eu-1", 1, ARN_EU));
    is_int(prio(d, "fado-eu-1", ARN_EU, 1), 2, "our rule sharing a priority moves to a free one");

    /* The merge with the chosen priority succeeds and keeps the others. */
    d = doc(rule("fado-eu-1", 1, ARN_EU), rule("fado-us-1", 2, ARN_US));
    r.id = "fado-asia-1";
    r.arn = ARN_AS;
    r.priority = prio(d, r.id, r.arn, 1);
    is_int(fst_replcfg_merge(d, &r, &out, &changed, err, sizeof(err)), 0,
           "merging with that priority succeeds");
    ok(changed, "and changes the document");
    n = fst_replcfg_list(out, rules, 4, err, sizeof(err));
    is_int(n, 3, "three rules listed");
    if (n == 3) {
        is_str(rules[0].id, "fado-eu-1", "eu-1 first");
        is_int(rules[0].priority, 1, "with its priority");
        is_int(rules[1].priority, 2, "us-1 keeps 2");
        is_str(rules[2].id, "fado-asia-1", "asia-1 appended");
        is_int(rules[2].priority, 3, "with 3");
        ok(rules[2].enabled, "enabled");
        is_str(rules[2].arn, ARN_AS, "towards its target");
    }
    free(out);

    is_int(fst_replcfg_list(NULL, rules, 4, err, sizeof(err)), 0, "no document: no rules");
    is_int(fst_replcfg_list("<x/>", rules, 4, err, sizeof(err)), -1,
           "not a replication configuration: an error");
    return done_testing();
}
