/*
 * fado replication on MinIO: the reconciler's calls (fst_replication.h) built
 * on the S3 client, the admin API and the replication configuration.
 * See docs/storage.md for the steps and what each guarantees.
 */

#include "fst_replication.h"
#include "fst_madmin_client.h"
#include "fst_s3_client.h"
#include "fst_replcfg.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *
fst_replica_state_name(fst_replica_state_e state)
{
    switch (state) {
    case FST_REPLICA_PENDING:  return "pending";
    case FST_REPLICA_SYNCING:  return "syncing";
    case FST_REPLICA_READY:    return "ready";
    case FST_REPLICA_REMOVING: return "removing";
    case FST_REPLICA_FAILED:   return "failed";
    }
    return "unknown";
}

static fst_s3_client_t *
fst_replication_client(const fst_site_t *site, char *err,
    size_t err_len)
{
    fst_s3_client_t   *c;
    char               e[256];

    if (site == NULL) {
        snprintf(err, err_len, "storage site is missing");
        return NULL;
    }
    c = fst_s3_client_new(site->endpoint, site->access_key,
                           site->secret_key, site->region, e, sizeof(e));
    if (c == NULL) {
        snprintf(err, err_len, "cluster \"%s\": %s",
                 site->cluster ? site->cluster : "?", e);
    }
    return c;
}

/* The bucket exists (created or adopted as it is) with versioning on. */
static int
fst_replication_bucket(fst_s3_client_t *c, const fst_site_t *site,
    const char *bucket, int *created_out, char *err, size_t err_len)
{
    char  e[512], status[32];
    int   created = 0;

    if (fst_s3_bucket_create(c, bucket, &created, e, sizeof(e)) != 0
        || fst_s3_bucket_versioning_get(c, bucket, status, sizeof(status),
                                         e, sizeof(e)) != 0
        || (strcmp(status, "Enabled") != 0
            && fst_s3_bucket_versioning_set(c, bucket, 1, e, sizeof(e))
               != 0))
    {
        snprintf(err, err_len, "cluster \"%s\": %s",
                 site->cluster ? site->cluster : "?", e);
        return -1;
    }
    if (created_out) {
        *created_out = created;
    }
    return 0;
}

int
fst_replication_ensure_home(const fst_site_t *home,
    const char *bucket, char *err, size_t err_len)
{
    fst_s3_client_t   *c = fst_replication_client(home, err, err_len);
    int                rc;

    if (c == NULL) {
        return -1;
    }
    rc = fst_replication_bucket(c, home, bucket, NULL, err, err_len);
    fst_s3_client_free(c);
    return rc;
}


static void fst_replication_reset_id(char *id, size_t len);

/* ------------------------------------------------------------ caught up */

/*
 * A replica has caught up when every object version (delete markers too)
 * on the home is on the replica with the same version id, which MinIO's
 * replication preserves. The replica's versions go into a hash set, the
 * home's are looked up; extra data on the replica (an adopted bucket) is
 * fine.
 */
typedef struct {
    char    **slots;
    size_t    cap;
    size_t    used;
    int       nomem;
} fst_replication_set_t;

static uint64_t
fst_replication_hash(const char *s)
{
    uint64_t  h = 1469598103934665603ULL;

    for (; *s; s++) {
        h = (h ^ (unsigned char) *s) * 1099511628211ULL;
    }
    return h;
}

static char *
fst_replication_member(const fst_s3_entry_t *e)
{
    size_t  kl = strlen(e->key), vl = strlen(e->version_id ? e->version_id : "");
    char   *m = malloc(kl + vl + 2);

    if (m) {
        memcpy(m, e->key, kl);
        m[kl] = '\n';       /* keys may not hold '\n' in a way that collides
                               with a version id: ids have no '\n' */
        memcpy(m + kl + 1, e->version_id ? e->version_id : "", vl + 1);
    }
    return m;
}

static int
fst_replication_set_add(fst_replication_set_t *s, char *m)
{
    size_t  i;

    if (s->used * 2 >= s->cap) {
        size_t   ncap = s->cap ? s->cap * 2 : 1024, j;
        char   **n = calloc(ncap, sizeof(*n));

        if (n == NULL) {
            return -1;
        }
        for (j = 0; j < s->cap; j++) {
            if (s->slots[j]) {
                i = fst_replication_hash(s->slots[j]) & (ncap - 1);
                while (n[i]) {
                    i = (i + 1) & (ncap - 1);
                }
                n[i] = s->slots[j];
            }
        }
        free(s->slots);
        s->slots = n;
        s->cap = ncap;
    }
    i = fst_replication_hash(m) & (s->cap - 1);
    while (s->slots[i]) {
        if (strcmp(s->slots[i], m) == 0) {
            free(m);
            return 0;
        }
        i = (i + 1) & (s->cap - 1);
    }
    s->slots[i] = m;
    s->used++;
    return 0;
}

