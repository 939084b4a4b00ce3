// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * client.c - see client.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "client.h"

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

void hc_pump(struct event_base *base, int ms)
{
	long long end = now_ms() + ms;

	do {
		event_base_loop(base, EVLOOP_NONBLOCK);
		poll(NULL, 0, 1);
	} while (now_ms() < end);
	event_base_loop(base, EVLOOP_NONBLOCK);
}

static int hc_connect(uint16_t port, int rcvbuf)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	if (rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) &&
	    errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Write all of @buf, pumping the server meanwhile. */
static int hc_send(struct event_base *base, int fd, const char *buf, size_t len)
{
	long long end = now_ms() + 5000;
	ssize_t n;

	while (len && now_ms() < end) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n > 0) {
			buf += n;
			len -= n;
		} else if (n < 0 && errno != EAGAIN && errno != ENOTCONN) {
			return -1;
		} else {
			poll(NULL, 0, 1);
		}
	}
	return len ? -1 : 0;
}

static int grow(char **p, size_t *cap, size_t need)
{
	char *q;
	size_t n = *cap ? *cap : 4096;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	q = realloc(*p, n);
	if (!q)
		return -1;
	*p = q;
	*cap = n;
	return 0;
}

/*
 * De-chunk @in[*off..len) into @out; return 1 at the last chunk, 0 when
 * more input is needed, -1 on a malformed stream.
 */
static int dechunk(const char *in, size_t len, size_t *off, char **out,
		   size_t *out_len, size_t *out_cap)
{
	for (;;) {
		const char *p = in + *off, *crlf;
		size_t avail = len - *off, hdr;
		unsigned long n;
		char *end;

		crlf = memmem(p, avail, "\r\n", 2);
		if (!crlf)
			return 0;
		n = strtoul(p, &end, 16);
		if (end == p)
			return -1;
		hdr = crlf + 2 - p;
		if (avail < hdr + n + 2)
			return 0;
		if (grow(out, out_cap, *out_len + n + 1))
			return -1;
		memcpy(*out + *out_len, p + hdr, n);
		*out_len += n;
		(*out)[*out_len] = '\0';
		*off += hdr + n + 2;
		if (!n)
			return 1;
	}
}

int hc_request(struct event_base *base, uint16_t port, const char *method,
	       const char *path, const char *extra, struct hresp *r)
{
	char req[4096];
	char *raw = NULL, *hend;
	size_t len = 0, cap = 0, off, hl;
	long long end = now_ms() + 5000;
	int fd, n, rc = -1;

	memset(r, 0, sizeof(*r));
	fd = hc_connect(port, 0);
	if (fd < 0)
		return -1;
	n = snprintf(req, sizeof(req),
		     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		     "Connection: close\r\n%s\r\n",
		     method, path, extra ? extra : "");
	if (hc_send(base, fd, req, n))
		goto out;
	while (now_ms() < end) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		ssize_t got;

		event_base_loop(base, EVLOOP_NONBLOCK);
		poll(&pfd, 1, 1);
		if (grow(&raw, &cap, len + 65536))
			goto out;
		got = recv(fd, raw + len, cap - len - 1, 0);
		if (got > 0) {
			len += got;
			continue;
		}
		if (got == 0)
			break;
		if (errno != EAGAIN)
			goto out;
	}
	if (!raw)
		goto out;
	raw[len] = '\0';
	hend = strstr(raw, "\r\n\r\n");
	if (!hend || sscanf(raw, "HTTP/1.%*d %d", &r->status) != 1)
		goto out;
	hl = hend - raw;
	r->head = strndup(raw, hl);
	off = hl + 4;
	if (strcasestr(r->head, "\r\nTransfer-Encoding: chunked")) {
		size_t bcap = 0;

		if (dechunk(raw, len, &off, &r->body, &r->body_len, &bcap) != 1)
			goto out;
	} else {
		r->body_len = len - off;
		r->body = malloc(r->body_len + 1);
		if (!r->body)
			goto out;
		memcpy(r->body, raw + off, r->body_len);
		r->body[r->body_len] = '\0';
	}
	rc = 0;
out:
	if (rc)
		hresp_free(r);
	free(raw);
	close(fd);
	return rc;
}

