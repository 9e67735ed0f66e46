/*
 * The routing table on disk (`fado_shm_zone ... state=path`), so that a
 * gateway started while Redis is unreachable serves the last table it had
 * instead of nothing.
 *
 * The sync owner writes the file a moment after changes (batched, never per
 * update) to "path.tmp" and renames it over "path", so a reader sees either
 * the old file or the new one. A fresh zone (nginx started, not reloaded)
 * loads it before any worker runs; Redis, once reachable, is the truth
 * again: the first resync replaces what the file gave.
 *
 * Format: ASCII lines, interned endpoint sets and cluster lists written once
 * and referred to by their ordinal, so a million routes cost a few tens of
 * megabytes:
 *
 *   fado-snapshot 1 <table version>
 *   H <bucket_header>                          (when one is published)
 *   C <cluster> <C2 record>
 *   S <endpoint text, contract 1>
 *   G <cluster list, contract 2>
 *   R <bucket> <version> <policy> S<n> | G<n>
 *   D <version> <policy> S<n> | G<n>          (the default route)
 *   end <crc32 of all lines above, hex> <number of lines above>
 *
 * A file whose checksum, line count or any line fails is ignored as a
 * whole, with an error line: a damaged file never routes a request.
 */

#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_fado_table.h"


#define NGX_HTTP_FADO_STATE_BUF   65536
#define NGX_HTTP_FADO_STATE_MAGIC "fado-snapshot 1 "


typedef struct {
    ngx_fd_t     fd;
    uint32_t     crc;
    ngx_uint_t   lines;
    ngx_int_t    err;
    u_char      *pos;
    u_char       buf[NGX_HTTP_FADO_STATE_BUF];
} ngx_http_fado_state_out_t;


static ngx_http_fado_state_out_t  ngx_http_fado_state_out;


static void
ngx_http_fado_state_flush(ngx_http_fado_state_out_t *o)
{
    ssize_t  n;
    size_t   len;

    len = o->pos - o->buf;

    if (len && o->err == 0) {
        n = ngx_write_fd(o->fd, o->buf, len);
        if (n != (ssize_t) len) {
            o->err = n == -1 ? ngx_errno : NGX_ENOSPC;
        }
    }

    o->pos = o->buf;
}


/* Appends bytes to the current line. */
static void
ngx_http_fado_state_put(ngx_http_fado_state_out_t *o, u_char *p, size_t len)
{
    size_t  n;

    ngx_crc32_update(&o->crc, p, len);

    while (len) {
        if (o->pos == o->buf + NGX_HTTP_FADO_STATE_BUF) {
            ngx_http_fado_state_flush(o);
        }

        n = ngx_min(len, (size_t) (o->buf + NGX_HTTP_FADO_STATE_BUF - o->pos));
        o->pos = ngx_cpymem(o->pos, p, n);
        p += n;
        len -= n;
    }
}


/* A line made of a head and a tail of any length, and its newline. */
static void
ngx_http_fado_state_line2(ngx_http_fado_state_out_t *o, u_char *head,
    u_char *head_end, u_char *tail, size_t tail_len)
{
    ngx_http_fado_state_put(o, head, head_end - head);
    ngx_http_fado_state_put(o, tail, tail_len);
    ngx_http_fado_state_put(o, (u_char *) "\n", 1);
    o->lines++;
}


static void
ngx_http_fado_state_line(ngx_http_fado_state_out_t *o, u_char *p, size_t len)
{
    ngx_http_fado_state_line2(o, p, p + len, NULL, 0);
}


static void
ngx_http_fado_state_route(ngx_http_fado_state_out_t *o,
    ngx_http_fado_route_t *r)
{
    u_char  head[256], *p;

    p = head;

    if (r->len) {
        p = ngx_sprintf(p, "R %*s ", (size_t) r->len, r->name);

    } else {
        p = ngx_sprintf(p, "D ");
    }

    p = ngx_sprintf(p, "%uL %s ", r->version,
                    frc_record_policy_name(r->policy));

    if (r->group) {
        p = ngx_sprintf(p, "G%uD", r->group->snap_id);

    } else {
        p = ngx_sprintf(p, "S%uD", r->set->snap_id);
    }

    ngx_http_fado_state_line(o, head, p - head);
}


