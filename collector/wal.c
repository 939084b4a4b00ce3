// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * wal.c - see wal.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define LOG_SUBSYS "wal"
#include "crc32c.h"
#include "log.h"
#include "wal.h"

#define WAL_MAGIC 0x4c41574eu /* "NWAL" little-endian */
#define WAL_HDR 24

struct wal_hdr {
	uint32_t magic;
	uint16_t type;
	uint16_t flags;
	uint32_t len;
	uint32_t crc;
	uint64_t seq;
};

struct wal_seg {
	uint64_t first_seq; /* from the name */
	uint64_t last_seq; /* last batch in it, 0 if none */
	uint64_t size;
	uint64_t mtime_ns;
};

struct wal_schema {
	uint8_t *data;
	uint32_t len;
};

struct wal_node {
	struct wal *w;
	char *name;
	int dirfd;
	int fd; /* newest segment, -1 until the first append */
	struct wal_seg *segs; /* oldest first; the last one is open */
	size_t n_segs, cap_segs;
	struct wal_schema *schemas;
	size_t n_schemas;
	struct wal_schema hello; /* the latest Hello (len 0: none) */
	uint64_t written_seq, durable_seq;
	bool dirty;
	struct wal_node *next_dirty;
};

/* One node's part of a background sync. */
struct wal_job {
	struct wal_node *wn;
	int fd; /* dup of its segment, closed after the sync */
	uint64_t seq; /* written when the job was taken */
};

struct wal {
	struct wal_config cfg;
	/* background sync: the loop owns jobs while !busy */
	pthread_t thread;
	bool thread_up;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool busy, done, stop;
	int result;
	int efd;
	struct wal_job *jobs;
	size_t n_jobs, cap_jobs;
	char *dir;
	int dirfd;
	int lockfd;
	struct wal_node **nodes;
	size_t n_nodes;
	struct wal_node *dirty;
	uint64_t pending;
};

static uint32_t record_crc(const struct wal_hdr *h, const void *payload)
{
	struct wal_hdr c = *h;

	c.crc = 0;
	return crc32c(crc32c(0, &c, sizeof(c)), payload, h->len);
}

/* Above this many dirty segments one syncfs() beats one fdatasync each. */
#define WAL_SYNCFS_MIN 8

static int sync_jobs(struct wal_job *jobs, size_t n)
{
	if (n >= WAL_SYNCFS_MIN)
		return syncfs(jobs[0].fd);
	for (size_t i = 0; i < n; i++)
		if (fdatasync(jobs[i].fd))
			return -1;
	return 0;
}

static void *sync_thread(void *arg)
{
	struct wal *w = arg;
	uint64_t one = 1;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		int r;

		while (!w->stop && (!w->busy || w->done))
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->stop)
			break;
		pthread_mutex_unlock(&w->lock);
		r = sync_jobs(w->jobs, w->n_jobs) ? errno : 0;
		pthread_mutex_lock(&w->lock);
		w->result = r;
		w->done = true;
		pthread_cond_broadcast(&w->cond);
		if (write(w->efd, &one, sizeof(one)) < 0)
			pr_err("sync thread: eventfd: %m");
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

struct wal *wal_open(const struct wal_config *cfg)
{
	struct wal *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->cfg = *cfg;
	w->dirfd = w->lockfd = w->efd = -1;
	w->dir = strdup(cfg->dir);
	if (!w->dir)
		goto fail;
	if (mkdir(cfg->dir, 0700) && errno != EEXIST) {
		pr_err("cannot create WAL directory %s: %m", cfg->dir);
		goto fail;
	}
	w->dirfd = open(cfg->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->dirfd < 0) {
		pr_err("cannot open WAL directory %s: %m", cfg->dir);
		goto fail;
	}
	w->lockfd =
		openat(w->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (w->lockfd < 0 || flock(w->lockfd, LOCK_EX | LOCK_NB)) {
		int e = errno;

		pr_err("cannot lock %s/lock: %m (is another collector using this WAL?)",
		       cfg->dir);
		errno = e;
		goto fail;
	}
	w->cfg.dir = w->dir;
	w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->efd < 0)
		goto fail;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	if (pthread_create(&w->thread, NULL, sync_thread, w)) {
		pr_err("cannot start the WAL sync thread");
		goto fail;
	}
	w->thread_up = true;
	return w;
fail:
	wal_close(w);
	return NULL;
}

