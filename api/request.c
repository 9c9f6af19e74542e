#include "request.h"

#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>

const char *api_request_header(const api_request_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

void api_request_client_address(const api_request_t *req, char *out, size_t len)
{
    snprintf(out, len, "-");
    const union MHD_ConnectionInfo *info =
        req->conn != NULL
            ? MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS)
            : NULL;
    if (info == NULL || info->client_addr == NULL) {
        return;
    }
    const struct sockaddr *sa = info->client_addr;
    socklen_t sa_len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                 : sizeof(struct sockaddr_in);
    if (getnameinfo(sa, sa_len, out, (socklen_t)len, NULL, 0, NI_NUMERICHOST) != 0) {
        snprintf(out, len, "-");
    }
}
