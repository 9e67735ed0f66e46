/*
 * Placement: constraints (zones, pins, counts, health, storage), the
 * reasons given when a policy cannot be met, determinism, and the stability
 * that rendezvous hashing promises.
 */

#include "tap.h"

#include <stdio.h>
#include <string.h>

#include "fado_placement.h"

static fado_placement_cluster_t  three[] = {
    { "eu-1", "eu", 1, 1, NULL, 0 }, { "us-1", "us", 1, 1, NULL, 0 },
    { "asia-1", "asia", 1, 1, NULL, 0 },
};

static int
chosen(const fado_placement_result_t *r, const fado_placement_cluster_t *cs,
    const char *name)
{
    for (size_t i = 0; i < r->n; i++) {
        if (strcmp(cs[r->chosen[i]].name, name) == 0) {
            return 1;
        }
    }
    return 0;
}

static void
test_constraints(void)
{
    fado_placement_result_t   r;
    const char               *eu_us[] = { "eu", "us" };
    const char               *asia[] = { "asia" };
    const char               *pin_asia[] = { "asia-1" };
    fado_placement_request_t  req = { "photos", "eu-1", NULL, 0, NULL, 0, 1, 0 };

    fado_placement_compute(&req, three, 3, &r);
    ok(r.satisfiable && r.n == 1 && chosen(&r, three, "eu-1"),
       "one replica: the home cluster only");

    req.replicas = 3;
    fado_placement_compute(&req, three, 3, &r);
    ok(r.satisfiable && r.n == 3, "three replicas over three clusters");
    is_str(three[r.chosen[0]].name, "eu-1", "home is listed first");

    req.allowed_zones = eu_us;
    req.n_allowed_zones = 2;
    req.replicas = 2;
    fado_placement_compute(&req, three, 3, &r);
    ok(r.satisfiable && r.n == 2 && chosen(&r, three, "us-1")
       && !chosen(&r, three, "asia-1"), "allowed zones eu,us: never asia");

    req.replicas = 3;
    fado_placement_compute(&req, three, 3, &r);
    ok(!r.satisfiable, "three replicas in two zones' clusters is unsatisfiable");
    ok(r.n == 2 && !chosen(&r, three, "asia-1"),
       "unsatisfiable keeps the constraint: nothing outside the zones");
    ok(strstr(r.reason, "only 2 eligible clusters") != NULL,
       "the reason says how many clusters were eligible: %s", r.reason);

    req.allowed_zones = asia;
    req.n_allowed_zones = 1;
    req.replicas = 1;
    fado_placement_compute(&req, three, 3, &r);
    ok(!r.satisfiable && strstr(r.reason, "home cluster \"eu-1\" is outside")
       != NULL, "a home outside the allowed zones is reported: %s", r.reason);

    req.allowed_zones = NULL;
    req.n_allowed_zones = 0;
    req.pinned = pin_asia;
    req.n_pinned = 1;
    req.replicas = 2;
    fado_placement_compute(&req, three, 3, &r);
    ok(r.satisfiable && r.n == 2 && chosen(&r, three, "asia-1"),
       "a pinned cluster is always a replica");

    req.replicas = 1;
    fado_placement_compute(&req, three, 3, &r);
    ok(!r.satisfiable && strstr(r.reason, "exceed the replica count") != NULL,
       "home plus pins above the count is reported: %s", r.reason);

    {
        fado_placement_cluster_t  sick[] = {
            { "eu-1", "eu", 1, 1, NULL, 0 }, { "us-1", "us", 0, 1, NULL, 0 },
            { "asia-1", "asia", 1, 0, NULL, 0 },
        };
        fado_placement_request_t  r2 = { "photos", "eu-1", NULL, 0, NULL, 0, 2, 0 };

        fado_placement_compute(&r2, sick, 3, &r);
        ok(!r.satisfiable && r.n == 1,
           "unhealthy and storage-less clusters are not eligible");
    }

    {
        const char  *pin_none[] = { "mars-1" };
        fado_placement_request_t  r3 = { "photos", "eu-1", NULL, 0, pin_none, 1, 2, 0 };

        fado_placement_compute(&r3, three, 3, &r);
        ok(!r.satisfiable && strstr(r.reason, "\"mars-1\" does not exist") != NULL,
           "an unknown pinned cluster is reported");
    }
}

#define N_BUCKETS  4000

