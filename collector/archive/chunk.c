// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * chunk.c - chunk directories of an archive: start one (metadata of every
 * node and event class known so far, so each chunk is a trace on its own),
 * end one, keep the retention limits, and repair what a crash left behind.
 *
 * Repair relies on how writer.c writes: metadata blocks end with
 * CTF_META_COMMIT and packets are written whole, so a torn tail is whatever
 * follows the last commit line or the last packet that fits in its file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_SUBSYS "archive"
#include "log.h"
#include "tsdl.h"
#include "writer_private.h"

int ar_write_all(int fd, const void *p, size_t len)
{
	const uint8_t *c = p;

	while (len) {
		ssize_t n = write(fd, c, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Write ar->meta (whole blocks) to the chunk's metadata file. */
int ar_meta_append(struct archive *ar)
{
	int ret = 0;

	if (ar->meta.len &&
	    ar_write_all(ar->meta_fd, ar->meta.data, ar->meta.len)) {
		pr_err("chunk-%08u/metadata: %m; check the disk", ar->chunk);
		ret = -1;
	}
	ar->chunk_bytes += ar->meta.len;
	ar->st.bytes += ar->meta.len;
	ar->meta.len = 0;
	return ret;
}

static void stream_reset(struct ar_stream *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->len = 0;
	s->pkt_seq = 0;
	s->written = 0;
}

int ar_chunk_end(struct archive *ar, bool sync)
{
	int ret = 0;
	size_t i;

	if (ar->chunk_fd < 0)
		return 0;
	if (ar_flush_all(ar))
		ret = -1;
	if (sync) {
		if (ar->netrv.fd >= 0 && fsync(ar->netrv.fd))
			ret = -1;
		for (i = 0; i < ar->n_nodes; i++) {
			if (ar->nodes[i] && ar->nodes[i]->s.fd >= 0 &&
			    fsync(ar->nodes[i]->s.fd))
				ret = -1;
		}
		if (fsync(ar->meta_fd) || fsync(ar->chunk_fd))
			ret = -1;
	}
	stream_reset(&ar->netrv);
	for (i = 0; i < ar->n_nodes; i++) {
		if (ar->nodes[i]) {
			stream_reset(&ar->nodes[i]->s);
			ar->nodes[i]->have_clock = false;
		}
	}
	close(ar->meta_fd);
	close(ar->chunk_fd);
	ar->meta_fd = -1;
	ar->chunk_fd = -1;
	return ret;
}

int ar_chunk_begin(struct archive *ar)
{
	char name[32];
	size_t i, j;

	ar->chunk++;
	snprintf(name, sizeof(name), "chunk-%08u", ar->chunk);
	if (mkdirat(ar->dirfd, name, 0755) && errno != EEXIST) {
		pr_err("%s/%s: %m", ar->dir, name);
		return -1;
	}
	ar->chunk_fd =
		openat(ar->dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ar->chunk_fd < 0) {
		pr_err("%s/%s: %m", ar->dir, name);
		return -1;
	}
	ar->meta_fd = openat(
		ar->chunk_fd, "metadata",
		O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	if (ar->meta_fd < 0) {
		pr_err("%s/%s/metadata: %m", ar->dir, name);
		close(ar->chunk_fd);
		ar->chunk_fd = -1;
		return -1;
	}
	if (getrandom(ar->uuid, sizeof(ar->uuid), 0) != sizeof(ar->uuid))
		memset(ar->uuid, (int)ar->chunk, sizeof(ar->uuid));
	ar->uuid[6] = (ar->uuid[6] & 0x0f) | 0x40; /* RFC 4122 version 4 */
	ar->uuid[8] = (ar->uuid[8] & 0x3f) | 0x80;
	ar->chunk_bytes = 0;
	ar->chunk_has_records = false;
	ar->st.chunk = ar->chunk;

	if (tsdl_preamble(&ar->meta, ar->uuid, ar->chunk))
		goto nomem;
	for (i = 0; i < ar->n_nodes; i++) {
		struct ar_node *n = ar->nodes[i];

		if (!n)
			continue;
		if (tsdl_node(&ar->meta, n->index, n->name))
			goto nomem;
		for (j = 0; j < n->n_classes; j++) {
			struct ar_class *c = n->classes[j];
			Netrv__EventType *t = netrv__event_type__unpack(
				NULL, c->packed_len, c->packed);

			if (!t)
				goto nomem;
			if (tsdl_type(&ar->meta, n->index, c->id, t, c->packed,
				      c->packed_len)) {
				netrv__event_type__free_unpacked(t, NULL);
				goto nomem;
			}
			netrv__event_type__free_unpacked(t, NULL);
		}
	}
	if (ar_meta_append(ar))
		return -1;
	ar_retention(ar);
	return 0;
nomem:
	ar->meta.len = 0;
	errno = ENOMEM;
	pr_err("chunk-%08u: out of memory writing metadata", ar->chunk);
	return -1;
}

/* Chunk numbers present in the archive directory, sorted; caller frees. */
static unsigned int *list_chunks(int dirfd, size_t *n)
{
	unsigned int *v = NULL, *nv, num;
	size_t cap = 0;
	struct dirent *de;
	DIR *d;
	int fd;

	*n = 0;
	fd = dup(dirfd);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		char end;

		if (sscanf(de->d_name, "chunk-%u%c", &num, &end) != 1)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv)
				break;
			v = nv;
		}
		v[(*n)++] = num;
	}
	closedir(d);
	for (size_t i = 1; i < *n; i++) { /* insertion sort: few chunks */
		unsigned int x = v[i];
		size_t j = i;

		for (; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
	return v;
}

/* Size of a chunk directory's files, and optionally remove them all. */
static uint64_t chunk_walk(int dirfd, unsigned int num, bool remove)
{
	char name[32];
	struct dirent *de;
	uint64_t total = 0;
	struct stat st;
	DIR *d;
	int fd;

	snprintf(name, sizeof(name), "chunk-%08u", num);
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (!fstatat(fd, de->d_name, &st, 0))
			total += (uint64_t)st.st_size;
		if (remove && unlinkat(fd, de->d_name, 0))
			pr_warning("%s/%s: cannot remove: %m", name,
				   de->d_name);
	}
	closedir(d);
	if (remove && unlinkat(dirfd, name, AT_REMOVEDIR))
		pr_warning("%s: cannot remove: %m", name);
	return total;
}

void ar_retention(struct archive *ar)
{
	uint64_t total = 0, *size;
	unsigned int *v;
	size_t n, i, first = 0;

	if (!ar->o.max_chunks && !ar->o.max_bytes)
		return;
	v = list_chunks(ar->dirfd, &n);
	if (!v)
		return;
	size = calloc(n ? n : 1, sizeof(*size));
	if (!size) {
		free(v);
		return;
	}
	for (i = 0; i < n; i++) {
		size[i] = chunk_walk(ar->dirfd, v[i], false);
		total += size[i];
	}
	/* Never the chunk being written, which is the newest. */
	while (first + 1 < n &&
	       ((ar->o.max_chunks && n - first > ar->o.max_chunks) ||
		(ar->o.max_bytes && total > ar->o.max_bytes))) {
		pr_info("retention: removing chunk-%08u (%llu bytes)", v[first],
			(unsigned long long)size[first]);
		chunk_walk(ar->dirfd, v[first], true);
		total -= size[first];
		first++;
	}
	free(size);
	free(v);
}

/* Cut a metadata file after its last complete block. */
static int repair_metadata(int cfd, const char *chunk)
{
	static const char commit[] = CTF_META_COMMIT;
	size_t clen = sizeof(commit) - 1;
	struct stat st;
	char *text = NULL;
	off_t keep = 0;
	ssize_t n;
	int fd, ret = 0;

	fd = openat(cfd, "metadata", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) || !(text = malloc((size_t)st.st_size + 1)))
		goto fail;
	n = pread(fd, text, (size_t)st.st_size, 0);
	if (n != st.st_size)
		goto fail;
	for (off_t i = st.st_size - (off_t)clen; i >= 0; i--) {
		if (!memcmp(text + i, commit, clen)) {
			keep = i + (off_t)clen;
			break;
		}
	}
	if (keep != st.st_size) {
		pr_warning("%s/metadata: cutting %lld bytes of an unfinished "
			   "block (crash while writing)",
			   chunk, (long long)(st.st_size - keep));
		if (ftruncate(fd, keep))
			goto fail;
	}
out:
	free(text);
	close(fd);
	return ret;
fail:
	pr_err("%s/metadata: cannot repair: %m", chunk);
	ret = -1;
	goto out;
}

/* Cut a stream file after its last whole packet. */
static int repair_stream(int cfd, const char *chunk, const char *file)
{
	uint8_t hdr[CTF_PKT_HDR];
	struct stat st;
	off_t off = 0;
	int fd, ret = 0;

	fd = openat(cfd, file, O_RDWR | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		pr_err("%s/%s: cannot repair: %m", chunk, file);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (off < st.st_size) {
		uint64_t size;

		if (pread(fd, hdr, sizeof(hdr), off) != (ssize_t)sizeof(hdr))
			break;
		size = ctf_get64(hdr + CTF_PKT_HEADER + 24) / 8;
		if (ctf_get32(hdr) != CTF_MAGIC || size < CTF_PKT_HDR ||
		    size > (uint64_t)(st.st_size - off))
			break;
		off += (off_t)size;
	}
	if (off != st.st_size) {
		pr_warning("%s/%s: cutting %lld bytes of a torn packet at "
			   "offset %lld (crash while writing)",
			   chunk, file, (long long)(st.st_size - off),
			   (long long)off);
		if (ftruncate(fd, off)) {
			pr_err("%s/%s: cannot truncate: %m", chunk, file);
			ret = -1;
		}
	}
	close(fd);
	return ret;
}

int ar_repair_all(int dirfd, unsigned int *last)
{
	unsigned int *v;
	size_t n, i;
	int ret = 0;

	*last = 0;
	v = list_chunks(dirfd, &n);
	for (i = 0; i < n; i++) {
		char name[32];
		struct dirent *de;
		DIR *d;
		int cfd, fd;

		snprintf(name, sizeof(name), "chunk-%08u", v[i]);
		*last = v[i];
		cfd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (cfd < 0)
			continue;
		if (repair_metadata(cfd, name))
			ret = -1;
		fd = dup(cfd);
		d = fd >= 0 ? fdopendir(fd) : NULL;
		while (d && (de = readdir(d))) {
			if (de->d_name[0] == '.' ||
			    !strcmp(de->d_name, "metadata") ||
			    de->d_type != DT_REG)
				continue;
			if (repair_stream(cfd, name, de->d_name))
				ret = -1;
		}
		if (d)
			closedir(d);
		else if (fd >= 0)
			close(fd);
		close(cfd);
	}
	free(v);
	return ret;
}

int archive_repair(const char *dir)
{
	unsigned int last;
	int dirfd, ret;

	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		pr_err("%s: cannot open the archive: %m", dir);
		return -1;
	}
	ret = ar_repair_all(dirfd, &last);
	close(dirfd);
	return ret;
}
