/*
 * fado_api_copies: the HTTP side of released copies (fado_lifecycle.c).
 *
 *   GET    /v1/buckets/{b}/copies                    copies kept on clusters that left
 *   GET    /v1/buckets/{b}/copies/{cluster}          one of them
 *   DELETE /v1/buckets/{b}/copies/{cluster}?confirm={b}
 *          delete that copy's data (202; a job does it, then the record goes)
 */

#include "fado_api.h"
#include "fado_jobs.h"
#include "fado_lifecycle.h"
#include "fado_reconcile.h"

#include <stdio.h>
#include <string.h>

int
fado_api_copies_path(const char *path, char *bucket, size_t bsize, char *cluster,
    size_t csize)
{
    const char  *p, *slash, *rest;

    if (strncmp(path, "/v1/buckets/", 12) != 0) {
        return 0;
    }
    p = path + 12;
    slash = strchr(p, '/');
    if (slash == NULL || slash == p || (size_t) (slash - p) >= bsize
        || strncmp(slash, "/copies", 7) != 0 || (slash[7] != '\0' && slash[7] != '/'))
    {
        return 0;
    }
    rest = slash[7] == '/' ? slash + 8 : "";
    if (strchr(rest, '/') != NULL || strlen(rest) >= csize) {
        return 0;
    }
    memcpy(bucket, p, (size_t) (slash - p));
    bucket[slash - p] = '\0';
    snprintf(cluster, csize, "%s", rest);
    return 1;
}

/* The deletion destroys data: the request must repeat the bucket's name. */
static void
fado_api_copy_delete(fado_req_t *req, const char *bucket, const char *cluster)
{
    const char  *confirm = fado_req_arg(req, "confirm");
    fado_err_t   err;
    json_t      *j;

    if (confirm == NULL || strcmp(confirm, bucket) != 0) {
        fado_req_error(req, 400, confirm == NULL ? "missing_field" : "invalid_field", "confirm",
                       "deleting the copy of bucket \"%s\" on cluster \"%s\" destroys its data:"
                       " repeat the request with ?confirm=%s", bucket, cluster, bucket);
        return;
    }
    if (fado_lifecycle_copy_delete(req->conn, bucket, cluster, &err) != 0) {
        fado_api_err(req, &err);
        return;
    }
    fado_jobs_wake(fado_reconciler_jobs(req->app->rec));
    j = fado_lifecycle_copies_json(req->conn, bucket, cluster, &err);
    if (j == NULL && err.kind != FADO_ERR_NOT_FOUND) {
        fado_api_err(req, &err);
        return;
    }
    if (j == NULL) {
        /* the job was quicker than this answer */
        j = json_pack("{s:s, s:s, s:s}", "bucket", bucket, "cluster", cluster,
                      "state", "deleted");
    }
    json_decref(req->json);
    req->json = j;
    req->status = 202;
}

void
fado_api_copies(fado_req_t *req, const char *bucket, const char *cluster)
{
    fado_err_t  err;
    json_t     *j;

    if (cluster[0] != '\0' && strcmp(req->method, "DELETE") == 0) {
        fado_api_copy_delete(req, bucket, cluster);
        return;
    }
    if (strcmp(req->method, "GET") != 0) {
        fado_req_error(req, 405, "method_not_allowed", NULL,
                       "copies are read with GET and deleted with DELETE on their cluster");
        return;
    }
    j = fado_lifecycle_copies_json(req->conn, bucket, cluster, &err);
    if (j == NULL) {
        fado_api_err(req, &err);
        return;
    }
    json_decref(req->json);
    req->json = j;
    req->status = 200;
}