static int
fst_replication_set_has(const fst_replication_set_t *s, const char *m)
{
    size_t  i;

    if (s->cap == 0) {
        return 0;
    }
    i = fst_replication_hash(m) & (s->cap - 1);
    while (s->slots[i]) {
        if (strcmp(s->slots[i], m) == 0) {
            return 1;
        }
        i = (i + 1) & (s->cap - 1);
    }
    return 0;
}

static void
fst_replication_set_free(fst_replication_set_t *s)
{
    size_t  i;

    for (i = 0; i < s->cap; i++) {
        free(s->slots[i]);
    }
    free(s->slots);
}

static int
fst_replication_collect(void *ud, const fst_s3_entry_t *e)
{
    fst_replication_set_t   *s = ud;
    char                    *m = fst_replication_member(e);

    if (m == NULL || fst_replication_set_add(s, m) != 0) {
        free(m);
        s->nomem = 1;
        return 1;
    }
    return 0;
}

typedef struct {
    fst_replication_set_t   *replica;
    size_t                   missing;
    size_t                   total;
    int                      nomem;
    char                     first_key[1100];   /* first missing object */
    char                     first_vid[128];    /* (not a delete marker) */
} fst_replication_cmp_t;

static int
fst_replication_compare(void *ud, const fst_s3_entry_t *e)
{
    fst_replication_cmp_t   *c = ud;
    char                    *m = fst_replication_member(e);

    if (m == NULL) {
        c->nomem = 1;
        return 1;
    }
    c->total++;
    if (!fst_replication_set_has(c->replica, m)) {
        c->missing++;
        if (c->first_key[0] == '\0' && !e->delete_marker) {
            snprintf(c->first_key, sizeof(c->first_key), "%s", e->key);
            snprintf(c->first_vid, sizeof(c->first_vid), "%s",
                     e->version_id ? e->version_id : "");
        }
    }
    free(m);
    return 0;
}

static int
fst_replication_caught_up(fst_s3_client_t *home, fst_s3_client_t *rep,
    const char *bucket, int *ready, size_t *missing, size_t *total,
    fst_replication_cmp_t *cmp_out, char *err, size_t err_len)
{
    fst_replication_set_t   set;
    fst_replication_cmp_t   local, *cmp = cmp_out ? cmp_out : &local;
    int                     rc = -1;

    memset(&set, 0, sizeof(set));
    memset(cmp, 0, sizeof(*cmp));
    *ready = 0;
    /* replica first: a version written meanwhile on the home then only
     * delays readiness, it never makes it early */
    if (fst_s3_list_versions(rep, bucket, NULL, fst_replication_collect,
                              &set, err, err_len) != 0)
    {
        goto done;
    }
    cmp->replica = &set;
    if (set.nomem
        || fst_s3_list_versions(home, bucket, NULL, fst_replication_compare,
                                 cmp, err, err_len) != 0)
    {
        if (set.nomem) {
            snprintf(err, err_len, "comparing listings: out of memory");
        }
        goto done;
    }
    if (cmp->nomem) {
        snprintf(err, err_len, "comparing listings: out of memory");
        goto done;
    }
    *ready = cmp->missing == 0;
    *missing = cmp->missing;
    if (total) {
        *total = cmp->total;
    }
    rc = 0;
done:
    fst_replication_set_free(&set);
    return rc;
}

/*
 * A replica that is behind while MinIO is not working on it would wait
 * forever: versions whose replication FAILED for good, or that the home
 * holds as COMPLETED while the replica lost them (its bucket was emptied
 * or remade). When the first missing version is not PENDING and no resync
 * is running for the target, start a new one. Returns 1 if it did.
 */
static int
fst_replication_heal(fst_s3_client_t *home, const char *bucket,
    const char *arn, const fst_replication_cmp_t *cmp, char *err,
    size_t err_len)
{
    fst_s3_object_info_t   info;
    char                   status[32], reset[64], e[512];

    if (cmp->first_key[0] == '\0'
        || fst_s3_object_head(home, bucket, cmp->first_key,
                               cmp->first_vid[0] ? cmp->first_vid : NULL,
                               &info, e, sizeof(e)) != 0
        || strcmp(info.replication_status, "PENDING") == 0)
    {
        return 0;
    }
    if (fst_madmin_resync_status(home, bucket, arn, status, sizeof(status),
                                  e, sizeof(e)) != 0
        || strcmp(status, "Started") == 0 || strcmp(status, "Pending") == 0)
    {
        return 0;
    }
    fst_replication_reset_id(reset, sizeof(reset));
    if (fst_madmin_resync_start(home, bucket, arn, reset, err, err_len)
        != 0)
    {
        return -1;
    }
    return 1;
}

