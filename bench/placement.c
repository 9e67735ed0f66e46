/*
 * Placement recomputation benchmark: 10,000 buckets over 100 clusters in 5
 * zones (3 replicas, each bucket allowed in 3 zones, a pin for one bucket in
 * ten). Prints CSV: buckets, clusters, runs, best_ms, median_ms.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fado_placement.h"

#define N_CLUSTERS  100
#define N_BUCKETS   10000
#define RUNS        15

static double
now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

int
main(void)
{
    static fado_placement_cluster_t  clusters[N_CLUSTERS];
    static char                      cnames[N_CLUSTERS][24], bnames[N_BUCKETS][24];
    static const char               *zones[5] = { "eu", "us", "asia", "sa", "af" };
    double                           t[RUNS];
    size_t                           placed = 0;

    for (int i = 0; i < N_CLUSTERS; i++) {
        snprintf(cnames[i], sizeof(cnames[i]), "cluster-%03d", i);
        clusters[i] = (fado_placement_cluster_t) { cnames[i], zones[i % 5], i % 17 != 0, 1, NULL, 0 };
    }
    for (int b = 0; b < N_BUCKETS; b++) {
        snprintf(bnames[b], sizeof(bnames[b]), "bucket-%05d", b);
    }

    for (int r = 0; r < RUNS; r++) {
        double  start = now_ms();

        placed = 0;
        for (int b = 0; b < N_BUCKETS; b++) {
            const char               *allowed[3] = { zones[b % 5], zones[(b + 1) % 5],
                                                     zones[(b + 2) % 5] };
            const char               *pin[1] = { cnames[(b * 7 + 1) % N_CLUSTERS] };
            fado_placement_request_t  req = {
                bnames[b], cnames[(b * 5) % N_CLUSTERS], allowed, 3,
                pin, (b % 10 == 0 && (b * 7 + 1) % 5 == b % 5) ? 1 : 0, 3, 0
            };
            fado_placement_result_t   res;

            fado_placement_compute(&req, clusters, N_CLUSTERS, &res);
            placed += res.n;
        }
        t[r] = now_ms() - start;
    }
    qsort(t, RUNS, sizeof(double), cmp_double);
    printf("buckets,clusters,replicas_placed,runs,best_ms,median_ms\n");
    printf("%d,%d,%zu,%d,%.2f,%.2f\n", N_BUCKETS, N_CLUSTERS, placed, RUNS, t[0], t[RUNS / 2]);
    return 0;
}
