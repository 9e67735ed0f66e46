/*
 * fado_route_view: a published route as the API shows it. The record is
 * decoded by the gateway's own decoder (lib/route/frc_record.c), so what
 * the API says a gateway routes to is what a gateway reads.
 */

#ifndef FADO_ROUTE_VIEW_H
#define FADO_ROUTE_VIEW_H

#include <jansson.h>
#include <stddef.h>

/*
 * The view of one route: bucket ("" for the default route), the version and
 * body it was published with (body: the record without its "F<n> <version>"
 * head, as published_routes keeps it), and the published cluster records
 * (cluster name -> C2 body without its head) to join an F2 route with.
 * Returns a new object, or NULL with a message in err when the body is
 * not a record of either contract.
 */
json_t *fado_route_view(const char *bucket, const char *version, const char *body,
    json_t *clusters, char *err, size_t err_len);

#endif /* FADO_ROUTE_VIEW_H */