static void
test_stability(void)
{
    static fado_placement_cluster_t  cs[11];
    static char                      names[11][24];
    static size_t                    before[N_BUCKETS][2], after[N_BUCKETS][2];
    fado_placement_result_t          r;
    char                             bucket[32];
    int                              moved = 0, deterministic = 1, foreign = 0;

    for (int i = 0; i < 11; i++) {
        snprintf(names[i], sizeof(names[i]), "cluster-%02d", i);
        cs[i] = (fado_placement_cluster_t) { names[i], "z", 1, 1, NULL, 0 };
    }

    /* Home is a fixed cluster-00 so the ranked replica is what moves. */
    for (int b = 0; b < N_BUCKETS; b++) {
        fado_placement_request_t  req = { bucket, "cluster-00", NULL, 0, NULL, 0, 2, 0 };

        snprintf(bucket, sizeof(bucket), "bucket-%05d", b);
        fado_placement_compute(&req, cs, 10, &r);
        before[b][1] = r.chosen[1];
        fado_placement_compute(&req, cs, 10, &r);
        deterministic &= r.chosen[1] == before[b][1];
        fado_placement_compute(&req, cs, 11, &r);
        after[b][1] = r.chosen[1];
        if (after[b][1] != before[b][1]) {
            moved++;
            foreign += after[b][1] != 10;
        }
    }
    ok(deterministic, "the same input gives the same placement");
    /* The 11th cluster should win 1/10 of the 9 non-home ranks' buckets:
     * expected 400 of 4000; allow 25% either way. */
    ok(moved > 300 && moved < 500,
       "adding an 11th cluster moves about 1/10 of the ranked replicas (%d of %d)",
       moved, N_BUCKETS);
    is_int(foreign, 0, "every moved replica moved to the new cluster");

    moved = 0;
    for (int b = 0; b < N_BUCKETS; b++) {
        fado_placement_request_t  req = { bucket, "cluster-00", NULL, 0, NULL, 0, 2, 0 };
        fado_placement_cluster_t  without[10];
        int                       k = 0;

        for (int i = 0; i < 11; i++) {
            if (i != 5) {
                without[k++] = cs[i];
            }
        }
        snprintf(bucket, sizeof(bucket), "bucket-%05d", b);
        fado_placement_compute(&req, without, 10, &r);
        if (strcmp(without[r.chosen[1]].name, cs[after[b][1]].name) != 0
            && after[b][1] != 5)
        {
            moved++;
        }
    }
    is_int(moved, 0, "removing a cluster moves only the replicas it held");
}

/* FaDO's clusters: zones [global, zone-N]; eligible when ANY zone is allowed. */
static void
test_zones_and_cap(void)
{
    static const char *const  z1[] = { "global", "zone-1" }, *const z2[] = { "global", "zone-2" },
                              *const z3[] = { "global", "zone-3" };
    fado_placement_cluster_t  fado[] = {
        { "cluster-1", "global", 1, 1, z1, 2 }, { "cluster-2", "global", 1, 1, z2, 2 },
        { "cluster-3", "global", 1, 1, z3, 2 },
    };
    const char               *global[] = { "global" }, *zone2[] = { "zone-2" };
    fado_placement_result_t   r;
    fado_placement_request_t  req = { "global", "cluster-1", global, 1, NULL, 0, 5, 0 };

    fado_placement_compute(&req, fado, 3, &r);
    ok(!r.satisfiable && r.n == 3, "five replicas over three clusters: unsatisfiable by default");

    req.cap = 1;
    fado_placement_compute(&req, fado, 3, &r);
    ok(r.satisfiable && r.capped && r.n == 3,
       "with FaDO's cap: satisfiable, capped at the three clusters (%zu)", r.n);

    req.replicas = 3;
    fado_placement_compute(&req, fado, 3, &r);
    ok(r.satisfiable && !r.capped && r.n == 3, "three asked, three given: not capped");

    req.allowed_zones = zone2;
    req.replicas = 2;
    req.cap = 0;
    fado_placement_compute(&req, fado, 3, &r);
    ok(!r.satisfiable, "strict: a home outside the allowed zones is unsatisfiable");

    req.cap = 1;
    fado_placement_compute(&req, fado, 3, &r);
    ok(r.satisfiable && r.n == 2 && chosen(&r, fado, "cluster-1") && chosen(&r, fado, "cluster-2")
       && !chosen(&r, fado, "cluster-3"),
       "FaDO: the home stays where the data is, the replica goes to the zone-2 cluster");

    req.replicas = 3;
    fado_placement_compute(&req, fado, 3, &r);
    ok(r.satisfiable && r.capped && r.n == 2 && !chosen(&r, fado, "cluster-3"),
       "capped at what zone-2 allows, never outside it");

    ok(fado_placement_zones_allowed(zone2, 1, &fado[1])
       && !fado_placement_zones_allowed(zone2, 1, &fado[0]),
       "a cluster is in a zone when any of its zones is that zone");
}

int
main(void)
{
    test_constraints();
    test_stability();
    test_zones_and_cap();
    return done_testing();
}