/*
 * Objects written before versioning was enabled carry the version id
 * "null", and a replicated "null" version replaces the one on the replica.
 * Adopting a replica bucket must not overwrite its data, so a key holding
 * a "null" version on both sides with different content is a conflict the
 * operator resolves (copy the object onto itself on one side, which gives
 * it a real version id, then delete the "null" version there); the replica
 * is not replicated to until then.
 */
typedef struct {
    fst_replication_set_t    keys;      /* replica keys with a null object */
    fst_replication_set_t    same;      /* key "\n" etag of those */
    char                     first[256];
    size_t                   conflicts;
    int                      nomem;
} fst_replication_nulls_t;

static int
fst_replication_nulls_collect(void *ud, const fst_s3_entry_t *e)
{
    fst_replication_nulls_t   *n = ud;
    fst_s3_entry_t             k = *e;
    char                      *a, *b;

    if (strcmp(e->version_id, "null") != 0 || e->delete_marker) {
        return 0;
    }
    k.version_id = "";
    a = fst_replication_member(&k);
    k.version_id = e->etag;
    b = fst_replication_member(&k);
    if (a == NULL || b == NULL || fst_replication_set_add(&n->keys, a) != 0
        || fst_replication_set_add(&n->same, b) != 0)
    {
        n->nomem = 1;
        return 1;
    }
    return 0;
}

static int
fst_replication_nulls_check(void *ud, const fst_s3_entry_t *e)
{
    fst_replication_nulls_t   *n = ud;
    fst_s3_entry_t             k = *e;
    char                      *a, *b;

    if (strcmp(e->version_id, "null") != 0) {
        return 0;
    }
    k.version_id = "";
    a = fst_replication_member(&k);
    k.version_id = e->delete_marker ? "" : e->etag;
    b = fst_replication_member(&k);
    if (a == NULL || b == NULL) {
        free(a);
        free(b);
        n->nomem = 1;
        return 1;
    }
    if (fst_replication_set_has(&n->keys, a)
        && (e->delete_marker || !fst_replication_set_has(&n->same, b)))
    {
        if (n->conflicts++ == 0) {
            snprintf(n->first, sizeof(n->first), "%s", e->key);
        }
    }
    free(a);
    free(b);
    return 0;
}

static int
fst_replication_no_conflict(fst_s3_client_t *home, fst_s3_client_t *rep,
    const char *bucket, char *err, size_t err_len)
{
    fst_replication_nulls_t   n;
    int                       rc = -1;

    memset(&n, 0, sizeof(n));
    if (fst_s3_list_versions(rep, bucket, NULL,
                              fst_replication_nulls_collect, &n, err,
                              err_len) != 0
        || (!n.nomem && n.keys.used
            && fst_s3_list_versions(home, bucket, NULL,
                                     fst_replication_nulls_check, &n, err,
                                     err_len) != 0))
    {
        goto done;
    }
    if (n.nomem) {
        snprintf(err, err_len, "out of memory");
        goto done;
    }
    if (n.conflicts) {
        snprintf(err, err_len, "%zu unversioned object(s) differ between "
                 "home and replica and replication would overwrite the "
                 "replica's, e.g. \"%s\" (copy it onto itself on one side, then "
                 "delete its \"null\" version there); nothing was changed", n.conflicts,
                 n.first);
        goto done;
    }
    rc = 0;
done:
    fst_replication_set_free(&n.keys);
    fst_replication_set_free(&n.same);
    return rc;
}

/* ------------------------------------------------------------ targets */

static const char *
fst_replication_host(const char *endpoint)
{
    const char  *h = strstr(endpoint, "://");

    return h ? h + 3 : endpoint;
}

static int
fst_replication_same_host(const char *a, const char *endpoint)
{
    const char  *b = fst_replication_host(endpoint);
    size_t       n = strlen(b);

    if (n && b[n - 1] == '/') {
        n--;
    }
    return strlen(a) == n && strncmp(a, b, n) == 0;
}

/* The address the home MinIO uses to reach the replica. */
static const char *
fst_replication_peer(const fst_site_t *replica)
{
    return replica->peer_endpoint && *replica->peer_endpoint
           ? replica->peer_endpoint : replica->endpoint;
}