static void node_free(struct wal_node *wn)
{
	if (wn->fd >= 0)
		close(wn->fd);
	if (wn->dirfd >= 0)
		close(wn->dirfd);
	for (size_t i = 0; i < wn->n_schemas; i++)
		free(wn->schemas[i].data);
	free(wn->schemas);
	free(wn->hello.data);
	free(wn->segs);
	free(wn->name);
	free(wn);
}

void wal_close(struct wal *w)
{
	int e = errno;

	if (!w)
		return;
	if (w->thread_up) {
		pthread_mutex_lock(&w->lock);
		w->stop = true;
		pthread_cond_signal(&w->cond);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->thread, NULL);
		pthread_mutex_destroy(&w->lock);
		pthread_cond_destroy(&w->cond);
	}
	for (size_t i = 0; i < w->n_jobs; i++)
		close(w->jobs[i].fd);
	free(w->jobs);
	if (w->efd >= 0)
		close(w->efd);
	for (size_t i = 0; i < w->n_nodes; i++)
		node_free(w->nodes[i]);
	free(w->nodes);
	if (w->lockfd >= 0)
		close(w->lockfd);
	if (w->dirfd >= 0)
		close(w->dirfd);
	free(w->dir);
	free(w);
	errno = e;
}

static struct wal_node *find_node(struct wal *w, const char *name)
{
	for (size_t i = 0; i < w->n_nodes; i++)
		if (!strcmp(w->nodes[i]->name, name))
			return w->nodes[i];
	return NULL;
}

struct wal_node *wal_node(struct wal *w, const char *name)
{
	struct wal_node *wn = find_node(w, name), **nn;

	if (wn)
		return wn;
	wn = calloc(1, sizeof(*wn));
	if (!wn)
		return NULL;
	wn->w = w;
	wn->fd = wn->dirfd = -1;
	wn->name = strdup(name);
	if (!wn->name)
		goto fail;
	if (mkdirat(w->dirfd, name, 0700) && errno != EEXIST) {
		pr_err("cannot create %s/%s: %m", w->dir, name);
		goto fail;
	}
	wn->dirfd = openat(w->dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (wn->dirfd < 0) {
		pr_err("cannot open %s/%s: %m", w->dir, name);
		goto fail;
	}
	nn = realloc(w->nodes, (w->n_nodes + 1) * sizeof(*nn));
	if (!nn)
		goto fail;
	w->nodes = nn;
	w->nodes[w->n_nodes++] = wn;
	return wn;
fail:
	node_free(wn);
	return NULL;
}

static struct wal_seg *seg_add(struct wal_node *wn, uint64_t first)
{
	if (wn->n_segs == wn->cap_segs) {
		size_t cap = wn->cap_segs ? 2 * wn->cap_segs : 8;
		struct wal_seg *s = realloc(wn->segs, cap * sizeof(*s));

		if (!s)
			return NULL;
		wn->segs = s;
		wn->cap_segs = cap;
	}
	wn->segs[wn->n_segs] = (struct wal_seg){ .first_seq = first };
	return &wn->segs[wn->n_segs++];
}

static void seg_name(char *buf, size_t len, uint64_t first)
{
	snprintf(buf, len, "%020" PRIu64 ".wal", first);
}

static int write_all(int fd, const struct iovec *iov, int n, size_t total)
{
	ssize_t r = writev(fd, iov, n);

	if (r < 0)
		return -1;
	if ((size_t)r != total) {
		errno = EIO; /* a short write to a local file: disk full */
		return -1;
	}
	return 0;
}

static int record_write(struct wal_node *wn, enum frame_type type, uint64_t seq,
			const void *payload, uint32_t len)
{
	struct wal_hdr h = { WAL_MAGIC, (uint16_t)type, 0, len, 0, seq };
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)payload, len } };
	struct wal_seg *seg = &wn->segs[wn->n_segs - 1];

	h.crc = record_crc(&h, payload);
	if (write_all(wn->fd, iov, 2, sizeof(h) + len)) {
		pr_err("%s: cannot write segment: %m", wn->name);
		return -1;
	}
	seg->size += sizeof(h) + len;
	if (type == FRAME_BATCH)
		seg->last_seq = seq;
	wn->w->pending += sizeof(h) + len;
	if (!wn->dirty) {
		wn->dirty = true;
		wn->next_dirty = wn->w->dirty;
		wn->w->dirty = wn;
	}
	return 0;
}

