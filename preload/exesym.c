/* SPDX-License-Identifier: MIT
 * exesym.c: symbol lookup in the executable's .symtab/.dynsym (exesym.h).
 * locks: none. STW: no. allocates: libelf's own (inside the shim, so
 * untracked). */
#define _GNU_SOURCE
#include "exesym.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <link.h>
#include <string.h>
#include <unistd.h>

static int exe_bias_cb(struct dl_phdr_info *info, size_t size, void *ctx)
{
    (void)size;
    *(uintptr_t *)ctx = info->dlpi_addr;
    return 1; /* the first object is the executable */
}

static void *search(Elf *elf, const char *name, uintptr_t bias)
{
    Elf_Scn *scn = NULL;
    while ((scn = elf_nextscn(elf, scn))) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM) ||
            !sh.sh_entsize)
            continue;
        Elf_Data *data = elf_getdata(scn, NULL);
        size_t n = data ? sh.sh_size / sh.sh_entsize : 0;
        for (size_t i = 0; i < n; i++) {
            GElf_Sym sym;
            if (!gelf_getsym(data, (int)i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
                sym.st_shndx == SHN_UNDEF)
                continue;
            const char *s = elf_strptr(elf, sh.sh_link, sym.st_name);
            if (s && !strcmp(s, name))
                return (void *)(bias + sym.st_value);
        }
    }
    return NULL;
}

void *exesym_lookup(const char *name)
{
    if (elf_version(EV_CURRENT) == EV_NONE)
        return NULL;
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    void *addr = NULL;
    Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
    if (elf) {
        uintptr_t bias = 0;
        dl_iterate_phdr(exe_bias_cb, &bias);
        addr = search(elf, name, bias);
        elf_end(elf);
    }
    close(fd);
    return addr;
}