/* The home's target towards bucket on the replica, if any. */
static int
fst_replication_find_target(fst_s3_client_t *home,
    const fst_site_t *replica, const char *bucket,
    fst_madmin_target_t *found, int *present, char *err, size_t err_len)
{
    fst_madmin_target_t   *t;
    size_t                 n, i;

    *present = 0;
    if (fst_madmin_targets_list(home, bucket, &t, &n, err, err_len) != 0) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (fst_replication_same_host(t[i].endpoint,
                                       fst_replication_peer(replica))
            && strcmp(t[i].target_bucket, bucket) == 0)
        {
            *found = t[i];
            *present = 1;
            break;
        }
    }
    free(t);
    return 0;
}

static void
fst_replication_rule_id(const fst_site_t *replica, char *id,
    size_t len)
{
    snprintf(id, len, "fado-%s", replica->cluster && *replica->cluster
             ? replica->cluster : fst_replication_host(replica->endpoint));
}

/*
 * Merge our rule into what the home holds now. The priority asked for is a
 * wish: the rule keeps the priority it already has, or takes a free one,
 * so whatever rules MinIO holds (ours renumbered by an earlier placement,
 * an operator's) the merge never collides and never rewrites another rule.
 */
static int
fst_replication_rule(fst_s3_client_t *home, const char *bucket,
    fst_replcfg_rule_t *rule, char *err, size_t err_len)
{
    char  *cur = NULL, *next = NULL;
    int    changed = 0, rc = -1;

    if (fst_s3_bucket_config_get(home, bucket, "replication", &cur, err,
                                  err_len) != 0
        || fst_replcfg_priority(cur, rule->id, rule->arn,
                                         rule->priority, &rule->priority,
                                         err, err_len) != 0
        || fst_replcfg_merge(cur, rule, &next, &changed, err,
                                      err_len) != 0)
    {
        goto done;
    }
    if (changed && fst_s3_bucket_config_put(home, bucket, "replication",
                                             next, err, err_len) != 0)
    {
        goto done;
    }
    rc = 0;
done:
    free(cur);
    free(next);
    return rc;
}

static void
fst_replication_reset_id(char *id, size_t len)
{
    struct timespec  ts;

    /* unique enough to tell resets apart; not a secret */
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(id, len, "fado-%lld-%09ld", (long long) ts.tv_sec, ts.tv_nsec);
}

static int
fst_replication_fail(char *err, size_t err_len, const char *step,
    const fst_site_t *home, const fst_site_t *replica,
    const char *bucket, const char *why)
{
    char  tmp[768];

    snprintf(tmp, sizeof(tmp), "%s", why);
    snprintf(err, err_len, "bucket \"%s\" %s -> %s: %s: %s", bucket,
             home->cluster ? home->cluster : "?",
             replica->cluster ? replica->cluster : "?", step, tmp);
    return -1;
}

