// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * uprobe.c - user-space probes declared in the config.
 *
 * "[uprobe NAME]" names a binary, a symbol (or a file offset) and
 * kprobe-style fetch arguments; the probe becomes the dynamic event
 * SYSTEM:NAME (dynevent API), enabled in the agent's instance like any
 * tracepoint and removed when the agent exits.  A probe left by an agent
 * that was killed is replaced.  The kernel wants the file offset of the
 * instruction, so symbols are looked up in the ELF file here.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <tracefs/tracefs.h>
#include <unistd.h>

#define LOG_SUBSYS "uprobe"
#include "agent.h"
#include "log.h"

static long vaddr_to_offset(const uint8_t *m, size_t size, uint64_t vaddr)
{
	const Elf64_Ehdr *eh = (const void *)m;

	for (int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph;
		size_t at = eh->e_phoff + (size_t)i * eh->e_phentsize;

		if (at + sizeof(*ph) > size)
			return -1;
		ph = (const void *)(m + at);
		if (ph->p_type == PT_LOAD && vaddr >= ph->p_vaddr &&
		    vaddr < ph->p_vaddr + ph->p_memsz)
			return (long)(vaddr - ph->p_vaddr + ph->p_offset);
	}
	return -1;
}

static long lookup(const uint8_t *m, size_t size, const char *symbol)
{
	const Elf64_Ehdr *eh = (const void *)m;

	if (size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_shoff + (size_t)eh->e_shnum * sizeof(Elf64_Shdr) > size)
		return -1;
	for (int i = 0; i < eh->e_shnum; i++) {
		const Elf64_Shdr *sh =
			(const void *)(m + eh->e_shoff) + i * eh->e_shentsize;
		const Elf64_Shdr *str;

		if (sh->sh_type != SHT_SYMTAB && sh->sh_type != SHT_DYNSYM)
			continue;
		if (sh->sh_link >= eh->e_shnum ||
		    sh->sh_offset + sh->sh_size > size)
			continue;
		str = (const void *)(m + eh->e_shoff) +
		      sh->sh_link * eh->e_shentsize;
		for (size_t k = 0; k < sh->sh_size / sizeof(Elf64_Sym); k++) {
			const Elf64_Sym *sym =
				(const void *)(m + sh->sh_offset) +
				k * sizeof(Elf64_Sym);

			if (sym->st_name >= str->sh_size ||
			    str->sh_offset + str->sh_size > size ||
			    ELF64_ST_TYPE(sym->st_info) != STT_FUNC ||
			    !sym->st_value)
				continue;
			if (!strncmp((const char *)m + str->sh_offset +
					     sym->st_name,
				     symbol, str->sh_size - sym->st_name) &&
			    !((const char *)m)[str->sh_offset + sym->st_name +
					       strlen(symbol)])
				return vaddr_to_offset(m, size, sym->st_value);
		}
	}
	return -1;
}

long uprobe_file_offset(const char *path, const char *symbol)
{
	struct stat st;
	void *m;
	long off;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || st.st_size == 0) {
		close(fd);
		return -1;
	}
	m = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return -1;
	off = lookup(m, st.st_size, symbol);
	munmap(m, st.st_size);
	if (off < 0)
		errno = ENOENT;
	return off;
}

/* Is SYS/NAME a dynamic event now?  (dynamic_events lines: "p:SYS/NAME ...") */
static bool probe_exists(const char *sys, const char *name)
{
	char *buf = tracefs_instance_file_read(NULL, "dynamic_events", NULL);
	size_t ls = strlen(sys), ln = strlen(name);
	bool found = false;

	for (char *l = buf; l && *l && !found;) {
		char *c = strchr(l, ':'), *nl = strchr(l, '\n');

		if (c && (!nl || c < nl) && !strncmp(c + 1, sys, ls) &&
		    c[1 + ls] == '/' && !strncmp(c + 2 + ls, name, ln) &&
		    (c[2 + ls + ln] == ' ' || c[2 + ls + ln] == '\n' ||
		     !c[2 + ls + ln]))
			found = true;
		l = nl ? nl + 1 : NULL;
	}
	free(buf);
	return found;
}

/*
 * Remove the probe SYS/NAME if it exists, disabling it in every instance
 * first.  Not with tracefs_dynevent_get(): libtracefs 1.6.4 reads past the
 * end of its event list there once the system holds a probe, which ended
 * in "double free or corruption" on the agent's second uprobe.  A dynevent
 * of our own making with the same system and name is enough to destroy it.
 */
static void destroy_one(const char *sys, const char *name)
{
	struct tracefs_dynevent *d;

	if (!probe_exists(sys, name))
		return;
	d = tracefs_uprobe_alloc(sys, name, "/", 0, NULL);
	if (!d || tracefs_dynevent_destroy(d, true))
		pr_warning("cannot remove uprobe %s:%s: %m", sys, name);
	tracefs_dynevent_free(d);
}

void uprobe_destroy_all(const struct config *cfg)
{
	const struct config_section *sec;

	for (unsigned int i = 0; (sec = config_section(cfg, "uprobe", i)); i++)
		destroy_one(config_get_string(sec, "system"),
			    config_section_name(sec));
}

int uprobe_create_all(const struct config *cfg, char ***events)
{
	const struct config_section *sec;
	int n = 0;

	*events = NULL;
	for (unsigned int i = 0; (sec = config_section(cfg, "uprobe", i));
	     i++) {
		const char *name = config_section_name(sec);
		const char *sys = config_get_string(sec, "system");
		const char *bin = config_get_string(sec, "binary");
		const char *sym = config_get_string(sec, "symbol");
		const char *args = config_get_string(sec, "fetchargs");
		long off = (long)config_get_int(sec, "offset");
		struct tracefs_dynevent *d;
		char **nv, *ev;

		if (!bin || bin[0] != '/') {
			pr_err("[uprobe %s] needs an absolute 'binary'", name);
			goto fail;
		}
		if (sym) {
			long so = uprobe_file_offset(bin, sym);

			if (so < 0) {
				pr_err("[uprobe %s] no function %s in %s: %m",
				       name, sym, bin);
				goto fail;
			}
			off += so;
		} else if (!off) {
			pr_err("[uprobe %s] needs 'symbol' or 'offset'", name);
			goto fail;
		}
		destroy_one(sys, name);
		d = tracefs_uprobe_alloc(sys, name, bin, off,
					 args && *args ? args : NULL);
		if (!d || tracefs_dynevent_create(d)) {
			pr_err("[uprobe %s] cannot create %s:%s at %s+0x%lx (%s): %m",
			       name, sys, name, bin, off, args ? args : "");
			tracefs_dynevent_free(d);
			goto fail;
		}
		tracefs_dynevent_free(d);
		nv = realloc(*events, (n + 1) * sizeof(*nv));
		if (!nv || asprintf(&ev, "%s:%s", sys, name) < 0) {
			free(nv ? nv : *events);
			*events = NULL;
			goto fail;
		}
		*events = nv;
		nv[n++] = ev;
		pr_info("uprobe %s:%s at %s+0x%lx", sys, name, bin, off);
	}
	return n;
fail:
	for (int i = 0; i < n; i++)
		free((*events)[i]);
	free(*events);
	*events = NULL;
	uprobe_destroy_all(cfg);
	return -1;
}