ngx_int_t
ngx_http_fado_state_write(ngx_http_fado_table_t *t, ngx_log_t *log)
{
    u_char                     *p, head[256 + FRC_NAME_MAX
                                            + FRC_ZONES_MAX];
    uint32_t                    id;
    ngx_msec_t                  start;
    ngx_uint_t                  i;
    ngx_http_fado_shm_t        *sh;
    ngx_http_fado_set_t        *set;
    ngx_http_fado_group_t      *g;
    ngx_http_fado_route_t      *r;
    ngx_http_fado_cluster_t    *c;
    ngx_http_fado_state_out_t  *o;

    sh = t->sh;
    o = &ngx_http_fado_state_out;

    ngx_time_update();
    start = ngx_current_msec;

    o->fd = ngx_open_file(t->state_tmp.data, NGX_FILE_WRONLY,
                          NGX_FILE_TRUNCATE, NGX_FILE_DEFAULT_ACCESS);
    if (o->fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "fado: cannot write the table to \"%V\"",
                      &t->state_tmp);
        sh->state_errors++;
        return NGX_ERROR;
    }

    ngx_crc32_init(o->crc);
    o->lines = 0;
    o->err = 0;
    o->pos = o->buf;

    /* the owner is the only writer; the lock keeps a new owner waiting */
    ngx_rwlock_rlock(&sh->lock);

    p = ngx_sprintf(head, NGX_HTTP_FADO_STATE_MAGIC "%uL", sh->version);
    ngx_http_fado_state_line(o, head, p - head);

    if (sh->bucket_header_len) {
        ngx_http_fado_state_line2(o, (u_char *) "H ", (u_char *) "H " + 2,
                                  sh->bucket_header, sh->bucket_header_len);
    }

    for (i = 0; i < sh->ncluster_slots; i++) {
        for (c = sh->cluster_slots[i]; c; c = c->next) {
            p = ngx_sprintf(head, "C %*s C2 %uL %*s %s%s",
                            (size_t) c->len, c->name, c->version,
                            (size_t) c->zone_len, c->zone,
                            c->up ? "up" : "down", c->text_len ? " " : "");
            ngx_http_fado_state_line2(o, head, p, c->text, c->text_len);
        }
    }

    id = 0;

    for (i = 0; i < sh->nset_slots; i++) {
        for (set = sh->set_slots[i]; set; set = set->next) {
            set->snap_id = id++;
            ngx_http_fado_state_line2(o, (u_char *) "S ",
                                      (u_char *) "S " + 2, set->key,
                                      set->key_len);
        }
    }

    id = 0;

    for (i = 0; i < sh->ngroup_slots; i++) {
        for (g = sh->group_slots[i]; g; g = g->next) {
            g->snap_id = id++;
            ngx_http_fado_state_line2(o, (u_char *) "G ",
                                      (u_char *) "G " + 2, g->key,
                                      g->key_len);
        }
    }

    for (i = 0; i < sh->nslots; i++) {
        for (r = sh->slots[i]; r; r = r->next) {
            ngx_http_fado_state_route(o, r);
        }
    }

    if (sh->def) {
        ngx_http_fado_state_route(o, sh->def);
    }

    sh->state_version = sh->version;

    ngx_rwlock_unlock(&sh->lock);

    ngx_crc32_final(o->crc);

    p = ngx_sprintf(head, "end %08xD %ui\n", o->crc, o->lines);
    if (o->pos + (p - head) > o->buf + NGX_HTTP_FADO_STATE_BUF) {
        ngx_http_fado_state_flush(o);
    }

    o->pos = ngx_cpymem(o->pos, head, p - head);
    ngx_http_fado_state_flush(o);

    if (ngx_close_file(o->fd) == NGX_FILE_ERROR && o->err == 0) {
        o->err = ngx_errno;
    }

    if (o->err) {
        ngx_log_error(NGX_LOG_ERR, log, o->err,
                      "fado: cannot write the table to \"%V\"",
                      &t->state_tmp);
        (void) ngx_delete_file(t->state_tmp.data);
        sh->state_errors++;
        return NGX_ERROR;
    }

    if (ngx_rename_file(t->state_tmp.data, t->state.data) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "fado: cannot rename \"%V\" to \"%V\"",
                      &t->state_tmp, &t->state);
        (void) ngx_delete_file(t->state_tmp.data);
        sh->state_errors++;
        return NGX_ERROR;
    }

    ngx_time_update();
    sh->state_writes++;
    sh->state_written_at = ngx_time();
    sh->state_write_ms = ngx_current_msec - start;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, log, 0,
                   "fado: table version %uL written to \"%V\" (%ui lines)",
                   sh->state_version, &t->state, o->lines);

    return NGX_OK;
}


/* ---------------------------------------------------------------- load */


typedef struct {
    u_char      *data;
    size_t       len;
} ngx_http_fado_state_text_t;


/* Parses "<uint>" from [p, end) up to a space; NULL if none. */
static u_char *
ngx_http_fado_state_uint(u_char *p, u_char *end, uint64_t *v)
{
    uint64_t  n;
    u_char   *start;

    n = 0;
    start = p;

    while (p < end && *p >= '0' && *p <= '9' && p - start < 20) {
        n = n * 10 + (*p++ - '0');
    }

    if (p == start) {
        return NULL;
    }

    *v = n;
    return p;
}


