/*
 * fado_policy: the policy names the controller accepts (API and import),
 * and the route record token each one is published as. The tokens
 * themselves are the route contract's (lib/route/frc_record.c, shared with
 * the gateway); this table adds FaDO's (Caddy's) names as aliases, so an
 * imported FaDO configuration keeps its meaning (docs/controller.md,
 * "Policies"), and says why the few without an equivalent are refused.
 */

#ifndef FADO_POLICY_H
#define FADO_POLICY_H

#include "frc_record.h"

/* What a 400 says the accepted names are: the contract's tokens (from its
 * one list), then the FaDO names of fado_policy.c. */
#define FADO_POLICY_NAMES \
    FRC_POLICY_LIST "or FaDO's round_robin," \
    " weighted_round_robin, least_conn, random_choose, ip_hash, uri_hash"

/*
 * The record token for a policy name: a contract token as it is, a FaDO
 * name mapped (round_robin, weighted_round_robin -> rr, least_conn -> lc,
 * random_choose -> p2c, ip_hash and uri_hash -> chash). NULL when the name
 * is neither; then *why (if why is not NULL) says why not.
 */
const char *fado_policy_lookup(const char *name, const char **why);

/* fado_policy_lookup without the reason. */
const char *fado_policy_token(const char *name);

#endif /* FADO_POLICY_H */