int
fst_replication_converge(const fst_site_t *home,
    const fst_site_t *replica, const char *bucket, int priority,
    fst_replica_state_e *state, char *err, size_t err_len)
{
    fst_s3_client_t       *ch = NULL, *cr = NULL;
    fst_madmin_target_t    t;
    fst_replcfg_rule_t     rule;
    char                   e[768], id[128], reset[64], *cfg = NULL;
    int                    present, ready, rep_created = 0, resynced = 0;
    int                    rc = -1;
    fst_replication_cmp_t  cmp;
    size_t                 missing = 0;

    *state = FST_REPLICA_FAILED;
    ch = fst_replication_client(home, err, err_len);
    cr = ch ? fst_replication_client(replica, err, err_len) : NULL;
    if (cr == NULL) {
        goto done;
    }
    if (strcmp(fst_s3_client_endpoint(ch), fst_s3_client_endpoint(cr))
        == 0)
    {
        fst_replication_fail(err, err_len, "configuration", home, replica,
                              bucket, "home and replica are the same "
                              "deployment");
        goto done;
    }
    if (fst_replication_bucket(ch, home, bucket, NULL, err, err_len) != 0
        || fst_replication_bucket(cr, replica, bucket, &rep_created, err,
                                   err_len) != 0)
    {
        goto done;
    }

    memset(&t, 0, sizeof(t));
    if (fst_replication_find_target(ch, replica, bucket, &t, &present, e,
                                     sizeof(e)) != 0)
    {
        fst_replication_fail(err, err_len, "listing remote targets", home,
                              replica, bucket, e);
        goto done;
    }
    /* before replication starts (no rule yet) make sure it would not
     * overwrite anything on the replica */
    if (fst_s3_bucket_config_get(ch, bucket, "replication", &cfg, e,
                                  sizeof(e)) != 0)
    {
        fst_replication_fail(err, err_len, "reading the replication rules",
                              home, replica, bucket, e);
        goto done;
    }
    if ((!present || !fst_replcfg_has(cfg, t.arn))
        && fst_replication_no_conflict(ch, cr, bucket, e, sizeof(e)) != 0)
    {
        fst_replication_fail(err, err_len, "adopting the replica bucket",
                              home, replica, bucket, e);
        goto done;
    }
    if (!present) {
        if (fst_madmin_target_set(ch, bucket, fst_replication_peer(replica),
                                   replica->access_key, replica->secret_key,
                                   bucket, replica->region, t.arn,
                                   sizeof(t.arn), e, sizeof(e)) != 0)
        {
            fst_replication_fail(err, err_len, "adding the remote target",
                                  home, replica, bucket, e);
            goto done;
        }
    }

    fst_replication_rule_id(replica, id, sizeof(id));
    rule.id = id;
    rule.arn = t.arn;
    rule.priority = priority;
    if (fst_replication_rule(ch, bucket, &rule, e, sizeof(e)) != 0) {
        fst_replication_fail(err, err_len, "replication rule", home,
                              replica, bucket, e);
        goto done;
    }

    /* existing objects: one resync per target, remembered by MinIO on the
     * target itself (resetID), so a restart does not start another; and
     * another when the replica's bucket had to be made again (its data
     * was deleted or its deployment replaced) */
    if (t.reset_id[0] == '\0' || rep_created) {
        resynced = 1;
        fst_replication_reset_id(reset, sizeof(reset));
        if (fst_madmin_resync_start(ch, bucket, t.arn, reset, e, sizeof(e))
            != 0)
        {
            fst_replication_fail(err, err_len, "resyncing existing objects",
                                  home, replica, bucket, e);
            goto done;
        }
    }

    if (fst_replication_caught_up(ch, cr, bucket, &ready, &missing, NULL,
                                   &cmp, e, sizeof(e)) != 0)
    {
        fst_replication_fail(err, err_len, "measuring progress", home,
                              replica, bucket, e);
        goto done;
    }
    if (!ready && !resynced
        && fst_replication_heal(ch, bucket, t.arn, &cmp, e, sizeof(e)) < 0)
    {
        fst_replication_fail(err, err_len, "resyncing missing versions",
                              home, replica, bucket, e);
        goto done;
    }
    *state = ready ? FST_REPLICA_READY : FST_REPLICA_SYNCING;
    rc = 0;
done:
    free(cfg);
    fst_s3_client_free(ch);
    fst_s3_client_free(cr);
    return rc;
}

int
fst_replication_stop(const fst_site_t *home,
    const fst_site_t *replica, const char *bucket,
    char *err, size_t err_len)
{
    fst_s3_client_t       *ch;
    fst_madmin_target_t    t;
    char                   e[768], *cur = NULL, *next = NULL;
    int                    present, changed, rc = -1;

    ch = fst_replication_client(home, err, err_len);
    if (ch == NULL) {
        return -1;
    }
    if (replica == NULL || replica->endpoint == NULL) {
        snprintf(err, err_len, "bucket \"%s\": replica site is missing",
                 bucket);
        goto done;
    }
    if (fst_replication_find_target(ch, replica, bucket, &t, &present, e,
                                     sizeof(e)) != 0)
    {
        fst_replication_fail(err, err_len, "listing remote targets", home,
                              replica, bucket, e);
        goto done;
    }
    if (!present) {
        rc = 0;                 /* already stopped */
        goto done;
    }
    /* the rule first: MinIO refuses to remove a target a rule still uses */
    if (fst_s3_bucket_config_get(ch, bucket, "replication", &cur, e,
                                  sizeof(e)) != 0
        || fst_replcfg_remove(cur, t.arn, &next, &changed, e,
                                       sizeof(e)) != 0
        || (changed && next && fst_s3_bucket_config_put(ch, bucket,
                                   "replication", next, e, sizeof(e)) != 0)
        || (changed && next == NULL && fst_s3_bucket_config_delete(ch,
                                   bucket, "replication", e, sizeof(e)) != 0))
    {
        fst_replication_fail(err, err_len, "removing the replication rule",
                              home, replica, bucket, e);
        goto done;
    }
    if (fst_madmin_target_remove(ch, bucket, t.arn, e, sizeof(e)) != 0) {
        fst_replication_fail(err, err_len, "removing the remote target",
                              home, replica, bucket, e);
        goto done;
    }
    rc = 0;
done:
    free(cur);
    free(next);
    fst_s3_client_free(ch);
    return rc;
}

