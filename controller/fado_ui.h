/*
 * fado_ui: the web console's static files, under /ui/ on the API listener.
 *
 * The files are built from console/ by `make` (Vite) and embedded into the
 * binary (scripts/embed-console.pl), so the controller needs no install
 * path and works offline. They are public: they hold no data, and every
 * call the console makes goes through the authenticated API.
 */

#ifndef FADO_UI_H
#define FADO_UI_H

#include <microhttpd.h>
#include <stddef.h>

typedef struct {
    const char           *path;          /* "/ui/assets/index-abc.js" */
    const char           *content_type;
    const unsigned char  *data;
    size_t                len;
    int                   immutable;     /* content-hashed name: cache forever */
} fado_ui_file_t;

/* Generated into $(BUILD)/controller/fado_ui_files.c. */
extern const fado_ui_file_t  fado_ui_files[];
extern const size_t          fado_ui_count;

/* 1 if url is the console's ("/ui" or under "/ui/"). */
int fado_ui_path(const char *url);

/* Answers a console request (GET and HEAD; anything else is a 405). */
enum MHD_Result fado_ui_answer(struct MHD_Connection *c, const char *method,
    const char *url);

#endif /* FADO_UI_H */