/* Start a new segment for batches from @first on, with every schema. */
static int seg_start(struct wal_node *wn, uint64_t first)
{
	char name[32];
	int fd;

	seg_name(name, sizeof(name), first);
	if (wn->fd >= 0) {
		/* the old segment must be durable before it is closed */
		if (fdatasync(wn->fd))
			pr_err("%s: fdatasync: %m", wn->name);
		close(wn->fd);
		wn->fd = -1;
	}
	fd = openat(wn->dirfd, name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		    0600);
	if (fd < 0) {
		pr_err("cannot create %s/%s/%s: %m", wn->w->dir, wn->name,
		       name);
		return -1;
	}
	/* after a restart the newest segment may have this very name */
	if (!wn->n_segs || wn->segs[wn->n_segs - 1].first_seq != first) {
		struct timespec ts;

		if (!seg_add(wn, first)) {
			close(fd);
			return -1;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		wn->segs[wn->n_segs - 1].mtime_ns =
			(uint64_t)ts.tv_sec * 1000000000ull +
			(uint64_t)ts.tv_nsec;
	}
	wn->fd = fd;
	fsync(wn->dirfd);
	for (size_t i = 0; i < wn->n_schemas; i++)
		if (record_write(wn, FRAME_SCHEMA, 0, wn->schemas[i].data,
				 wn->schemas[i].len))
			return -1;
	if (wn->hello.len &&
	    record_write(wn, FRAME_HELLO, 0, wn->hello.data, wn->hello.len))
		return -1;
	return 0;
}

/* Keep @payload as the node's latest Hello. */
static int keep_hello(struct wal_node *wn, const void *payload, uint32_t len)
{
	uint8_t *d = malloc(len ? len : 1);

	if (!d)
		return -1;
	memcpy(d, payload, len);
	free(wn->hello.data);
	wn->hello.data = d;
	wn->hello.len = len;
	return 0;
}

static int keep_schema(struct wal_node *wn, const void *payload, uint32_t len)
{
	struct wal_schema *s;

	for (size_t i = 0; i < wn->n_schemas; i++)
		if (wn->schemas[i].len == len &&
		    !memcmp(wn->schemas[i].data, payload, len))
			return 1;
	s = realloc(wn->schemas, (wn->n_schemas + 1) * sizeof(*s));
	if (!s)
		return -1;
	wn->schemas = s;
	s = &wn->schemas[wn->n_schemas];
	s->data = malloc(len ? len : 1);
	if (!s->data)
		return -1;
	memcpy(s->data, payload, len);
	s->len = len;
	wn->n_schemas++;
	return 0;
}

int wal_append(struct wal_node *wn, enum frame_type type, uint64_t seq,
	       const void *payload, uint32_t len)
{
	if (type == FRAME_SCHEMA) {
		int r = keep_schema(wn, payload, len);

		if (r < 0)
			return -1;
		if (r > 0)
			return 0; /* already in every segment from now on */
	}
	if (type == FRAME_HELLO && keep_hello(wn, payload, len))
		return -1;
	if (wn->fd < 0 ||
	    (type == FRAME_BATCH &&
	     wn->segs[wn->n_segs - 1].size >= wn->w->cfg.segment_size)) {
		/* a schema or hello just kept is written by seg_start() */
		if (seg_start(wn,
			      type == FRAME_BATCH ? seq : wn->written_seq + 1))
			return -1;
		if (type == FRAME_SCHEMA || type == FRAME_HELLO)
			return 0;
	}
	if (record_write(wn, type, seq, payload, len))
		return -1;
	if (type == FRAME_BATCH && seq > wn->written_seq)
		wn->written_seq = seq;
	return 0;
}

/* Take the dirty segments as jobs.  Return: 0, or -1 with errno. */
static int take_jobs(struct wal *w)
{
	w->n_jobs = 0;
	while (w->dirty) {
		struct wal_node *wn = w->dirty;
		struct wal_job *j;

		if (w->n_jobs == w->cap_jobs) {
			size_t cap = w->cap_jobs ? 2 * w->cap_jobs : 16;

			j = realloc(w->jobs, cap * sizeof(*j));
			if (!j)
				return -1;
			w->jobs = j;
			w->cap_jobs = cap;
		}
		j = &w->jobs[w->n_jobs];
		j->fd = dup(wn->fd);
		if (j->fd < 0)
			return -1;
		j->wn = wn;
		j->seq = wn->written_seq;
		w->n_jobs++;
		w->dirty = wn->next_dirty;
		wn->dirty = false;
	}
	w->pending = 0;
	return 0;
}

/* Apply a finished set of jobs: durable sequences, or back to dirty. */
static int end_jobs(struct wal *w, int err)
{
	for (size_t i = 0; i < w->n_jobs; i++) {
		struct wal_job *j = &w->jobs[i];

		close(j->fd);
		if (!err) {
			if (j->seq > j->wn->durable_seq)
				j->wn->durable_seq = j->seq;
		} else if (!j->wn->dirty) {
			j->wn->dirty = true;
			j->wn->next_dirty = w->dirty;
			w->dirty = j->wn;
		}
	}
	w->n_jobs = 0;
	if (err) {
		errno = err;
		pr_err("cannot sync the WAL in %s: %m; Acks are held back",
		       w->dir);
		return -1;
	}
	return 0;
}

int wal_sync_start(struct wal *w)
{
	int busy;

	pthread_mutex_lock(&w->lock);
	busy = w->busy;
	pthread_mutex_unlock(&w->lock);
	if (busy)
		return 1;
	if (!w->dirty)
		return 0;
	if (take_jobs(w)) {
		end_jobs(w, errno);
		return -1;
	}
	pthread_mutex_lock(&w->lock);
	w->busy = true;
	w->done = false;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

int wal_sync_fd(const struct wal *w)
{
	return w->efd;
}

int wal_sync_finish(struct wal *w)
{
	uint64_t v;
	int err;

	if (read(w->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		pr_err("eventfd: %m");
	pthread_mutex_lock(&w->lock);
	if (!w->busy || !w->done) {
		pthread_mutex_unlock(&w->lock);
		return 0;
	}
	err = w->result;
	w->busy = false;
	pthread_mutex_unlock(&w->lock);
	return end_jobs(w, err);
}

int wal_sync(struct wal *w)
{
	int ret = 0;

	pthread_mutex_lock(&w->lock);
	while (w->busy && !w->done)
		pthread_cond_wait(&w->cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
	ret = wal_sync_finish(w);
	if (!w->dirty)
		return ret;
	if (take_jobs(w))
		return end_jobs(w, errno);
	return end_jobs(w, sync_jobs(w->jobs, w->n_jobs) ? errno : 0) || ret ?
		       -1 :
		       0;
}

uint64_t wal_pending(const struct wal *w)
{
	return w->pending;
}

uint64_t wal_written_seq(const struct wal_node *wn)
{
	return wn->written_seq;
}

uint64_t wal_durable_seq(const struct wal_node *wn)
{
	return wn->durable_seq;
}

uint64_t wal_bytes(const struct wal *w)
{
	uint64_t b = 0;

	for (size_t i = 0; i < w->n_nodes; i++)
		for (size_t j = 0; j < w->nodes[i]->n_segs; j++)
			b += w->nodes[i]->segs[j].size;
	return b;
}

void wal_trim(struct wal_node *wn, uint64_t done_seq, uint64_t now_ns)
{
	const struct wal_config *cfg = &wn->w->cfg;
	uint64_t kept = 0;
	size_t cut = 0;

	if (wn->n_segs < 2)
		return; /* the newest segment stays open */
	/* Walk closed segments newest first, keeping within the limits. */
	for (size_t i = wn->n_segs - 1; i-- > 0;) {
		struct wal_seg *s = &wn->segs[i];
		bool done = s->last_seq < done_seq;

		if (!done || (kept + s->size <= cfg->retain_size &&
			      now_ns - s->mtime_ns < cfg->retain_ns)) {
			kept += s->size;
			continue;
		}
		cut = i + 1;
		break;
	}
	for (size_t i = 0; i < cut; i++) {
		char name[32];

		seg_name(name, sizeof(name), wn->segs[i].first_seq);
		if (unlinkat(wn->dirfd, name, 0) && errno != ENOENT)
			pr_warning("%s: cannot remove %s: %m", wn->name, name);
		else
			pr_debug("%s: removed processed segment %s", wn->name,
				 name);
	}
	if (cut) {
		memmove(wn->segs, wn->segs + cut,
			(wn->n_segs - cut) * sizeof(*wn->segs));
		wn->n_segs -= cut;
	}
}

static int cmp_seg(const void *a, const void *b)
{
	const struct wal_seg *x = a, *y = b;

	return x->first_seq < y->first_seq ? -1 : x->first_seq > y->first_seq;
}

/* Replay one segment; @last: cut a torn tail instead of failing. */
static int replay_seg(struct wal_node *wn, struct wal_seg *seg, bool last,
		      wal_replay_fn fn, void *arg)
{
	char name[32];
	uint8_t *buf = NULL;
	size_t off = 0;
	struct stat st;
	int fd, ret = -1;

	seg_name(name, sizeof(name), seg->first_seq);
	fd = openat(wn->dirfd, name, O_RDWR | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		pr_err("cannot open %s/%s/%s: %m", wn->w->dir, wn->name, name);
		goto out;
	}
	seg->mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000ull +
			(uint64_t)st.st_mtim.tv_nsec;
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf)
		goto out;
	if (pread(fd, buf, (size_t)st.st_size, 0) != st.st_size) {
		pr_err("cannot read %s/%s/%s: %m", wn->w->dir, wn->name, name);
		goto out;
	}
	while (off < (size_t)st.st_size) {
		struct wal_hdr h;
		const uint8_t *p;

		if ((size_t)st.st_size - off < WAL_HDR)
			break;
		memcpy(&h, buf + off, sizeof(h));
		p = buf + off + WAL_HDR;
		if (h.magic != WAL_MAGIC ||
		    h.len > (size_t)st.st_size - off - WAL_HDR ||
		    record_crc(&h, p) != h.crc)
			break;
		if (fn(arg, wn->name, (enum frame_type)h.type, h.seq, p, h.len))
			goto out;
		if (h.type == FRAME_SCHEMA && keep_schema(wn, p, h.len) < 0)
			goto out;
		if (h.type == FRAME_HELLO && keep_hello(wn, p, h.len) < 0)
			goto out;
		if (h.type == FRAME_BATCH) {
			seg->last_seq = h.seq;
			if (h.seq > wn->written_seq)
				wn->written_seq = h.seq;
		}
		off += WAL_HDR + h.len;
	}
	if (off < (size_t)st.st_size) {
		if (!last) {
			pr_err("%s/%s/%s: damaged record at offset %zu; the rest of this segment is skipped",
			       wn->w->dir, wn->name, name, off);
		} else {
			pr_warning(
				"%s/%s/%s: torn record at offset %zu (a crash while writing); cut off",
				wn->w->dir, wn->name, name, off);
			if (ftruncate(fd, (off_t)off) || fdatasync(fd))
				pr_err("cannot truncate %s: %m", name);
		}
	}
	seg->size = off;
	ret = 0;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return ret;
}

static int replay_node(struct wal *w, const char *name, wal_replay_fn fn,
		       void *arg)
{
	struct wal_node *wn = wal_node(w, name);
	struct dirent *de;
	DIR *d;
	int fd;

	if (!wn)
		return -1;
	fd = dup(wn->dirfd);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((de = readdir(d))) {
		uint64_t first;
		char tail[8];

		if (sscanf(de->d_name, "%20" SCNu64 "%7s", &first, tail) != 2 ||
		    strcmp(tail, ".wal"))
			continue;
		if (!seg_add(wn, first)) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	qsort(wn->segs, wn->n_segs, sizeof(*wn->segs), cmp_seg);
	for (size_t i = 0; i < wn->n_segs; i++)
		if (replay_seg(wn, &wn->segs[i], i + 1 == wn->n_segs, fn, arg))
			return -1;
	wn->durable_seq = wn->written_seq;
	/* appends go to a fresh segment, so a replayed one is never reopened */
	return 0;
}

int wal_replay(struct wal *w, wal_replay_fn fn, void *arg)
{
	struct dirent *de;
	int fd = dup(w->dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	int ret = 0;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (!ret && (de = readdir(d))) {
		if (de->d_name[0] == '.' || de->d_type != DT_DIR)
			continue;
		ret = replay_node(w, de->d_name, fn, arg);
	}
	closedir(d);
	return ret;
}

int wal_put_file(struct wal *w, const char *name, const void *buf, size_t len)
{
	char tmp[256];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	fd = openat(w->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0600);
	if (fd < 0)
		goto fail;
	if (write(fd, buf, len) != (ssize_t)len || fdatasync(fd)) {
		if (!errno)
			errno = EIO;
		close(fd);
		goto fail;
	}
	close(fd);
	if (renameat(w->dirfd, tmp, w->dirfd, name) || fsync(w->dirfd))
		goto fail;
	return 0;
fail:
	pr_err("cannot write %s/%s: %m", w->dir, name);
	return -1;
}

char *wal_get_file(struct wal *w, const char *name, size_t *len)
{
	struct stat st;
	char *buf;
	int fd = openat(w->dirfd, name, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) || !(buf = malloc((size_t)st.st_size + 1))) {
		close(fd);
		return NULL;
	}
	if (read(fd, buf, (size_t)st.st_size) != st.st_size) {
		free(buf);
		close(fd);
		errno = EIO;
		return NULL;
	}
	close(fd);
	buf[st.st_size] = 0;
	if (len)
		*len = (size_t)st.st_size;
	return buf;
}
