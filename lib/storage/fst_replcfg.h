/*
 * fado bucket replication configuration: read, merge and write MinIO's
 * ReplicationConfiguration XML. fado owns one rule per replica target
 * (ID "fado-<cluster>", destination the target's ARN) with delete-marker,
 * delete and existing-object replication on; rules it does not own are
 * kept byte for byte.
 */

#ifndef FST_REPLCFG_H
#define FST_REPLCFG_H

#include <stddef.h>

typedef struct {
    const char  *id;            /* rule ID, e.g. "fado-eu-1" */
    const char  *arn;           /* destination: the remote target's ARN */
    int          priority;      /* unique within the bucket's rules */
} fst_replcfg_rule_t;

/*
 * Merge rule into existing (NULL or "" when the bucket has none): any rule
 * with the same ID or destination is replaced. *out is the new document
 * (malloc'd) and *changed 0 when existing already holds an equivalent rule
 * (then there is nothing to write). Fails, naming it, if a rule fado does
 * not own has the same priority.
 */
int fst_replcfg_merge(const char *existing,
    const fst_replcfg_rule_t *rule, char **out, int *changed,
    char *err, size_t err_len);

/*
 * Remove the rule towards arn. *out is the remaining document, or NULL
 * when no rule remains (delete the configuration then); *changed 0 when
 * there was no such rule.
 */
int fst_replcfg_remove(const char *existing, const char *arn,
    char **out, int *changed, char *err, size_t err_len);

/* The same for the rule with that ID only (other rules towards its
 * destination stay). */
int fst_replcfg_remove_id(const char *existing, const char *id,
    char **out, int *changed, char *err, size_t err_len);

/* 1 if existing has an enabled rule towards arn, else 0. */
int fst_replcfg_has(const char *existing, const char *arn);

/* A rule as a configuration holds it. */
typedef struct {
    char  id[256];
    char  arn[512];
    int   priority;
    int   enabled;
} fst_replcfg_rule_info_t;

/*
 * The rules of existing (NULL or "": none) into rules[0..max-1]. Returns
 * how many the document holds (more than max: only max are filled), or -1
 * with err.
 */
int fst_replcfg_list(const char *existing,
    fst_replcfg_rule_info_t *rules, int max, char *err, size_t err_len);

/*
 * The priority to give the rule (id, arn) so that merging it into existing
 * touches no other rule and repeats nothing: the priority it already has
 * there when no other rule uses it, else wanted when it is free, else the
 * lowest free one. MinIO wants priorities unique within a bucket, and the
 * rules of one bucket come and go in any order (a cluster leaves, another
 * comes back), so a priority computed elsewhere can always collide.
 */
int fst_replcfg_priority(const char *existing, const char *id,
    const char *arn, int wanted, int *priority, char *err, size_t err_len);

#endif /* FST_REPLCFG_H */
