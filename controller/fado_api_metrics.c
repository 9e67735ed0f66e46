/*
 * fado_api_metrics: GET /metrics, the Prometheus text exposition of the
 * platform's counts and the controller's counters.
 */

#include "fado_api.h"
#include "fado_events.h"
#include "fado_jobs.h"
#include "fado_reconcile.h"
#include "fado_resolve.h"
#include "fst_s3_client.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

void
fado_api_metrics(fado_req_t *req)
{
    PGresult  *res;
    FILE      *out;
    char      *text = NULL;
    size_t     len = 0;
    int        bad;

    res = fado_api_query(req,
        "SELECT (SELECT count(*) FROM buckets), (SELECT count(*) FROM clusters),"
        "       (SELECT count(*) FROM clusters WHERE NOT healthy),"
        "       (SELECT count(*) FROM published_routes WHERE bucket <> ''),"
        "       (SELECT coalesce(max(version), 0) FROM published_routes),"
        "       (SELECT count(*) FILTER (WHERE state = 'pending') FROM replicas),"
        "       (SELECT count(*) FILTER (WHERE state = 'syncing') FROM replicas),"
        "       (SELECT count(*) FILTER (WHERE state = 'ready') FROM replicas),"
        "       (SELECT count(*) FILTER (WHERE state = 'removing') FROM replicas),"
        "       (SELECT count(*) FILTER (WHERE state = 'failed') FROM replicas),"
        "       (SELECT count(*) FROM jobs WHERE state = 'queued'),"
        "       (SELECT count(*) FROM jobs WHERE state = 'running'),"
        "       (SELECT count(*) FROM jobs WHERE attempts > 0),"
        "       (SELECT count(*) FROM objects),"
        "       (SELECT count(*) FROM dirty_buckets) + (SELECT count(*) FROM dirty_clusters)",
        0, NULL);
    if (res == NULL) {
        return;
    }
    /* A memory stream grows with the text, so a new metric or a long value
     * can never be cut off the way appends into a fixed buffer could. */
    out = open_memstream(&text, &len);
    if (out == NULL) {
        PQclear(res);
        fado_req_error(req, 500, "internal", NULL, "out of memory");
        return;
    }
    fprintf(out,
        "# TYPE fado_buckets gauge\nfado_buckets %s\n"
        "# TYPE fado_clusters gauge\nfado_clusters %s\n"
        "# TYPE fado_clusters_down gauge\nfado_clusters_down %s\n"
        "# TYPE fado_routes_published gauge\nfado_routes_published %s\n"
        "# TYPE fado_routes_version gauge\nfado_routes_version %s\n"
        "# TYPE fado_replicas gauge\n",
        PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2),
        PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 4));
    {
        static const char *const  states[] = { "pending", "syncing", "ready", "removing", "failed" };
        for (int i = 0; i < 5; i++) {
            fprintf(out, "fado_replicas{state=\"%s\"} %s\n", states[i],
                                     PQgetvalue(res, 0, 5 + i));
        }
    }
    fprintf(out,
        "# TYPE fado_redis_publish_ok gauge\nfado_redis_publish_ok %d\n"
        "# TYPE fado_reconcile_passes_total counter\nfado_reconcile_passes_total %lu\n"
        "# TYPE fado_leader gauge\nfado_leader %d\n"
        "# TYPE fado_changes_pending gauge\nfado_changes_pending %s\n",
        fado_reconciler_redis_ok(req->app->rec), fado_reconciler_passes(req->app->rec),
        fado_reconciler_leading(req->app->rec), PQgetvalue(res, 0, 14));
    {
        unsigned long  done, failed, received, rejected;
        uint64_t       sent, recvd, osent, orecvd;

        fado_jobs_counters(fado_reconciler_jobs(req->app->rec), &done, &failed);
        fado_events_counters(&received, &rejected);
        fst_s3_traffic(&sent, &recvd);
        fst_s3_object_traffic(&osent, &orecvd);
        /* Bodies the controller's own S3 clients exchanged with MinIO, and
         * the object data among them: API uploads and downloads only;
         * replication moves none (MinIO does it). */
        fprintf(out,
            "# TYPE fado_jobs gauge\nfado_jobs{state=\"queued\"} %s\n"
            "fado_jobs{state=\"running\"} %s\nfado_jobs{state=\"retrying\"} %s\n"
            "# TYPE fado_jobs_done_total counter\nfado_jobs_done_total %lu\n"
            "# TYPE fado_jobs_failed_total counter\nfado_jobs_failed_total %lu\n"
            "# TYPE fado_objects_indexed gauge\nfado_objects_indexed %s\n"
            "# TYPE fado_events_received_total counter\nfado_events_received_total %lu\n"
            "# TYPE fado_events_rejected_total counter\nfado_events_rejected_total %lu\n"
            "# TYPE fado_storage_bytes_sent_total counter\nfado_storage_bytes_sent_total %llu\n"
            "# TYPE fado_storage_bytes_received_total counter\n"
            "fado_storage_bytes_received_total %llu\n"
            "# TYPE fado_object_bytes_sent_total counter\nfado_object_bytes_sent_total %llu\n"
            "# TYPE fado_object_bytes_received_total counter\n"
            "fado_object_bytes_received_total %llu\n",
            PQgetvalue(res, 0, 10), PQgetvalue(res, 0, 11), PQgetvalue(res, 0, 12),
            done, failed, PQgetvalue(res, 0, 13), received, rejected,
            (unsigned long long) sent, (unsigned long long) recvd,
            (unsigned long long) osent, (unsigned long long) orecvd);
    }
    PQclear(res);
    {
        char  resolver[512];

        fado_resolve_metrics(resolver, sizeof(resolver));
        fputs(resolver, out);
    }
    bad = ferror(out);
    if (fclose(out) != 0 || bad) {
        free(text);
        fado_req_error(req, 500, "internal", NULL, "out of memory");
        return;
    }
    req->text = text;
    req->content_type = "text/plain; version=0.0.4";
    req->status = 200;
}
