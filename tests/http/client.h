/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * client.h - a plain-socket HTTP/1.1 client for the HTTP tests.  The server
 * runs on the same thread, so every wait pumps the event base (non-blocking
 * loop runs) between polls of the client socket.  Waits are bounded.
 */
#ifndef NETRV_TESTS_HTTP_CLIENT_H
#define NETRV_TESTS_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

struct event_base;

struct hresp {
	int status;
	char *head; /* status line and headers, NUL-terminated */
	char *body; /* de-chunked, NUL-terminated (may hold other NULs) */
	size_t body_len;
};

/**
 * hc_request - send "METHOD PATH" with @extra header lines ("K: V\r\n"...,
 * may be NULL), read the whole answer (Connection: close)
 *
 * Return: 0, or -1 on connection error or timeout (5 s).  Free with
 * hresp_free().
 */
int hc_request(struct event_base *base, uint16_t port, const char *method,
	       const char *path, const char *extra, struct hresp *r);
void hresp_free(struct hresp *r);
/** hresp_header - value of header @name (case-insensitive), malloc'd or NULL */
char *hresp_header(const struct hresp *r, const char *name);

/** hc_pump - run the event base for about @ms milliseconds */
void hc_pump(struct event_base *base, int ms);

/* A long-lived /events reader. */
struct sse_reader {
	int fd;
	char *raw; /* bytes as received */
	size_t raw_len, raw_cap;
	size_t raw_off; /* start of the first byte not yet de-chunked */
	char *text; /* de-chunked event stream */
	size_t text_len, text_cap;
	size_t text_off; /* first byte not yet returned as an event */
	int status;
	int eof;
};

/**
 * sse_open - GET @path with @extra headers; @rcvbuf > 0 sets SO_RCVBUF
 * before connecting.  Waits for the response head.  Return: 0 or -1.
 */
int sse_open(struct event_base *base, uint16_t port, const char *path,
	     const char *extra, int rcvbuf, struct sse_reader *s);
/** sse_poll - read what is there, pumping the base for up to @ms */
void sse_poll(struct event_base *base, struct sse_reader *s, int ms);
/**
 * sse_next - the next complete event: its name and data (joined data
 * lines), both malloc'd.  Return: 1 with an event, 0 if none yet.
 */
int sse_next(struct sse_reader *s, char **name, char **data);
void sse_close(struct sse_reader *s);

/**
 * json_eval - check @json strictly with tests/http/jsoncheck.py and print
 * Python expression @expr over it (as `d`) as ASCII JSON into @out
 *
 * Return: 0 if the JSON is valid (and @expr evaluated), -1 otherwise.
 */
int json_eval(const char *json, size_t len, const char *expr, char *out,
	      size_t outlen);

#endif