int
fst_replication_progress(const fst_site_t *home,
    const fst_site_t *replica, const char *bucket,
    fst_replica_progress_t *progress, char *err, size_t err_len)
{
    fst_s3_client_t   *ch, *cr = NULL;
    char               e[768];
    int                ready, rc = -1;

    memset(progress, 0, sizeof(*progress));
    ch = fst_replication_client(home, err, err_len);
    cr = ch ? fst_replication_client(replica, err, err_len) : NULL;
    if (cr == NULL) {
        goto done;
    }
    if (fst_replication_caught_up(ch, cr, bucket, &ready,
                                   &progress->missing, &progress->versions,
                                   NULL, e, sizeof(e)) != 0)
    {
        fst_replication_fail(err, err_len, "measuring progress", home,
                              replica, bucket, e);
        goto done;
    }
    rc = 0;
done:
    fst_s3_client_free(ch);
    fst_s3_client_free(cr);
    return rc;
}

/* ------------------------------------------------------------ lifecycle */

int
fst_replication_reachable(const fst_site_t *site,
    const char *bucket)
{
    fst_s3_client_t   *c;
    char               e[512];
    int                exists, rc;
    long               status;

    c = fst_replication_client(site, e, sizeof(e));
    if (c == NULL) {
        return 1;               /* a configuration problem, not an outage */
    }
    rc = fst_s3_bucket_exists(c, bucket, &exists, e, sizeof(e));
    status = fst_s3_last_status(c);
    fst_s3_client_free(c);
    /* no answer at all, or a store that answers but cannot serve (starting,
     * lost its quorum, a proxy in front of it that cannot reach it) */
    return !(rc != 0 && (status == 0 || status >= 500));
}

/* Rule IDs "fado-*" are ours (fst_replication_rule_id). */
static int
fst_replication_owned(const char *id)
{
    return strncmp(id, "fado-", 5) == 0;
}

/*
 * Remove the rules of ours on c's bucket that pick() selects, then the
 * targets they used (MinIO refuses to remove a target a rule still uses,
 * so rules first). *removed counts the rules.
 */
typedef int (*fst_replication_pick_fn)(const fst_replcfg_rule_info_t *r,
    void *ud);

static int
fst_replication_drop_rules(fst_s3_client_t *c, const char *bucket,
    const char *cur, fst_replication_pick_fn pick, void *ud,
    size_t *removed, char *err, size_t err_len)
{
    fst_replcfg_rule_info_t   *rules;
    char                      *doc = NULL, *next;
    int                        n, i, changed, any = 0, rc = -1;

    *removed = 0;
    rules = calloc(1000, sizeof(*rules));
    if (rules == NULL) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    n = fst_replcfg_list(cur, rules, 1000, err, err_len);
    if (n < 0) {
        goto done;
    }
    if (n > 1000) {
        n = 1000;
    }
    if (cur != NULL && (doc = strdup(cur)) == NULL) {
        snprintf(err, err_len, "out of memory");
        goto done;
    }
    for (i = 0; i < n; i++) {
        if (!fst_replication_owned(rules[i].id) || !pick(&rules[i], ud)) {
            rules[i].arn[0] = '\0';         /* not ours to remove */
            continue;
        }
        if (fst_replcfg_remove_id(doc, rules[i].id, &next, &changed,
                                           err, err_len) != 0)
        {
            goto done;
        }
        free(doc);
        doc = next;
        any |= changed;
        (*removed)++;
    }
    /* A target goes with our rules only when no rule left (an operator's)
     * still uses it. */
    if (doc != NULL) {
        fst_replcfg_rule_info_t   *left = calloc(1000, sizeof(*left));
        int                        nl;

        if (left == NULL) {
            snprintf(err, err_len, "out of memory");
            goto done;
        }
        nl = fst_replcfg_list(doc, left, 1000, err, err_len);
        for (i = 0; i < n; i++) {
            for (int k = 0; k < nl && k < 1000 && rules[i].arn[0]; k++) {
                if (strcmp(left[k].arn, rules[i].arn) == 0) {
                    rules[i].arn[0] = '\0';
                }
            }
        }
        free(left);
    }
    if (any && doc != NULL
        && fst_s3_bucket_config_put(c, bucket, "replication", doc, err,
                                     err_len) != 0)
    {
        goto done;
    }
    if (any && doc == NULL
        && fst_s3_bucket_config_delete(c, bucket, "replication", err,
                                        err_len) != 0)
    {
        goto done;
    }
    for (i = 0; i < n; i++) {
        if (rules[i].arn[0]
            && fst_madmin_target_remove(c, bucket, rules[i].arn, err,
                                         err_len) != 0)
        {
            goto done;
        }
    }
    rc = 0;
done:
    free(doc);
    free(rules);
    return rc;
}