/*
 * Checks the whole file before anything is applied: magic, trailer,
 * checksum, line count. Returns the number of lines, or 0 with *why set.
 */
static ngx_uint_t
ngx_http_fado_state_check(u_char *buf, size_t size, uint64_t *version,
    const char **why)
{
    u_char      *p, *end, *last;
    uint32_t     crc, want;
    uint64_t     lines;
    ngx_uint_t   n;
    ngx_int_t    c;

    if (size < sizeof(NGX_HTTP_FADO_STATE_MAGIC) - 1
        || ngx_memcmp(buf, NGX_HTTP_FADO_STATE_MAGIC,
                      sizeof(NGX_HTTP_FADO_STATE_MAGIC) - 1) != 0)
    {
        *why = "not a fado snapshot (bad magic)";
        return 0;
    }

    if (buf[size - 1] != '\n') {
        *why = "truncated (no final newline)";
        return 0;
    }

    /* the trailer is the last line */
    for (last = buf + size - 1; last > buf && last[-1] != '\n'; last--) {
        /* void */
    }

    if (buf + size - last < 15 || ngx_memcmp(last, "end ", 4) != 0) {
        *why = "truncated (no trailer)";
        return 0;
    }

    c = ngx_hextoi(last + 4, 8);
    if (c == NGX_ERROR || last[12] != ' ') {
        *why = "bad trailer";
        return 0;
    }

    want = (uint32_t) c;

    p = ngx_http_fado_state_uint(last + 13, buf + size - 1, &lines);
    if (p == NULL || p != buf + size - 1) {
        *why = "bad trailer";
        return 0;
    }

    crc = ngx_crc32_long(buf, last - buf);
    if (crc != want) {
        *why = "checksum mismatch";
        return 0;
    }

    n = 0;
    for (p = buf; p < last; p++) {
        if (*p == '\n') {
            n++;
        }
    }

    if (n != lines) {
        *why = "line count mismatch";
        return 0;
    }

    end = ngx_strlchr(buf, last, '\n');
    if (ngx_http_fado_state_uint(buf + sizeof(NGX_HTTP_FADO_STATE_MAGIC) - 1,
                                 end, version)
        != end)
    {
        *why = "bad table version";
        return 0;
    }

    return n;
}


/* Finds the n-th text of a reference "S<n>" or "G<n>". */
static ngx_http_fado_state_text_t *
ngx_http_fado_state_ref(ngx_array_t *a, u_char *p, u_char *end)
{
    uint64_t  n;

    if (ngx_http_fado_state_uint(p, end, &n) != end || n >= a->nelts) {
        return NULL;
    }

    return (ngx_http_fado_state_text_t *) a->elts + n;
}


