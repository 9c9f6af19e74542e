#include "request.h"

#include <microhttpd.h>

const char *api_request_header(const api_request_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}
