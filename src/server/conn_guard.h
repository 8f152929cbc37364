/* server/conn_guard.h - keeping slow clients from taking the server.
 *
 * libmicrohttpd closes a connection only when it has been idle for the
 * timeout, and one byte resets that clock: 300 connections that each send a
 * header line every 5 s hold their slots forever ("slowloris"). The guard
 * adds what it lacks:
 *  - a deadline for a request's headers, counted from when the connection
 *    opened (or its previous reply was sent), however the bytes trickle in;
 *  - a deadline for the whole body, counted from the end of the headers;
 *  - a reserve: at most max_waiting connections may wait for their headers
 *    at once; a new connection past that closes the one that has waited
 *    longest, so a client that sends its request at once is always served.
 * A connection past a deadline is shut down (shutdown(2) on its socket);
 * libmicrohttpd then sees the end of the stream and closes it itself. */
#ifndef CS_SERVER_CONN_GUARD_H
#define CS_SERVER_CONN_GUARD_H

#include "core/lazy_mhd.h" /* <microhttpd.h> */

typedef struct cs_srv_guard cs_srv_guard;

/* NULL when out of memory. Times in seconds. */
cs_srv_guard *cs_srv_guard_new(double header_s, double body_s, int max_waiting);
void cs_srv_guard_free(cs_srv_guard *g);

/* MHD_OPTION_NOTIFY_CONNECTION's callback; cls is the guard. */
void cs_srv_guard_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                                enum MHD_ConnectionNotificationCode code);

/* A request's headers are complete: its body deadline starts. */
void cs_srv_guard_headers_done(struct MHD_Connection *conn);
/* Its body is complete: no deadline while it is answered (the idle timeout
 * still applies to a client that stops reading the reply). */
void cs_srv_guard_body_done(struct MHD_Connection *conn);
/* Its reply is sent: the connection waits for the next request's headers. */
void cs_srv_guard_request_done(struct MHD_Connection *conn);

/* Connections closed for a deadline or to make room, for /api/stats. */
void cs_srv_guard_stats(cs_srv_guard *g, unsigned long *closed_late,
                        unsigned long *closed_for_room);

#endif