static int
fst_replication_pick_all(const fst_replcfg_rule_info_t *r, void *ud)
{
    (void) r;
    (void) ud;
    return 1;
}

typedef struct {
    const char *const  *keep;
    size_t              n;
} fst_replication_keep_t;

static int
fst_replication_pick_stale(const fst_replcfg_rule_info_t *r, void *ud)
{
    fst_replication_keep_t  *k = ud;

    for (size_t i = 0; i < k->n; i++) {
        if (strcmp(r->id + 5, k->keep[i]) == 0) {
            return 0;
        }
    }
    return 1;
}

/* Whether one of our rules on c's bucket points at site (its target). */
static int
fst_replication_rule_towards(fst_s3_client_t *c, const char *cur,
    const fst_site_t *site, const char *bucket, int *yes,
    char *err, size_t err_len)
{
    fst_madmin_target_t   t;
    int                   present;

    *yes = 0;
    if (fst_replication_find_target(c, site, bucket, &t, &present, err,
                                     err_len) != 0)
    {
        return -1;
    }
    *yes = present && fst_replcfg_has(cur, t.arn);
    return 0;
}

int
fst_replication_release(const fst_site_t *site,
    const fst_site_t *drain_to, const char *bucket, int *draining,
    size_t *removed, char *err, size_t err_len)
{
    fst_s3_client_t   *c, *cd = NULL;
    char               e[768], *cur = NULL;
    int                exists, ready, towards, rc = -1;
    size_t             missing = 0, owned = 0;

    *draining = 0;
    *removed = 0;
    c = fst_replication_client(site, err, err_len);
    if (c == NULL) {
        return -1;
    }
    if (fst_s3_bucket_exists(c, bucket, &exists, e, sizeof(e)) != 0
        || (exists && fst_s3_bucket_config_get(c, bucket, "replication",
                                                &cur, e, sizeof(e)) != 0))
    {
        snprintf(err, err_len, "cluster \"%s\": releasing bucket \"%s\": %s",
                 site->cluster ? site->cluster : "?", bucket, e);
        goto done;
    }
    if (cur != NULL) {
        fst_replcfg_rule_info_t   rules[64];
        int                       n = fst_replcfg_list(cur, rules, 64,
                                                                e, sizeof(e));

        for (int i = 0; i < n && i < 64; i++) {
            owned += fst_replication_owned(rules[i].id) ? 1 : 0;
        }
        if (n > 64) {
            owned = 1;          /* more than we looked at: there may be */
        }
    }
    if (owned == 0) {
        rc = 0;                 /* nothing of ours replicates out of it */
        goto done;
    }
    /* What this copy holds must be on the new home before the rules that
     * carry it there go: a version written here a moment before the home
     * moved may still be on its way. */
    if (drain_to != NULL) {
        cd = fst_replication_client(drain_to, err, err_len);
        if (cd == NULL) {
            goto done;
        }
        if (fst_replication_caught_up(c, cd, bucket, &ready, &missing, NULL,
                                       NULL, e, sizeof(e)) != 0)
        {
            fst_replication_fail(err, err_len, "draining to the home", site,
                                  drain_to, bucket, e);
            goto done;
        }
        if (!ready) {
            if (fst_replication_rule_towards(c, cur, drain_to, bucket,
                                              &towards, e, sizeof(e)) != 0)
            {
                fst_replication_fail(err, err_len, "draining to the home",
                                      site, drain_to, bucket, e);
                goto done;
            }
            if (!towards) {
                char  why[256];

                snprintf(why, sizeof(why), "%zu version(s) here are not on the "
                         "home and no rule of ours replicates them there; the "
                         "rules stay until they are", missing);
                fst_replication_fail(err, err_len, "draining to the home",
                                      site, drain_to, bucket, why);
                goto done;
            }
            *draining = 1;
            rc = 0;
            goto done;
        }
    }
    if (fst_replication_drop_rules(c, bucket, cur, fst_replication_pick_all,
                                    NULL, removed, e, sizeof(e)) != 0)
    {
        snprintf(err, err_len, "cluster \"%s\": removing its replication "
                 "rules for bucket \"%s\": %s",
                 site->cluster ? site->cluster : "?", bucket, e);
        goto done;
    }
    rc = 0;
done:
    free(cur);
    fst_s3_client_free(c);
    fst_s3_client_free(cd);
    return rc;
}

