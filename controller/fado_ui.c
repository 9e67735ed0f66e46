/*
 * fado_ui: serves the embedded console files (fado_ui.h).
 */

#include "fado_ui.h"
#include "fado_log.h"

#include <string.h>

/*
 * Scripts only from this origin, no inline script, no framing, and API
 * calls only to this origin: a console page cannot be made to send the
 * token anywhere else.
 */
#define FADO_UI_CSP \
    "default-src 'self'; script-src 'self'; connect-src 'self';" \
    " img-src 'self' data: blob:; style-src 'self' 'unsafe-inline';" \
    " object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

int
fado_ui_path(const char *url)
{
    return strncmp(url, "/ui", 3) == 0 && (url[3] == '\0' || url[3] == '/');
}

static const fado_ui_file_t *
fado_ui_find(const char *url)
{
    size_t  n = strcspn(url, "?");

    /* "/ui/" and any page path without an extension is the application. */
    if (strcmp(url, "/ui/") == 0 || memchr(url + 4, '.', n - 4) == NULL) {
        url = "/ui/index.html";
        n = strlen(url);
    }
    for (size_t i = 0; i < fado_ui_count; i++) {
        if (strlen(fado_ui_files[i].path) == n && memcmp(fado_ui_files[i].path, url, n) == 0) {
            return &fado_ui_files[i];
        }
    }
    return NULL;
}

static enum MHD_Result
fado_ui_send(struct MHD_Connection *c, unsigned int status, const char *type,
    const void *body, size_t len, const char *const *headers)
{
    struct MHD_Response  *resp;
    enum MHD_Result       r;

    /* PERSISTENT: the bytes are static, MHD sends them without a copy. */
    resp = MHD_create_response_from_buffer(len, (void *) body, MHD_RESPMEM_PERSISTENT);
    if (resp == NULL) {
        return MHD_NO;
    }
    if (MHD_add_response_header(resp, "Content-Type", type) != MHD_YES
        || MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff") != MHD_YES
        || MHD_add_response_header(resp, "Referrer-Policy", "no-referrer") != MHD_YES
        || MHD_add_response_header(resp, "Content-Security-Policy", FADO_UI_CSP) != MHD_YES)
    {
        MHD_destroy_response(resp);
        return MHD_NO;
    }
    for (; headers != NULL && headers[0] != NULL; headers += 2) {
        if (MHD_add_response_header(resp, headers[0], headers[1]) != MHD_YES) {
            MHD_destroy_response(resp);
            return MHD_NO;
        }
    }
    r = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return r;
}

enum MHD_Result
fado_ui_answer(struct MHD_Connection *c, const char *method, const char *url)
{
    static const char      not_found[] =
        "{\"error\":{\"code\":\"not_found\",\"message\":\"no such console file\"}}\n";
    static const char      not_allowed[] =
        "{\"error\":{\"code\":\"method_not_allowed\","
        "\"message\":\"the console's files are read with GET\"}}\n";
    const fado_ui_file_t  *f;
    int                    head = strcmp(method, "HEAD") == 0;

    if (!head && strcmp(method, "GET") != 0) {
        static const char *const  allow[] = { "Allow", "GET, HEAD", NULL };
        return fado_ui_send(c, MHD_HTTP_METHOD_NOT_ALLOWED, "application/json",
                            not_allowed, sizeof(not_allowed) - 1, allow);
    }
    if (url[3] == '\0') {
        static const char *const  loc[] = { "Location", "/ui/", NULL };
        return fado_ui_send(c, MHD_HTTP_MOVED_PERMANENTLY, "text/plain", "", 0, loc);
    }
    f = fado_ui_find(url);
    if (f == NULL) {
        fado_log(FADO_LOG_DEBUG, "msg=request method=%s path=%s status=404", method, FADO_LOG_Q(url));
        return fado_ui_send(c, MHD_HTTP_NOT_FOUND, "application/json", not_found,
                            sizeof(not_found) - 1, NULL);
    }
    {
        static const char *const  forever[] = {
            "Cache-Control", "public, max-age=31536000, immutable", NULL };
        static const char *const  revalidate[] = { "Cache-Control", "no-cache", NULL };

        /* HEAD: MHD sends the headers (Content-Length included) only. */
        return fado_ui_send(c, MHD_HTTP_OK, f->content_type, f->data, f->len,
                            f->immutable ? forever : revalidate);
    }
}