static ngx_int_t
ngx_http_fado_state_apply(ngx_http_fado_table_t *t, ngx_log_t *log,
    u_char *buf, u_char *last, ngx_array_t *sets, ngx_array_t *groups,
    ngx_uint_t *routes, const char **why)
{
    u_char                      *p, *end, *sp, *name, *rp;
    size_t                       nlen;
    uint64_t                     v;
    ngx_http_fado_state_text_t  *tx;
    static u_char                rec[FRC_RECORD_MAX + 128];

    /* skip the magic line */
    p = ngx_strlchr(buf, last, '\n') + 1;

    for ( /* void */ ; p < last; p = end + 1) {
        end = ngx_strlchr(p, last, '\n');

        if (end - p < 2 || p[1] != ' ') {
            *why = "malformed line";
            return NGX_ERROR;
        }

        switch (p[0]) {

        case 'H':
            if (ngx_http_fado_table_set_header(t, log, (char *) p + 2,
                                               end - p - 2)
                != NGX_OK)
            {
                *why = "invalid bucket_header line";
                return NGX_ERROR;
            }

            break;

        case 'C':
            name = p + 2;
            sp = ngx_strlchr(name, end, ' ');
            if (sp == NULL) {
                *why = "malformed cluster line";
                return NGX_ERROR;
            }

            if (ngx_http_fado_cluster_set(t, log, name, sp - name,
                                          (char *) sp + 1, end - sp - 1)
                != NGX_OK)
            {
                *why = "a cluster record was not applied";
                return NGX_ERROR;
            }

            break;

        case 'S':
        case 'G':
            tx = ngx_array_push(p[0] == 'S' ? sets : groups);
            if (tx == NULL) {
                *why = "out of memory";
                return NGX_ERROR;
            }

            tx->data = p + 2;
            tx->len = end - p - 2;
            break;

        case 'R':
        case 'D':
            name = p + 2;
            nlen = 0;

            if (p[0] == 'R') {
                sp = ngx_strlchr(name, end, ' ');
                if (sp == NULL) {
                    *why = "malformed route line";
                    return NGX_ERROR;
                }

                nlen = sp - name;
                sp++;

            } else {
                sp = name;
            }

            /* "<version> <policy> S<n>|G<n>" */
            rp = ngx_http_fado_state_uint(sp, end, &v);
            if (rp == NULL || rp == end || *rp != ' ') {
                *why = "malformed route line";
                return NGX_ERROR;
            }

            sp = ngx_strlchr(rp + 1, end, ' ');
            if (sp == NULL || end - sp < 3) {
                *why = "malformed route line";
                return NGX_ERROR;
            }

            tx = ngx_http_fado_state_ref(sp[1] == 'G' ? groups : sets,
                                         sp + 2, end);
            if (tx == NULL || (sp[1] != 'G' && sp[1] != 'S')
                || tx->len > FRC_RECORD_MAX)
            {
                *why = "route refers to no set";
                return NGX_ERROR;
            }

            rp = ngx_sprintf(rec, "F%c %uL%*s%s", sp[1] == 'G' ? '2' : '1',
                             v, (size_t) (sp - rp), rp,
                             tx->len ? " " : "");
            rp = ngx_cpymem(rp, tx->data, tx->len);

            if (ngx_http_fado_table_set(t, log, name, nlen, (char *) rec,
                                        rp - rec)
                != NGX_OK)
            {
                *why = "a route was not applied";
                return NGX_ERROR;
            }

            *routes += (p[0] == 'R');
            break;

        default:
            *why = "unknown line";
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_fado_state_load(ngx_http_fado_table_t *t, ngx_log_t *log)
{
    u_char               *buf, *last;
    size_t                size;
    ssize_t               n;
    uint64_t              version;
    ngx_fd_t              fd;
    ngx_int_t             rc;
    ngx_msec_t            start;
    ngx_uint_t            lines, routes;
    ngx_pool_t           *pool;
    ngx_array_t           sets, groups;
    ngx_file_info_t       fi;
    const char           *why;
    ngx_http_fado_shm_t  *sh;

    sh = t->sh;

    ngx_time_update();
    start = ngx_current_msec;

    fd = ngx_open_file(t->state.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        if (ngx_errno != NGX_ENOENT) {
            ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                          "fado: cannot read the table snapshot \"%V\"",
                          &t->state);
        }

        return NGX_DECLINED;
    }

    buf = NULL;
    pool = NULL;
    rc = NGX_DECLINED;
    why = "cannot read it";

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        goto failed;
    }

    size = (size_t) ngx_file_size(&fi);

    /* more than twice the zone cannot be a table that fits in it */
    if (size == 0 || size > 2 * t->shm_zone->shm.size + (1 << 20)) {
        why = "of an impossible size";
        goto failed;
    }

    buf = ngx_alloc(size, log);
    if (buf == NULL) {
        goto failed;
    }

    n = ngx_read_fd(fd, buf, size);
    if (n != (ssize_t) size) {
        goto failed;
    }

    lines = ngx_http_fado_state_check(buf, size, &version, &why);
    if (lines == 0) {
        goto failed;
    }

    pool = ngx_create_pool(4096, log);
    if (pool == NULL
        || ngx_array_init(&sets, pool, 64, sizeof(ngx_http_fado_state_text_t))
           != NGX_OK
        || ngx_array_init(&groups, pool, 64,
                          sizeof(ngx_http_fado_state_text_t))
           != NGX_OK)
    {
        why = "out of memory";
        goto failed;
    }

    /* the trailer is not applied */
    for (last = buf + size - 1; last > buf && last[-1] != '\n'; last--) {
        /* void */
    }

    routes = 0;

    if (ngx_http_fado_state_apply(t, log, buf, last, &sets, &groups, &routes,
                                  &why)
        != NGX_OK)
    {
        /* a checksummed file that does not apply: drop what it gave */
        sh->gen++;
        (void) ngx_http_fado_table_sweep_unseen(t);
        (void) ngx_http_fado_cluster_sweep_unseen(t, log);
        (void) ngx_http_fado_table_free_zombies(t);
        goto failed;
    }

    sh->version = version;
    sh->state_loaded_version = version;
    sh->ready = 1;
    rc = NGX_OK;

    ngx_time_update();

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "fado: table version %uL loaded from \"%V\": %ui routes, "
                  "%ui clusters in %Mms; Redis replaces it once reachable",
                  version, &t->state, routes, sh->nclusters,
                  ngx_current_msec - start);

    goto done;

failed:

    ngx_log_error(NGX_LOG_ERR, log, 0,
                  "fado: table snapshot \"%V\" ignored: %s", &t->state, why);
    sh->state_errors++;

done:

    if (pool) {
        ngx_destroy_pool(pool);
    }

    if (buf) {
        ngx_free(buf);
    }

    (void) ngx_close_file(fd);

    return rc;
}