void hresp_free(struct hresp *r)
{
	free(r->head);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

char *hresp_header(const struct hresp *r, const char *name)
{
	const char *p = r->head;
	size_t n = strlen(name);

	while (p && (p = strstr(p, "\r\n"))) {
		p += 2;
		if (!strncasecmp(p, name, n) && p[n] == ':') {
			p += n + 1;
			while (*p == ' ')
				p++;
			return strndup(p, strcspn(p, "\r\n"));
		}
	}
	return NULL;
}

static void sse_read_some(struct sse_reader *s)
{
	ssize_t got;

	for (;;) {
		if (grow(&s->raw, &s->raw_cap, s->raw_len + 65536))
			return;
		got = recv(s->fd, s->raw + s->raw_len,
			   s->raw_cap - s->raw_len - 1, 0);
		if (got > 0) {
			s->raw_len += got;
			s->raw[s->raw_len] = '\0';
			continue;
		}
		if (got == 0 || (errno != EAGAIN && errno != EINTR))
			s->eof = 1;
		return;
	}
}

int sse_open(struct event_base *base, uint16_t port, const char *path,
	     const char *extra, int rcvbuf, struct sse_reader *s)
{
	char req[4096];
	long long end = now_ms() + 5000;
	char *hend = NULL;
	int n;

	memset(s, 0, sizeof(*s));
	s->fd = hc_connect(port, rcvbuf);
	if (s->fd < 0)
		return -1;
	n = snprintf(req, sizeof(req),
		     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		     "Accept: text/event-stream\r\n%s\r\n",
		     path, extra ? extra : "");
	if (hc_send(base, s->fd, req, n))
		goto fail;
	while (now_ms() < end && !s->eof) {
		hc_pump(base, 2);
		sse_read_some(s);
		if (s->raw && (hend = strstr(s->raw, "\r\n\r\n")))
			break;
	}
	if (!hend || sscanf(s->raw, "HTTP/1.%*d %d", &s->status) != 1)
		goto fail;
	s->raw_off = hend + 4 - s->raw;
	return 0;
fail:
	sse_close(s);
	return -1;
}

void sse_poll(struct event_base *base, struct sse_reader *s, int ms)
{
	long long end = now_ms() + ms;

	do {
		struct pollfd pfd = { s->fd, POLLIN, 0 };

		event_base_loop(base, EVLOOP_NONBLOCK);
		poll(&pfd, 1, 1);
		sse_read_some(s);
	} while (now_ms() < end && !s->eof);
	dechunk(s->raw, s->raw_len, &s->raw_off, &s->text, &s->text_len,
		&s->text_cap);
}

int sse_next(struct sse_reader *s, char **name, char **data)
{
	char *start, *end, *line, *next;
	size_t dlen = 0;

	*name = *data = NULL;
	dechunk(s->raw, s->raw_len, &s->raw_off, &s->text, &s->text_len,
		&s->text_cap);
	for (;;) {
		if (!s->text || s->text_off >= s->text_len)
			return 0;
		start = s->text + s->text_off;
		end = strstr(start, "\n\n");
		if (!end)
			return 0;
		s->text_off = end + 2 - s->text;
		*data = calloc(1, end - start + 1);
		if (!*data)
			return 0;
		for (line = start; line < end + 1; line = next) {
			next = strchr(line, '\n') + 1;
			if (!strncmp(line, "event: ", 7)) {
				free(*name);
				*name = strndup(line + 7, next - line - 8);
			} else if (!strncmp(line, "data: ", 6)) {
				if (dlen)
					(*data)[dlen++] = '\n';
				memcpy(*data + dlen, line + 6, next - line - 7);
				dlen += next - line - 7;
			}
		}
		if (*name || dlen)
			return 1;
		free(*data); /* a comment or retry: not an event */
		*data = NULL;
	}
}

void sse_close(struct sse_reader *s)
{
	if (s->fd >= 0)
		close(s->fd);
	free(s->raw);
	free(s->text);
	memset(s, 0, sizeof(*s));
	s->fd = -1;
}

int json_eval(const char *json, size_t len, const char *expr, char *out,
	      size_t outlen)
{
	char path[] = "/tmp/netrv-http-json-XXXXXX";
	char cmd[8192];
	FILE *p;
	int fd, rc;
	size_t n = 0;

	out[0] = '\0';
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	if (write(fd, json, len) != (ssize_t)len) {
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	snprintf(cmd, sizeof(cmd), "%s %s/jsoncheck.py %s%s%s%s", TESTS_PYTHON3,
		 TESTS_HTTP_DIR, path, expr ? " '" : "", expr ? expr : "",
		 expr ? "'" : "");
	p = popen(cmd, "r");
	if (p) {
		n = fread(out, 1, outlen - 1, p);
		out[n] = '\0';
		rc = pclose(p);
	} else {
		rc = -1;
	}
	unlink(path);
	while (n && out[n - 1] == '\n')
		out[--n] = '\0';
	if (rc) {
		fprintf(stderr, "json_eval: %s\n  on: %.*s\n", out,
			(int)(len > 400 ? 400 : len), json);
		return -1;
	}
	return 0;
}