int
fst_replication_prune(const fst_site_t *home, const char *bucket,
    const char *const *keep, size_t n_keep, size_t *removed, char *err,
    size_t err_len)
{
    fst_s3_client_t          *c;
    fst_replication_keep_t    k = { keep, n_keep };
    char                      e[768], *cur = NULL;
    int                       rc = -1;

    *removed = 0;
    c = fst_replication_client(home, err, err_len);
    if (c == NULL) {
        return -1;
    }
    if (fst_s3_bucket_config_get(c, bucket, "replication", &cur, e,
                                  sizeof(e)) != 0
        || (cur != NULL
            && fst_replication_drop_rules(c, bucket, cur,
                                           fst_replication_pick_stale, &k,
                                           removed, e, sizeof(e)) != 0))
    {
        snprintf(err, err_len, "cluster \"%s\": pruning the replication "
                 "rules of bucket \"%s\": %s",
                 home->cluster ? home->cluster : "?", bucket, e);
        goto done;
    }
    rc = 0;
done:
    free(cur);
    fst_s3_client_free(c);
    return rc;
}

/* ------------------------------------------------------------ purge */

typedef struct {
    fst_s3_entry_t   e[1000];
    char            *keys[1000];
    char            *vids[1000];
    size_t           n;
    int              nomem;
} fst_replication_batch_t;

static void
fst_replication_batch_clear(fst_replication_batch_t *b)
{
    size_t  i;

    for (i = 0; i < b->n; i++) {
        free(b->keys[i]);
        free(b->vids[i]);
    }
    b->n = 0;
}

static int
fst_replication_batch_add(void *ud, const fst_s3_entry_t *e)
{
    fst_replication_batch_t   *b = ud;
    size_t                     i = b->n;

    b->keys[i] = strdup(e->key);
    b->vids[i] = strdup(e->version_id ? e->version_id : "");
    if (b->keys[i] == NULL || b->vids[i] == NULL) {
        free(b->keys[i]);
        free(b->vids[i]);
        b->nomem = 1;
        return 1;
    }
    memset(&b->e[i], 0, sizeof(b->e[i]));
    b->e[i].key = b->keys[i];
    b->e[i].version_id = b->vids[i];
    b->n++;
    return b->n == 1000;        /* a full batch: stop listing, delete it */
}

int
fst_replication_purge(const fst_site_t *site, const char *bucket,
    size_t *deleted, char *err, size_t err_len)
{
    fst_s3_client_t           *c;
    fst_replication_batch_t   *b = NULL;
    char                       e[768], *cfg = NULL;
    int                        exists, rc = -1;

    *deleted = 0;
    c = fst_replication_client(site, err, err_len);
    if (c == NULL) {
        return -1;
    }
    if (fst_s3_bucket_exists(c, bucket, &exists, e, sizeof(e)) != 0) {
        goto fail;
    }
    if (!exists) {
        rc = 0;
        goto done;
    }
    if (fst_s3_bucket_config_get(c, bucket, "replication", &cfg, e,
                                  sizeof(e)) != 0)
    {
        goto fail;
    }
    if (cfg != NULL) {
        snprintf(err, err_len, "cluster \"%s\": bucket \"%s\" replicates to "
                 "other clusters (it is a home); stop its replication before "
                 "deleting its data", site->cluster ? site->cluster : "?",
                 bucket);
        goto done;
    }
    b = calloc(1, sizeof(*b));
    if (b == NULL) {
        snprintf(e, sizeof(e), "out of memory");
        goto fail;
    }
    for (;;) {
        if (fst_s3_list_versions(c, bucket, NULL, fst_replication_batch_add,
                                  b, e, sizeof(e)) != 0)
        {
            goto fail;
        }
        if (b->nomem) {
            snprintf(e, sizeof(e), "out of memory");
            goto fail;
        }
        if (b->n == 0) {
            break;
        }
        if (fst_s3_objects_delete(c, bucket, b->e, b->n, e, sizeof(e))
            != 0)
        {
            goto fail;
        }
        *deleted += b->n;
        fst_replication_batch_clear(b);
    }
    if (fst_s3_bucket_delete(c, bucket, e, sizeof(e)) != 0) {
        goto fail;
    }
    rc = 0;
    goto done;
fail:
    snprintf(err, err_len, "cluster \"%s\": deleting bucket \"%s\": %s",
             site->cluster ? site->cluster : "?", bucket, e);
done:
    if (b) {
        fst_replication_batch_clear(b);
        free(b);
    }
    free(cfg);
    fst_s3_client_free(c);
    return rc;
}
